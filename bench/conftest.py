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


@pytest.fixture(scope="session")
def epoch_data():
    """N_EXAMPLES real Fashion-MNIST training images when $FASTNN_DATA has them, else uniform noise of that shape."""
    root = os.environ.get("FASTNN_DATA")
    folder = Path(root) / "fashion-mnist" if root else None
    if folder and (folder / "train-images-idx3-ubyte.gz").exists():
        from fastnn import load_idx
        X, y = load_idx(folder / "train-images-idx3-ubyte.gz", folder / "train-labels-idx1-ubyte.gz",
                        dtype=np.float64)
        X, y = X[:N_EXAMPLES], y[:N_EXAMPLES]
    else:
        rng = np.random.default_rng(0)
        X, y = rng.random((N_EXAMPLES, 784)), rng.integers(0, 10, N_EXAMPLES)
    return X, y
