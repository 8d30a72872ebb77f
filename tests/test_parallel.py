"""Threads: synchronous mini-batch SGD against the serial kernel, Hogwild, the barrier, and the checks."""
import os
import subprocess
import sys
import threading
from functools import partial

import numpy as np
import pytest
from numba import njit

import fastnn
from fastnn.blas import blas_threads as fastnn_blas_threads, current_blas_threads
from fastnn.blas import may_use_blas as fastnn_may_use_blas
from fastnn.checks import usable_cores
from fastnn.kernels import gemm, layout, parallel
from fastnn.threads import blas_splits, first_layer_in_blas, run_threads

from conftest import make_data, make_learnable

two_cores = pytest.mark.skipif(usable_cores() < 2, reason="needs 2 cores: the threads wait for each other by spinning")


def epochs(sizes, X, y, batch_size, threads, dtype="float64", activation="sigmoid", cost="cross_entropy",
           eta=0.5, lmbda=0.0, momentum=0.0, nesterov=False, n_epochs=2):
    """params after n_epochs of train_epoch with that many threads (threads=1 runs the serial kernel),
    and the epochs' losses."""
    net = fastnn.Network(sizes, activation=activation, cost=cost, dtype=dtype, seed=3)
    d = net.check_data(X, y)
    optimizer = fastnn.Optimizer(eta, lmbda, momentum, nesterov)
    rng = np.random.default_rng(4)
    losses = [net.train_epoch(d.X, d.Y, rng.permutation(len(X)), batch_size, optimizer, threads=threads)
              for _ in range(n_epochs)]
    return net.params, np.array(losses)


PARITY = [  # sizes, batch size, activation, cost, lmbda, momentum, nesterov
    ([784, 30, 10], 20, "sigmoid", "quadratic", 0.0, 0.0, False),
    ([784, 30, 10], 100, "sigmoid", "cross_entropy", 5.0, 0.0, False),
    ([50, 7, 5, 3], 7, "tanh", "log_likelihood", 2.0, 0.5, False),  # odd widths, softmax output, momentum
    ([20, 31, 9], 1000, "relu", "cross_entropy", 0.0, 0.0, False),  # one batch larger than the data
    ([20, 3, 9], 10, "sigmoid", "quadratic", 1.0, 0.9, False),
    ([20, 17, 9], 10, "sigmoid", "quadratic", 1.0, 0.9, True),  # Nesterov
    ([13, 1, 4], 6, "sigmoid", "cross_entropy", 0.0, 0.0, False),  # one hidden neuron: one thread owns none
    ([30, 40, 40, 40, 10], 33, "sigmoid", "cross_entropy", 0.0, 0.3, False),  # deep; the last batch is partial
    ([40, 500, 5], 30, "sigmoid", "quadratic", 0.0, 0.0, False),  # forward claims of 48 neurons, the last of 20
    ([20, 9, 4], 2, "sigmoid", "quadratic", 0.0, 0.0, False),  # a last batch of one example: one thread has no rows
    ([60, 12, 5], parallel.PRIVATE_ROWS, "sigmoid", "cross_entropy", 0.0, 0.5, False),  # each its own copy
    ([60, 12, 5], parallel.PRIVATE_ROWS + 1, "sigmoid", "cross_entropy", 0.0, 0.5, False),  # shares of Xs
]


@two_cores
@pytest.mark.parametrize("sizes,batch_size,activation,cost,lmbda,momentum,nesterov", PARITY)
def test_two_threads_compute_what_one_thread_computes(sizes, batch_size, activation, cost, lmbda, momentum,
                                                      nesterov):
    X, y = make_data(503, sizes[0], sizes[-1])
    kw = dict(activation=activation, cost=cost, lmbda=lmbda, momentum=momentum, nesterov=nesterov)
    serial, serial_loss = epochs(sizes, X, y, batch_size, 1, **kw)
    threaded, threaded_loss = epochs(sizes, X, y, batch_size, 2, **kw)
    np.testing.assert_allclose(threaded, serial, rtol=0, atol=1e-12)
    np.testing.assert_allclose(threaded_loss, serial_loss, rtol=1e-12, atol=0)  # the loss each epoch adds up
    assert not np.array_equal(serial, epochs(sizes, X, y, batch_size, 1, **{**kw, "n_epochs": 1})[0])  # it trained


