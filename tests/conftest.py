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


# A study small enough for a test: the protocol's settings scaled down to 400 examples.
SMALL_STUDY = dict(sizes=((12, 8, 3),), eta_grid=(0.1, 0.3, 1.0, 3.0), tune_seeds=(1000, 1001), evals_first_epoch=8,
                   evals_per_decade=4, noise_batch_size=4, noise_small=2, noise_big=50, noise_batches=8,
                   clock_seconds=0.02, clock_repeats=2, dtype="float64")


def study_config(**kw):
    """A fastnn.study.StudyConfig with SMALL_STUDY's settings, overridden by kw."""
    from fastnn.study import StudyConfig
    return StudyConfig(**{**SMALL_STUDY, **kw})


def tiny_dataset(n=500):
    """A learnable 3-class problem of n examples, 12 features, as a fastnn.datasets.Dataset: 80% training,
    20% validation. Small enough for a study in a test."""
    from fastnn.datasets import Dataset
    X, y = make_learnable(n, 12, 3, seed=3)
    k = n * 4 // 5
    return Dataset("tiny", X[:k], y[:k], X[k:], y[k:], description="tiny learnable problem")
