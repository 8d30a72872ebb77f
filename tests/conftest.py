import os
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def mnist_test_set():
    """The official MNIST test set (10,000 digits) from $FASTNN_DATA/mnist, or skip."""
    root = os.environ.get("FASTNN_DATA")
    if not root:
        pytest.skip("FASTNN_DATA is not set (point it at a folder with mnist/t10k-*-ubyte.gz)")
    folder = Path(root) / "mnist"
    images, labels = folder / "t10k-images-idx3-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz"
    if not (images.exists() and labels.exists()):
        pytest.skip(f"MNIST test-set files not found in {folder}")
    from fastnn import load_idx
    return load_idx(images, labels, dtype=np.float64)


def make_data(n, n_in, n_out, seed=0):
    """A small random classification problem: X in [0, 1), integer labels."""
    rng = np.random.default_rng(seed)
    return rng.random((n, n_in)), rng.integers(0, n_out, n)


def make_learnable(n, n_in, n_out, seed=0):
    """X in [0, 1) and labels given by a fixed random linear map of X: a problem a net can learn."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, n_in))
    return X, np.argmax((X - 0.5) @ rng.standard_normal((n_in, n_out)), axis=1)


def same_digits(v):
    """Floats to 13 significant digits, checksums exactly. Costs are float64 sums over work buffers
    that the kernels allocate, and were seen to differ in the last bit between processes
    (1.694059229518008 against 1.6940592295180072) with the same weights."""
    return float(f"{v:.13g}") if isinstance(v, float) else v
