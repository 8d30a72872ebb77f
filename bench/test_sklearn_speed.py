"""fastnn.sklearn.MLPClassifier against scikit-learn's MLPClassifier(solver="sgd"), same work, same epochs.

Groups "sklearn batch <B>" for B = 1, 20, 200: both fit [784, 100, 10] (relu, softmax output,
Nesterov momentum 0.9, alpha 1e-4, learning rate 0.01, shuffled) for EPOCHS epochs on the 10,000
MNIST test digits in float32 (scikit-learn computes in X's dtype), each from a fresh clone.
Both add up their loss_curve_ during the epoch (fastnn's epochs return it; no extra pass).

    python bench/sklearn_speed.py --out bench/SKLEARN.md   # pytest-benchmark, then the table of ratios

Under --benchmark-disable (CI's smoke test) each fit runs once on 500 digits. Without scikit-learn
or the MNIST files the tests skip with the reason.
"""
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="needs scikit-learn (pip install 'fastnn[sklearn]')")
from sklearn.base import clone  # noqa: E402
from sklearn.neural_network import MLPClassifier as SklearnMLP  # noqa: E402

import fastnn  # noqa: E402
from fastnn.sklearn import MLPClassifier  # noqa: E402

EPOCHS = 2
BATCHES = [1, 20, 200]
ROUNDS = 5
# The same hyper-parameters for both; tol=0 and n_iter_no_change=EPOCHS make both run every epoch.
PARAMS = dict(hidden_layer_sizes=(100,), activation="relu", batch_size=None, learning_rate_init=0.01, momentum=0.9,
              nesterovs_momentum=True, alpha=1e-4, max_iter=EPOCHS, tol=0.0, n_iter_no_change=EPOCHS, shuffle=True,
              random_state=0)
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
IMPLEMENTATIONS = {"fastnn.sklearn.MLPClassifier": lambda **p: MLPClassifier(**p),
                   "sklearn MLPClassifier(solver='sgd')": lambda **p: SklearnMLP(solver="sgd", **p)}


@pytest.fixture(scope="module")
def digits():
    """The 10,000 MNIST test digits in float32, or skip."""
    folder = Path(os.environ.get("FASTNN_DATA", "")) / "mnist"
    images, labels = folder / "t10k-images-idx3-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz"
    if not (os.environ.get("FASTNN_DATA") and images.exists() and labels.exists()):
        pytest.skip("needs $FASTNN_DATA/mnist/t10k-*-ubyte.gz")
    return fastnn.load_idx(images, labels)


@pytest.mark.parametrize("implementation", list(IMPLEMENTATIONS))
@pytest.mark.parametrize("batch_size", BATCHES)
def test_fit(benchmark, digits, batch_size, implementation):
    X, y = digits
    if benchmark.disabled:  # the smoke test: one quick fit
        X, y = X[:500], y[:500]
    estimator = IMPLEMENTATIONS[implementation](**dict(PARAMS, batch_size=batch_size))
    benchmark.group = f"sklearn batch {batch_size}"
    benchmark.extra_info.update(implementation=implementation, batch_size=batch_size, epochs=EPOCHS,
                                n_examples=len(X), sizes=[784, 100, 10])
    clone(estimator).fit(X[:200], y[:200])  # fastnn: load the kernels from the cache (or compile) before timing
    fitted = benchmark.pedantic(lambda: clone(estimator).fit(X, y), rounds=1 if benchmark.disabled else ROUNDS,
                                iterations=1)
    assert fitted.n_iter_ == EPOCHS
    assert np.isfinite(fitted.loss_curve_).all()