@two_cores
@pytest.mark.parametrize("sizes,batch_size,blas_threads", [
    ([80, 264, 5], 40, False),  # the update goes to BLAS in one thread, and a half per thread in two
    ([80, 260, 5], 200, False),  # both products go to BLAS in one thread, and a half per thread in two
    ([80, 260, 5], 520, True),  # both first-layer products go to BLAS: the serial kernel, BLAS on two threads
])
def test_two_threads_compute_what_one_thread_computes_through_blas(sizes, batch_size, blas_threads):
    assert blas_splits(sizes, batch_size, 1100, "float64") == blas_threads
    assert gemm.add_outer_takes_blas(batch_size, sizes[1] // 2, sizes[0], 8)  # kernels.parallel's halves
    if batch_size == 200:  # the forward product's halves too (on either CPU: BLAS from 200 examples on AVX2)
        assert gemm.linear_takes_blas(batch_size, sizes[1] // 2, sizes[0], 8)
        assert parallel.forward_chunk(sizes[1], batch_size, 2, sizes[0], 8) == sizes[1] // 2
    X, y = make_data(1030, sizes[0], sizes[-1])  # a last batch of 30 at batch 200: its halves on the loops
    serial, serial_loss = epochs(sizes, X, y, batch_size, 1, cost="quadratic", momentum=0.5)
    threaded, threaded_loss = epochs(sizes, X, y, batch_size, 2, cost="quadratic", momentum=0.5)
    np.testing.assert_allclose(threaded, serial, rtol=0, atol=1e-12)
    np.testing.assert_allclose(threaded_loss, serial_loss, rtol=1e-12, atol=0)


@two_cores
def test_two_threads_on_blas_compute_what_one_thread_computes_on_zen4s_loops_and_tiles():
    # float32, 600 inputs into 70 neurons at batch 520: two threads hand the epoch to BLAS on both cores; one
    # thread keeps the first layer's products on the loops and tiles on Zen 4 and Zen 1
    # (gemm.Routes.own_large_alone), in BLAS elsewhere. The same epochs up to float32 round-off.
    sizes = [600, 70, 5]
    assert blas_splits(sizes, 520, 1100, "float32")
    assert gemm.linear_takes_blas(520, 70, 600, 4) == (not gemm.ROUTES.own_large_alone)
    X, y = make_data(1100, sizes[0], sizes[-1])
    serial, serial_loss = epochs(sizes, X, y, 520, 1, dtype="float32", cost="quadratic", momentum=0.5)
    threaded, threaded_loss = epochs(sizes, X, y, 520, 2, dtype="float32", cost="quadratic", momentum=0.5)
    np.testing.assert_allclose(threaded, serial, rtol=0, atol=2e-6)
    np.testing.assert_allclose(threaded_loss, serial_loss, rtol=1e-5, atol=0)
    assert not np.array_equal(serial, epochs(sizes, X, y, 520, 1, dtype="float32", cost="quadratic",
                                             momentum=0.5, n_epochs=1)[0])  # it trained


@two_cores
def test_two_threads_compute_what_one_thread_computes_through_the_tiles_forward():
    # above the first layer each thread runs the forward products itself on its half of the batch: into 30
    # neurons, 520 rows each at batch 1040, they take the tiles over transposed weights on an AVX-512 CPU,
    # each thread with the scratch of its own buffers
    sizes = [20, 40, 30, 5]
    assert gemm.linear_takes_tiles(1040 // 2, 30) == gemm.host_has_avx512()
    assert not blas_splits(sizes, 1040, 2200, "float64")
    X, y = make_data(2200, sizes[0], sizes[-1])
    serial, serial_loss = epochs(sizes, X, y, 1040, 1, cost="quadratic", momentum=0.5)
    threaded, threaded_loss = epochs(sizes, X, y, 1040, 2, cost="quadratic", momentum=0.5)
    np.testing.assert_allclose(threaded, serial, rtol=0, atol=1e-12)
    np.testing.assert_allclose(threaded_loss, serial_loss, rtol=1e-12, atol=0)


def test_import_leaves_scipy_linalg_for_later_and_small_batches_skip_the_blas_limit():
    # import fastnn does not import scipy.linalg (0.45 s here): the kernels call the OpenBLAS that
    # kernels.gemm loads itself (scipy-openblas32). A fresh process, so nothing imported it.
    code = "import sys, fastnn\nassert 'scipy.linalg' not in sys.modules, 'import fastnn loaded scipy.linalg'\n"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
    # epochs none of whose products go to BLAS leave the BLAS setting alone. On an AVX2 machine: below 32
    # examples, or narrow layers ([784,30,10] at any batch, [784,100,10] in float32 below 100 examples,
    # where register tiles take the update), or a short data set
    on = gemm.AVX2_ROUTES
    may = partial(fastnn_may_use_blas, routes=on)
    splits = partial(blas_splits, routes=on)
    blas = partial(gemm.add_outer_takes_blas_on, on)
    assert not may([784, 1000, 10], 31, 1000, "float32") and may([784, 1000, 10], 32, 1000, "float32")
    assert not may([784, 1000, 10], 40, 31, "float32")
    assert not may([784, 30, 10], 1000, 10_000, "float32") and not may([784, 30, 10], 1000, 10_000, "float64")
    assert not may([784, 100, 10], 31, 10_000, "float64") and may([784, 100, 10], 32, 10_000, "float64")
    assert not may([784, 100, 10], 99, 10_000, "float32")  # register tiles, not BLAS (kernels.tiles)
    assert not may([784, 63, 10], 1000, 10_000, "float32") and may([784, 64, 10], 200, 10_000, "float32")
    assert may([784, 100, 10], 100, 10_000, "float32")  # the update in BLAS
    assert may([784, 30, 30, 10], 1000, 10_000, "float64") is False  # 30 rows: w^T delta stays on loops
    # only w^T delta (40 rows of W, 200 examples, 100 columns) goes to BLAS here
    assert not blas(200, 100, 50, 8) and not blas(200, 40, 100, 8)
    assert blas(40, 200, 100, 8) and may([50, 100, 40], 200, 10_000, "float64")
    assert not blas(31, 10_000, 10_000, 8) and not gemm.linear_takes_blas_on(on, 31, 10_000, 784, 8)
    assert not blas(10_000, 40, 10_000, 8)  # w^T delta: 40 examples, any width
    # two threads run the serial epoch with BLAS on both only where both first-layer products go to BLAS,
    # from 512 examples
    assert splits([784, 300, 10], 1000, 5000, "float32") and splits([784, 100, 10], 1000, 5000, "float64")
    assert splits([784, 100, 10], 1000, 5000, "float32") and not splits([784, 129, 10], 200, 5000, "float32")
    assert not splits([784, 128, 10], 511, 5000, "float32")  # both in BLAS, but the own split is faster
    assert splits([784, 100, 10], 512, 5000, "float32") and not splits([784, 100, 10], 511, 5000, "float32")
    assert not splits([784, 1000, 10], 511, 5000, "float32") and splits([784, 1000, 10], 512, 5000, "float32")
    assert not splits([784, 64, 10], 1000, 5000, "float32")  # its update takes register tiles
    assert not splits([784, 300, 10], 199, 5000, "float32")  # the forward product stays on the loops
    assert not splits([784, 300, 10], 1000, 199, "float32")  # a batch no larger than the data
    # on an AVX-512 machine BLAS takes every update from 6 examples, and w^T delta from 6 neurons in the layer
    # above, so only tiny batches into narrow layers skip the limit; two threads hand the epoch to BLAS from
    # 512 examples, as on AVX2
    on512 = gemm.AVX512_ROUTES
    assert not fastnn_may_use_blas([784, 30, 5], 5, 10_000, "float32", routes=on512)
    assert fastnn_may_use_blas([784, 30, 5], 6, 10_000, "float32", routes=on512)
    assert fastnn_may_use_blas([784, 30, 10], 5, 10_000, "float32", routes=on512)  # w^T delta: 10 neurons
    assert not blas_splits([784, 300, 10], 511, 5000, "float32", routes=on512)
    assert first_layer_in_blas([784, 300, 10], 511, 5000, "float32", routes=on512)  # both products in BLAS
    assert not first_layer_in_blas([784, 300, 10], 49, 5000, "float32", routes=on512)  # the forward on the loops
    assert blas_splits([784, 300, 10], 512, 5000, "float32", routes=on512)
    assert blas_splits([784, 65, 10], 512, 5000, "float32", routes=on512)  # 65 rows: the update leaves the tiles
    assert not blas_splits([784, 63, 10], 1000, 5000, "float32", routes=on512)  # the forward on the tiles
    # on Zen 4 one thread keeps [784,100,10]'s first layer off BLAS at any batch (own_large_alone), but two
    # threads hand it to BLAS on both cores from 512 examples, and one thread sets BLAS's limit to one there
    zen4 = gemm.ZEN4_ROUTES
    assert not fastnn_may_use_blas([784, 100, 5], 511, 10_000, "float32", routes=zen4)  # w^T delta: 5 neurons
    assert fastnn_may_use_blas([784, 100, 5], 512, 10_000, "float32", routes=zen4)
    assert blas_splits([784, 100, 10], 1000, 5000, "float32", routes=zen4)
    assert not blas_splits([784, 100, 10], 511, 5000, "float32", routes=zen4)
    before = current_blas_threads()
    with fastnn_blas_threads(1 if before[0] > 1 else 2, needed=False):
        assert current_blas_threads() == before


def test_overlapping_calls_in_two_threads_share_the_blas_limit():
    # two fits on threads (a search on joblib's threading backend): the first in sets the limit, and
    # it holds until the last one out, whichever order they leave in. The main thread sets it first: a
    # pthreads OpenBLAS then ignored every other thread's setting under threadpoolctl (fastnn.blas._take_control)
    with fastnn_blas_threads(1):
        pass
    before = current_blas_threads()
    inside, leave_first = threading.Barrier(2), threading.Event()
    seen = []

    def fit(first):
        with fastnn_blas_threads(1):
            inside.wait(timeout=30)
            seen.append(set(current_blas_threads()))
            if first:
                leave_first.set()
            else:
                leave_first.wait(timeout=30)
                seen.append(set(current_blas_threads()))  # the other one has left: still limited
    threads = [threading.Thread(target=fit, args=(first,)) for first in (True, False)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert seen == [{1}, {1}, {1}]
    assert current_blas_threads() == before


def test_blas_follows_the_threads_argument_and_comes_back():
    before = current_blas_threads()
    assert before and all(n >= 1 for n in before)
    # the OpenBLAS the kernels call is among the libraries whose threads are set
    loaded = [info["filepath"] for info in fastnn.blas._controller().info() if info["user_api"] == "blas"]
    assert any(os.path.samefile(path, gemm.OPENBLAS) for path in loaded)
    with fastnn_blas_threads(1):
        assert set(current_blas_threads()) == {1}
        with fastnn_blas_threads(2):  # an overlapping call with another count: the newest count holds
            assert set(current_blas_threads()) == {2}
        assert set(current_blas_threads()) == {2}  # until the outermost call returns
    assert current_blas_threads() == before
    # an error inside still restores the setting
    with pytest.raises(RuntimeError), fastnn_blas_threads(1):
        raise RuntimeError("inside")
    assert current_blas_threads() == before


@two_cores
@pytest.mark.parametrize("sizes,batch_size", [([784, 30, 10], 20), ([784, 30, 10], 100), ([784, 300, 10], 100)])
def test_two_threads_in_float32_agree_to_round_off(sizes, batch_size):
    # [784,30,10] batch 100: each thread updates its half of the first layer (15 rows) in one call of register
    # tiles on an AVX2 machine (of BLAS on an AVX-512 one, and at batch 20 too). [784,300,10]: a forward share
    # of 150 neurons per thread, on linear's loops on AMD Zen 4 (BLAS elsewhere); the last batch of 30 too
    if sizes[1] == 30:
        assert gemm.add_outer_takes_tiles_on(gemm.AVX2_ROUTES, batch_size, 15, 784, 4) == (batch_size == 100)
    assert parallel.forward_chunk(sizes[1], batch_size, 2, 784, 4) == sizes[1] // 2
    X, y = make_data(430, 784, 10)
    serial, _ = epochs(sizes, X, y, batch_size, 1, dtype="float32")
    threaded, _ = epochs(sizes, X, y, batch_size, 2, dtype="float32")
    np.testing.assert_allclose(threaded, serial, rtol=0, atol=1e-5)


@two_cores
def test_fit_with_threads_matches_one_thread_and_a_network_without_hidden_layers_falls_back():
    X, y = make_learnable(300, 12, 3)
    for sizes in ([12, 16, 3], [12, 3]):
        nets = [fastnn.Network(sizes, dtype="float64", seed=0) for _ in range(2)]
        h1 = nets[0].fit(X, y, 3, 10, 0.5, lmbda=1.0, momentum=0.5, seed=2, monitor=["training_accuracy"])
        h2 = nets[1].fit(X, y, 3, 10, 0.5, lmbda=1.0, momentum=0.5, seed=2, monitor=["training_accuracy"],
                         threads=2)
        np.testing.assert_allclose(nets[1].params, nets[0].params, rtol=0, atol=1e-12)
        assert h1.training_accuracy == h2.training_accuracy


@two_cores
@pytest.mark.parametrize("batch_size", [1, 10])
def test_hogwild_trains_and_touches_every_example(batch_size):
    X, y = make_learnable(2500, 20, 3)
    X, y, X_val, y_val = X[:2000], y[:2000], X[2000:], y[2000:]
    accs = {}
    for hogwild in (False, True):
        net = fastnn.Network([20, 20, 3], seed=0)
        h = net.fit(X, y, 10, batch_size, 0.1 if batch_size == 1 else 0.5, validation_data=(X_val, y_val),
                    seed=1, hogwild=hogwild, threads=2 if hogwild else 1)
        accs[hogwild] = h.validation_accuracy[-1]
    assert accs[True] >= 0.9, accs
    assert abs(accs[True] - accs[False]) <= 0.05, accs


@two_cores
def test_hogwild_shares_out_the_examples():
    """With eta so small that updates barely interact, one Hogwild epoch moves the weights as the serial one does."""
    X, _ = make_data(600, 10, 4)
    y = np.arange(600) % 2 * 3  # class 0 and class 3 by turns: each thread's share (every other example) one class

    def fit(rows, **kw):
        net = fastnn.Network([10, 8, 4], dtype="float64", seed=0)
        return net, net.fit(X[rows], y[rows], 1, 1, 1e-4, shuffle=False, **kw)
    start = fastnn.Network([10, 8, 4], dtype="float64", seed=0).params
    every = np.arange(600)
    (serial_net, serial), (hogwild_net, hogwild) = fit(every), fit(every, threads=2, hogwild=True)
    step = serial_net.params - start

    def off(net):  # how far a run's step is from the serial step, relative to it
        return np.linalg.norm(net.params - start - step) / np.linalg.norm(step)
    # Losing one thread's share, running it twice, or both threads running the same share misses by half the
    # step or more (0.51-1.48); the test would catch each. (With labels at random the two shares' steps are
    # alike, and both threads running one share missed by only 0.11.)
    for wrong in (every[::2], every[1::2], np.r_[every, every[1::2]], np.r_[every[::2], every[::2]]):
        assert off(fit(wrong)[0]) > 0.45
    # Updates that race on one weight can be lost: 2-5% of the step in 100 runs on a loaded host (with labels
    # at random: 3% typical, at most 11% in 400 runs). Per weight the losses are uneven: on one CI run the
    # median weight missed by 19% of the median step, so the test compares whole steps.
    assert off(hogwild_net) < 0.38
    # the loss adds up both threads' examples (one thread's share alone would be about half of it). Which of
    # the other thread's updates an example's cost sees depends on when the threads run (an epoch of 300
    # examples of this net is shorter than starting a thread): 0.12% from serial was seen on a loaded host.
    assert hogwild.loss[0] == pytest.approx(serial.loss[0], rel=1e-2)


@njit(nogil=True)  # a thread that spins while holding the GIL would stop the others from arriving
def _wait_at_barrier(sync):
    return parallel.barrier(sync, 2, 1)


def test_a_failing_thread_releases_the_others_and_its_error_is_raised():
    seen = []

    def work(tid, sync):
        if tid == 1:
            raise RuntimeError("thread 1 failed")
        seen.append(_wait_at_barrier(sync))  # would spin for ever without the abort flag
    with pytest.raises(RuntimeError, match="thread 1 failed"):
        run_threads(work, 2)
    assert seen == [False]
    assert not [t for t in threading.enumerate() if t.name.startswith("fastnn-")]  # joined, none left spinning


@two_cores
def test_barrier_lets_threads_through_together():
    sync = np.zeros(16, np.int64)
    out = []

    def work(tid, sync_):
        out.append((tid, _wait_at_barrier(sync_)))
    run_threads(work, 2)
    assert sorted(out) == [(0, True), (1, True)]
    assert sync[parallel.COUNTER] == 0  # run_threads made its own


@pytest.mark.parametrize("kwargs,message", [
    (dict(threads=0), "threads must be at least 1"),
    (dict(threads=1.5), "threads must be an integer"),
    (dict(threads=10_000), "may run on only"),
    (dict(threads=1, hogwild=True), "hogwild=True needs threads >= 2"),
    (dict(threads=1, hogwild="yes"), "hogwild must be True or False"),
])
def test_bad_thread_settings_are_refused(kwargs, message):
    X, y = make_data(20, 4, 2)
    net = fastnn.Network([4, 3, 2], seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match=message):
        net.fit(X, y, 1, 5, 0.1, **kwargs)
    np.testing.assert_array_equal(net.params, before)


@two_cores
def test_online_learning_on_two_threads_needs_hogwild():
    X, y = make_data(20, 4, 2)
    with pytest.raises(ValueError, match="hogwild=True"):
        fastnn.Network([4, 3, 2], seed=0).fit(X, y, 1, 1, 0.1, threads=2)


def test_forward_claims_cover_the_layer_in_cache_line_blocks():
    # one thread: claims of about an eighth of the layer; two threads: see the share tests below
    assert [parallel.forward_chunk(n, 1, 1, 784, 4) for n in (1, 30, 100, 264, 300, 500, 1000)] == [6, 6, 12, 30, 36,
                                                                                                  48, 48]
    assert parallel.FORWARD_CHUNK_MAX < gemm.BLAS_LINEAR_ROWS  # a claim for the loops stays on them
    for n1, m, itemsize, nthreads in [(30, 20, 4, 2), (500, 30, 8, 2), (1000, 100, 4, 2), (1, 1, 8, 2),
                                      (1000, 100, 4, 1), (301, 100, 8, 2), (128, 50, 4, 2)]:
        claims, length = parallel.forward_blocks(n1, m, itemsize, nthreads, 784)
        chunk = parallel.forward_chunk(n1, m, nthreads, 784, itemsize)
        assert (claims - 1) * chunk < n1 <= claims * chunk  # every neuron in exactly one claim
        assert length >= m * chunk and length * itemsize % 64 == 0  # every block starts on a cache line


def test_a_forward_share_that_goes_to_blas_is_one_claim():
    # where linear sends a thread's share of the first layer to BLAS, the share is the claim: one product
    # each, not a BLAS call per claim of 6 to 48 neurons (each packs the batch's rows again) nor the loops
    avx512 = gemm.host_has_avx512()  # linear takes BLAS from 50 examples there, from 200 on AVX2

    def chunk(n1, m, nthreads, n_in=784, itemsize=4):
        return parallel.forward_chunk(n1, m, nthreads, n_in, itemsize)
    assert chunk(1000, 100, 2) == (500 if avx512 else 48)
    assert parallel.forward_blocks(1000, 100, 4, 2, 784)[0] == (2 if avx512 else 21)
    assert chunk(1000, 200, 2) == 500 and parallel.forward_blocks(1000, 200, 4, 2, 784)[0] == 2
    assert chunk(301, 200, 2, 784, 8) == 151 and parallel.forward_blocks(301, 200, 8, 2, 784)[0] == 2
    assert chunk(601, 200, 2, 100) == 301  # wider than SHARE_NEURONS: a share only where it goes to BLAS
    assert chunk(1000, 49, 2) == 48  # too few examples for BLAS on either CPU
    assert chunk(1000, 200, 1) == 48  # one thread: no shares
    assert chunk(1000, 200, 3) == 334 and parallel.forward_blocks(1000, 200, 4, 3, 784)[0] == 3
    # on Zen 4, float32 shares of fewer than 256 neurons from 784 inputs stay on the loops, and from 512 examples
    # on Zen 1 too, while BLAS runs on one thread (own_large_alone, as the own split runs it: fastnn.threads)
    zen4, own = gemm.ROUTES == gemm.ZEN4_ROUTES, gemm.ROUTES.own_large_alone
    assert chunk(500, 200, 2) == (48 if zen4 else 250) and chunk(500, 200, 2, 784, 8) == 250
    assert chunk(500, 512, 2) == (48 if own else 250) and chunk(500, 200, 2, 100) == 250
    with fastnn_blas_threads(2):
        assert chunk(500, 512, 2) == 250 and chunk(500, 511, 2) == (48 if zen4 else 250)


def test_a_forward_pass_of_up_to_share_neurons_is_claimed_a_share_per_thread():
    # every claim reads the whole batch's rows: up to SHARE_NEURONS neurons each thread claims its share
    # once, on the loops as in BLAS (kernels.parallel.forward_chunk); one thread keeps claims of an eighth
    def chunk(n1, m, nthreads, n_in=784, itemsize=4):
        return parallel.forward_chunk(n1, m, nthreads, n_in, itemsize)
    for n1, m in [(30, 20), (30, 1000), (100, 20), (126, 200), (299, 100), (parallel.SHARE_NEURONS, 1000)]:
        assert chunk(n1, m, 2) == (n1 + 1) // 2 and chunk(n1, m, 2, 784, 8) == (n1 + 1) // 2
        assert chunk(n1, m, 3) == (n1 + 2) // 3
        assert chunk(n1, m, 1) == parallel._forward_chunk_loops(n1) < n1 or n1 <= parallel.FORWARD_CHUNK_MIN
        claims, length = parallel.forward_blocks(n1, m, 4, 2, 784)
        assert claims == 2 and length >= m * ((n1 + 1) // 2)
    assert chunk(parallel.SHARE_NEURONS + 100, 20, 2) == 48  # wider, on the loops: claims of an eighth


@two_cores
def test_a_buffer_too_small_for_the_claims_is_refused():
    # forward_blocks for one thread gives claims of 48 neurons; two threads claim halves of 500 here
    sizes, m = [40, 1000, 5], 200
    net = fastnn.Network(sizes, seed=0, dtype="float64")
    X, y = make_data(400, sizes[0], sizes[-1])
    d = net.check_data(X, y)
    Xs = layout.aligned_empty((2, m, sizes[0]), np.float64)
    optimizer = fastnn.Optimizer(0.1)
    args = (net.params, net.params, *net.kernel_args()[1:], d.X, d.Y, np.arange(400), m, optimizer.rule,
            optimizer.hyper(400, net.dtype))
    small = layout.aligned_empty(parallel.forward_blocks(sizes[1], m, 8, 1, sizes[0]), np.float64)
    S = layout.aligned_empty(parallel.shared_blocks(np.array(sizes), m), np.float64)
    before = net.params.copy()
    with pytest.raises(ValueError, match="HB is smaller than forward_blocks gives"):
        run_threads(lambda tid, sync: parallel.minibatch_part(tid, 2, sync, Xs, small, S, *args), 2)
    HB = layout.aligned_empty(parallel.forward_blocks(sizes[1], m, 8, 2, sizes[0]), np.float64)
    S_small = layout.aligned_empty(parallel.shared_blocks(np.array(sizes), m // 2), np.float64)
    with pytest.raises(ValueError, match="S is smaller than shared_blocks gives"):
        run_threads(lambda tid, sync: parallel.minibatch_part(tid, 2, sync, Xs, HB, S_small, *args), 2)
    np.testing.assert_array_equal(net.params, before)  # refused before any work


def test_aligned_buffers_start_on_a_cache_line():
    for shape, dtype in [((2, 20, 784), np.float32), ((30, 24), np.float64), ((1,), np.float32)]:
        a = layout.aligned_empty(shape, dtype)
        assert a.shape == shape and a.dtype == dtype and a.flags.c_contiguous
        assert a.ctypes.data % 64 == 0
    z = layout.aligned_zeros((3, 5), np.float64)
    assert z.ctypes.data % 64 == 0 and z.shape == (3, 5) and not z.any()


def test_network_parameters_start_on_a_cache_line(tmp_path):
    for dtype in ("float32", "float64"):
        for sizes in ([784, 100, 10], [5, 3, 2]):  # large arrays come from mmap, small ones from the heap
            net = fastnn.Network(sizes, dtype=dtype, seed=0)
            assert net.params.ctypes.data % 64 == 0
            net.save(tmp_path / "net.npz")
            assert fastnn.load(tmp_path / "net.npz").params.ctypes.data % 64 == 0
