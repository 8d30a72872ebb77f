"""Two threads against one: synchronous mini-batch SGD and Hogwild, epoch by epoch in the same run.

Group "threads": each benchmark times the 2-thread epoch; its setup, which pytest-benchmark does
not time, runs and times the 1-thread epoch just before every round, so the two alternate and
share the machine's state. extra_info["serial_s"] holds the 1-thread times; bench/report.py
turns the pair into the speed-up. For synchronous mode the setup also times two independent
epochs of the same shape at once (extra_info["pair_s"]): what the two cores deliver on that very
work in the same rounds, the ceiling the speed-up is judged against. hogwild_accuracy() measures
what Hogwild costs in accuracy.
"""
import time

import numpy as np
import pytest

import fastnn
import roofline
from conftest import N_EXAMPLES
from fastnn.checks import usable_cores
from fastnn.threads import blas_splits, run_threads

CASES = [([784, 30, 10], 20, False), ([784, 30, 10], 100, False), ([784, 30, 10], 1000, False),
         ([784, 100, 10], 20, False), ([784, 30, 30, 30, 30, 10], 20, False),
         # the wide layers, where the issue asks two threads for 1.6x at batch >= 100
         ([784, 300, 10], 100, False), ([784, 300, 10], 1000, False), ([784, 1000, 10], 100, False),
         ([784, 1000, 10], 1000, False),
         ([784, 30, 10], 1, True), ([784, 30, 10], 20, True)]
IDS = [f"{'-'.join(map(str, s))}-b{b}{'-hogwild' if h else ''}" for s, b, h in CASES]

needs_two_cores = pytest.mark.skipif(usable_cores() < 2, reason="needs 2 cores")


@needs_two_cores
@pytest.mark.parametrize("sizes,batch_size,hogwild", CASES, ids=IDS)
def test_two_threads(benchmark, epoch_data, sizes, batch_size, hogwild):
    mode = "Hogwild" if hogwild else "synchronous"
    benchmark.group = "threads"
    benchmark.extra_info.update(sizes=sizes, batch_size=batch_size, implementation=f"fastnn 2 threads, {mode}",
                                mode=mode, n_examples=N_EXAMPLES,
                                flops=roofline.flops_per_example(sizes, batch_size) * N_EXAMPLES, serial_s=[])
    net = fastnn.Network(sizes, cost="quadratic", init="large", dtype="float32", seed=0)
    X, y = epoch_data
    X, Y, _ = net.check_data(X, y)
    order = np.random.default_rng(1).permutation(len(X))
    for threads in (1, 2):  # compile / load from cache first
        net.train_epoch(X[:40], Y[:40], np.arange(40), batch_size, 3.0, threads=threads, hogwild=hogwild)
    pair = None if hogwild else [fastnn.Network(sizes, cost="quadratic", init="large", dtype="float32", seed=s)
                                 for s in (1, 2)]
    if pair:
        benchmark.extra_info["pair_s"] = []
    # Where the 2-thread epoch is the serial one with OpenBLAS on both cores, OpenBLAS's worker keeps
    # spinning for about 0.1 s after it (its THREAD_TIMEOUT, 2^28 cycles) and takes a core from
    # whatever needs two: two epochs of [784,300,10] at batch 1000 at once took 120 ms right after
    # such an epoch, 89 ms after 0.3 s of rest (medians of 12, a throwaway probe). The 1-thread epoch
    # that follows it here was not slowed (84 against 85 ms); the pair after that waits out the worker.
    rest = 0.3 if blas_splits(sizes, batch_size, len(X), X.dtype) else 0.0

    def serial_first():
        t0 = time.perf_counter()
        net.train_epoch(X, Y, order, batch_size, 3.0)
        benchmark.extra_info["serial_s"].append(time.perf_counter() - t0)
        if pair:
            time.sleep(rest)
            t0 = time.perf_counter()
            run_threads(lambda tid, sync: pair[tid].train_epoch(X, Y, order, batch_size, 3.0), 2)
            benchmark.extra_info["pair_s"].append(time.perf_counter() - t0)
    benchmark.pedantic(net.train_epoch, args=(X, Y, order, batch_size, 3.0),
                       kwargs=dict(threads=2, hogwild=hogwild), setup=serial_first, rounds=11, iterations=1)
    assert np.isfinite(net.params).all()
    assert not pair or all(np.isfinite(n.params).all() for n in pair)


@needs_two_cores
@pytest.mark.parametrize("batch_size", [1, 20])
def test_two_core_ceiling(benchmark, epoch_data, batch_size):
    """What two cores deliver right now: two independent trainings at once against one alone.

    No shared data and no synchronisation, so 2 x (one epoch alone) / (two epochs at once) is
    the most any 2-thread mode can gain on this workload; on a shared host it varies with the load.
    """
    sizes = [784, 30, 10]
    benchmark.group = "threads"
    benchmark.extra_info.update(sizes=sizes, batch_size=batch_size, mode="ceiling (2 independent epochs)",
                                implementation="two independent epochs", n_examples=2 * N_EXAMPLES,
                                flops=2 * roofline.flops_per_example(sizes, batch_size) * N_EXAMPLES, serial_s=[])
    nets = [fastnn.Network(sizes, cost="quadratic", init="large", dtype="float32", seed=s) for s in (0, 1)]
    X, y = epoch_data
    X, Y, _ = nets[0].check_data(X, y)
    order = np.random.default_rng(1).permutation(len(X))
    nets[0].train_epoch(X[:40], Y[:40], np.arange(40), batch_size, 3.0)

    def serial_first():
        t0 = time.perf_counter()
        nets[0].train_epoch(X, Y, order, batch_size, 3.0)
        benchmark.extra_info["serial_s"].append(2 * (time.perf_counter() - t0))  # two epochs, one after the other

    def both():
        run_threads(lambda tid, sync: nets[tid].train_epoch(X, Y, order, batch_size, 3.0), 2)
    benchmark.pedantic(both, setup=serial_first, rounds=11, iterations=1)
    assert all(np.isfinite(net.params).all() for net in nets)


def hogwild_accuracy(X, y, X_test, y_test, epochs, seeds, batch_size=1, eta=0.1):
    """Test accuracy and seconds per epoch after `epochs` epochs, serial against 2-thread Hogwild.

    [784, 30, 10], cross-entropy; one row per (mode, seed), the same seeds for both modes.
    """
    rows = []
    for seed in seeds:
        for mode, kw in (("serial", {}), ("Hogwild, 2 threads", dict(threads=2, hogwild=True))):
            net = fastnn.Network([784, 30, 10], seed=seed)
            h = net.fit(X, y, epochs, batch_size, eta, validation_data=(X_test, y_test), seed=seed, **kw)
            rows.append(dict(mode=mode, seed=seed, accuracy=h.validation_accuracy[-1],
                             seconds=float(np.median(h.epoch_time))))
    return rows


@needs_two_cores
def test_hogwild_accuracy_cost_runs(epoch_data):
    """Not timed: the accuracy comparison bench/report.py runs on all of Fashion-MNIST, on a slice."""
    X, y = epoch_data
    rows = hogwild_accuracy(X[:2000], y[:2000], X[4000:], y[4000:], epochs=1, seeds=[0])
    assert [r["mode"] for r in rows] == ["serial", "Hogwild, 2 threads"]
    assert all(0 <= r["accuracy"] <= 1 and r["seconds"] > 0 for r in rows)
