"""Several threads in one epoch: Python threads around the compiled kernels.

- ``minibatch_epoch_parallel``: synchronous mini-batch SGD, the work of every mini-batch split
  between the threads (``kernels.parallel.minibatch_part`` is one thread's share; its docstring
  describes the phases and barriers). The same result as one thread, up to round-off.
- ``hogwild_epoch``: each thread runs the serial epoch on its own share of the examples, on
  the shared weights without locks (Recht et al., 2011). Updates race, so results vary from
  run to run; an approximation whose speed-up and accuracy cost bench/report.py measures,
  never the default.

The threads are ordinary Python threads, each running one call of a compiled function that
releases the GIL, so they run at once whatever Numba's threading layer.
"""
import threading

import numpy as np

from .blas import blas_threads, may_use_blas
from .kernels.gemm import BLAS_SPLIT_EXAMPLES, ROUTES, add_outer_takes_blas_on, linear_takes_blas_on, shared_routes
from .kernels.layout import aligned_empty
from .kernels.parallel import ABORT, PRIVATE_ROWS, SYNC_SIZE, forward_blocks, minibatch_part, shared_blocks
from .kernels.sgd import minibatch_epoch, online_epoch


def run_threads(work, nthreads):
    """Run work(tid, sync) for tid = 0 .. nthreads-1, tid 0 in the calling thread; re-raise the first error.

    sync is the shared barrier state; a failing thread sets sync[ABORT] so the others stop waiting.
    Returns the list of work's results, by tid.
    """
    sync = np.zeros(SYNC_SIZE, dtype=np.int64)
    errors = []
    results = [None] * nthreads

    def run(tid):
        try:
            results[tid] = work(tid, sync)
        except BaseException as e:  # noqa: BLE001 -- re-raised below, in the calling thread
            sync[ABORT] = 1
            errors.append(e)
    others = [threading.Thread(target=run, args=(tid,), name=f"fastnn-{tid}", daemon=True)
              for tid in range(1, nthreads)]
    for t in others:
        t.start()
    run(0)
    for t in others:
        t.join()
    if errors:
        raise errors[0]
    return results


def blas_splits(sizes, batch_size, n_examples, dtype, routes=ROUTES):
    """True where both of the first layer's products go to BLAS (``first_layer_in_blas``) and the batch is large
    enough for BLAS on two threads to beat fastnn's own split: from BLAS_SPLIT_EXAMPLES examples.
    Measured (bench/ab-routes-openblas.md), 5,000 examples, float32, time of BLAS on two threads over the
    own split's: batch 1000 at [784,300,10] 0.92, at [784,100,10] 0.97, at [784,100,100,10] 0.77; batch
    200 at [784,100,10] 1.08. Wider layers below that batch went to BLAS too while the own split ran their
    forward product on linear's loops in claims of 6 to 48 neurons; since a thread's share that goes to
    BLAS is one claim (``kernels.parallel.forward_chunk``), the own split is level with BLAS on two threads
    there or faster (bench/split-probe.md, time of BLAS on two threads over the own split's, median and 95%
    interval of 21 paired rounds: 1.073 [1.049, 1.105] at [784,1000,10] batch 100, 1.048 [1.006, 1.143] at
    [784,300,10] batch 200, 1.007 [0.938, 1.091] at batch 100), while at batch 1000 the two are level
    (0.960 [0.950, 1.058] at [784,300,10], 0.990 [0.974, 1.021] at [784,1000,10]).
    routes: this machine's by default."""
    return first_layer_in_blas(sizes, batch_size, n_examples, dtype, routes) and min(batch_size,
                                                                                   n_examples) >= BLAS_SPLIT_EXAMPLES


def first_layer_in_blas(sizes, batch_size, n_examples, dtype, routes=ROUTES):
    """True where both of the first layer's products go to BLAS (``kernels.gemm``: ``linear_takes_blas``,
    and ``add_outer_takes_blas`` where the register tiles do not take the update): the shapes whose
    two-thread epoch ``blas_splits`` may hand to BLAS on both cores. Asked as with BLAS on both cores
    (``shared_routes``): on one thread, routes that keep large products off BLAS (Routes.own_large_alone) would
    say no."""
    routes = shared_routes(routes)
    m = min(batch_size, n_examples)
    n_in, n_out = int(sizes[0]), int(sizes[1])
    itemsize = np.dtype(dtype).itemsize
    return bool(linear_takes_blas_on(routes, m, n_out, n_in, itemsize)
                and add_outer_takes_blas_on(routes, m, n_out, n_in, itemsize))


def minibatch_epoch_parallel(params, velocity, w_off, b_off, sizes, hidden, output, cost, X, Y, order,
                             batch_size, rule, hyper, nthreads):
    """kernels.sgd.minibatch_epoch with nthreads threads; the same result up to round-off, and the
    same return value, the epoch's summed cost.

    Needs at least one hidden layer (the split is by hidden neurons); with none,
    or with one thread, it runs the serial kernel. So it does where both of the first layer's
    products go to BLAS and the batch is large (``blas_splits``): there the serial kernel
    with BLAS on nthreads threads is the faster split.
    """
    needed = may_use_blas(sizes, batch_size, len(order), X.dtype)
    if nthreads == 1 or len(sizes) < 3 or blas_splits(sizes, batch_size, len(order), X.dtype):
        with blas_threads(nthreads, needed):
            return minibatch_epoch(params, velocity, w_off, b_off, sizes, hidden, output, cost, X, Y, order,
                                   batch_size, rule, hyper)
    m_max = min(batch_size, max(len(order), 1))
    with blas_threads(1, needed):  # before HB's shape: the routes of its claims may read BLAS's thread count
        Xs = aligned_empty((2, 0 if m_max <= PRIVATE_ROWS else m_max, X.shape[1]), X.dtype)
        HB = aligned_empty(forward_blocks(sizes[1], m_max, X.dtype.itemsize, nthreads, sizes[0]), X.dtype)
        S = aligned_empty(shared_blocks(sizes, m_max), X.dtype)
        # Each thread computes the output of its own rows of every batch (phase 3): the epoch's loss is the sum.
        losses = run_threads(lambda tid, sync: minibatch_part(tid, nthreads, sync, Xs, HB, S, params, velocity, w_off,
                                                              b_off, sizes, hidden, output, cost, X, Y, order,
                                                              batch_size, rule, hyper), nthreads)
    return sum(losses)


def hogwild_epoch(params, velocity, w_off, b_off, sizes, hidden, output, cost, X, Y, order,
                  batch_size, rule, hyper, nthreads):
    """One epoch in which each of nthreads threads runs the serial epoch over every nthreads-th
    example of order, on the shared params (and velocity) without locks; returns the sum of the
    threads' summed costs (each example's at the weights its thread saw)."""
    parts = [np.ascontiguousarray(order[t::nthreads]) for t in range(nthreads)]

    def work(tid, sync):
        if batch_size == 1:
            return online_epoch(params, velocity, w_off, b_off, sizes, hidden, output, cost, X, Y, parts[tid], rule,
                                hyper)
        return minibatch_epoch(params, velocity, w_off, b_off, sizes, hidden, output, cost, X, Y, parts[tid],
                               batch_size, rule, hyper)
    with blas_threads(1, may_use_blas(sizes, batch_size, len(order), X.dtype)):
        return sum(run_threads(work, nthreads))
