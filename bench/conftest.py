import os
import sys
from pathlib import Path

# One thread for every implementation, BLAS included: speed is compared per core.
# (Must be set before NumPy is imported.)
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))

N_EXAMPLES = 5000  # examples per timed epoch; README scales the times to 50,000
N_FULL = 50_000  # examples in the full-epoch benchmarks of fastnn


@pytest.fixture(scope="session")
def training_images():
    """N_FULL Fashion-MNIST training images (float64) and labels when $FASTNN_DATA has them,
    else uniform noise of that shape; decoded once per session."""
    root = os.environ.get("FASTNN_DATA")
    folder = Path(root) / "fashion-mnist" if root else None
    if folder and (folder / "train-images-idx3-ubyte.gz").exists():
        from fastnn import load_idx
        X, y = load_idx(folder / "train-images-idx3-ubyte.gz", folder / "train-labels-idx1-ubyte.gz",
                        dtype=np.float64)
        return X[:N_FULL], y[:N_FULL]
    rng = np.random.default_rng(0)
    return rng.random((N_FULL, 784)), rng.integers(0, 10, N_FULL)


@pytest.fixture(scope="session")
def epoch_data(training_images):
    """The first N_EXAMPLES examples, for the comparison with the peers: a tenth of an epoch each round."""
    X, y = training_images
    return X[:N_EXAMPLES], y[:N_EXAMPLES]


@pytest.fixture(scope="session")
def full_data(training_images):
    """All N_FULL examples (fastnn converts them to its dtype once): the 157 MB of float32 that a real
    epoch reads, more than the last-level cache holds, where N_EXAMPLES' 16 MB fit in it."""
    return training_images
