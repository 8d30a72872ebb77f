"""How the epoch time of fastnn (float32, one thread) grows with hidden width and batch size.

Group "scaling": [784, width, 10] for width 30, 100, 300, 1000 and batch 1, 10, 100, 1000, on
N_SCALING examples; bench/report.py turns it into a table of s per 50,000 examples and GFLOP/s.
"""
import numpy as np
import pytest

import fastnn
import roofline

pytestmark = pytest.mark.one_core  # every thread on one CPU (bench/conftest.py::one_cpu)

N_SCALING = 2000
WIDTHS = [30, 100, 300, 1000]
BATCHES = [1, 10, 100, 1000]


@pytest.mark.parametrize("batch_size", BATCHES)
@pytest.mark.parametrize("width", WIDTHS)
def test_scaling(benchmark, epoch_data, width, batch_size):
    sizes = [784, width, 10]
    benchmark.group = "scaling"
    benchmark.extra_info.update(sizes=sizes, batch_size=batch_size, implementation="fastnn (float32)",
                                n_examples=N_SCALING, flops=roofline.flops_per_example(sizes, batch_size) * N_SCALING)
    net = fastnn.Network(sizes, dtype="float32", seed=0)
    X, y = epoch_data
    X, Y, _ = net.check_data(X[:N_SCALING], y[:N_SCALING])
    order = np.random.default_rng(1).permutation(len(X))
    net.train_epoch(X[:2], Y[:2], np.arange(2), batch_size, 0.1)  # compile / load from cache first
    benchmark.pedantic(net.train_epoch, args=(X, Y, order, batch_size, 0.1), rounds=3, iterations=1)
    assert np.isfinite(net.params).all()
