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


def training_images(n, dtype):
    """The first n Fashion-MNIST training images (dtype) and labels when $FASTNN_DATA has them,
    else uniform noise of that shape."""
    root = os.environ.get("FASTNN_DATA")
    folder = Path(root) / "fashion-mnist" if root else None
    if folder and (folder / "train-images-idx3-ubyte.gz").exists():
        from fastnn import load_idx
        X, y = load_idx(folder / "train-images-idx3-ubyte.gz", folder / "train-labels-idx1-ubyte.gz", dtype=dtype)
        return X[:n], y[:n]
    rng = np.random.default_rng(0)
    return rng.random((n, 784)).astype(dtype), rng.integers(0, 10, n)


@pytest.fixture(scope="session")
def epoch_data():
    """N_EXAMPLES examples (float64) for the comparison with the peers: a tenth of an epoch each round."""
    return training_images(N_EXAMPLES, np.float64)


@pytest.fixture(scope="session")
def full_data():
    """N_FULL examples (float32; fastnn converts them once per dtype): the 157 MB that a real epoch reads,
    more than the last-level cache holds, where N_EXAMPLES' 16 MB fit in it."""
    return training_images(N_FULL, np.float32)
