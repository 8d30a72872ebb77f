"""How many threads the BLAS library may use while fastnn's kernels run.

The kernels send their large products to OpenBLAS (the scipy-openblas32 wheel's, which
``kernels.gemm`` loads when it is imported), and OpenBLAS
starts as many threads as the machine has cores unless told otherwise. fastnn's
``threads`` argument decides instead: one thread means one core, so that a single-thread
epoch, the study's clock and the benchmarks' one-thread comparisons mean what they say, and
so that fastnn's own threads, or a search running fits on threads, do not each start
a BLAS thread per core. With two threads on large products the serial epoch lets BLAS
use both (``fastnn.threads.minibatch_epoch_parallel``).

The limit is the library's global setting (OpenBLAS has no per-call one), set through
threadpoolctl and restored when the last fastnn call that set it returns. Calls that
overlap in several threads share it; the first sets it and the last restores it, whichever
threads those are (``_take_control``).
"""
import os
import threading
from contextlib import contextmanager

import numpy as np

from .kernels.denormals import flush_thread, restore_thread
from .kernels.gemm import OPENBLAS, ROUTES, add_outer_takes_blas_on, linear_takes_blas_on, shared_routes

_lock = threading.Lock()
_state = {"controller": None, "split": None, "depth": 0, "limiter": None, "threads": None}


def _controller():
    """threadpoolctl's view of the loaded BLAS libraries, made once: the kernels' OpenBLAS (loaded with
    ``kernels.gemm``, before any scan) and any other that NumPy or SciPy loaded."""
    if _state["controller"] is None:
        from threadpoolctl import ThreadpoolController
        _state["controller"] = ThreadpoolController()
    return _state["controller"]


def may_use_blas(sizes, batch_size: int, n_examples: int, dtype, routes=ROUTES) -> bool:
    """True when some product of an epoch over n_examples in mini-batches of batch_size, in dtype, can go
    to BLAS (``kernels.gemm``'s rules for the forward product, the update or gradient, and w^T delta,
    under routes: this machine's by default). Other epochs skip the limit, and with it threadpoolctl's
    scan of the loaded libraries. Asked as with BLAS on more than one thread (``shared_routes``), which sends it
    the most: so the limit is set wherever BLAS's own thread count decides a route."""
    routes = shared_routes(routes)
    m = min(batch_size, n_examples)
    itemsize = np.dtype(dtype).itemsize
    for l in range(len(sizes) - 1):
        n_in, n_out = int(sizes[l]), int(sizes[l + 1])
        if (linear_takes_blas_on(routes, m, n_out, n_in, itemsize)
                or add_outer_takes_blas_on(routes, m, n_out, n_in, itemsize)):
            return True
        if l > 0 and add_outer_takes_blas_on(routes, n_out, m, n_in, itemsize):  # w^T delta down to layer l
            return True
    return False


@contextmanager
def blas_threads(n: int, needed: bool = True):
    """Let the BLAS libraries use n threads inside the block; the previous setting returns after it.

    With ``needed=False`` (see ``may_use_blas``) it does nothing.
    """
    if not needed:
        yield
        return
    with _lock:
        if _state["depth"] == 0:
            _take_control()
            _state["limiter"] = _limit(n)
        elif _state["threads"] != n:
            _take_control()
            _limit(n)
        _state["depth"] += 1
        _state["threads"] = n
    try:
        yield
    finally:
        with _lock:
            _state["depth"] -= 1
            if _state["depth"] == 0:
                _take_control()
                for limiter in _state["limiter"]:
                    limiter.restore_original_limits()
                _take_control()  # and leave it free for the caller's own threadpoolctl calls
                _state["limiter"] = _state["threads"] = None


def _limit(n):
    """threadpoolctl's limits to n threads, one per set of libraries (restore each). The kernels' OpenBLAS is
    limited from this thread while it flushes denormals: where the count rises, OpenBLAS starts the worker
    threads it lacks then, and a thread starts with the floating-point bits of the thread that starts it. So
    its workers flush denormals as the kernels do (Intel cores compute them in microcode: bench/ab-denormals.md,
    bench/ab-blas-workers.md). Every other BLAS library (NumPy's, SciPy's) is limited outside the flush, so
    the workers it starts keep denormals, as the caller's own code expects."""
    kernels_blas, others = _split_controller()
    limiters = [others.limit(limits=n, user_api="blas")]
    state = flush_thread()
    try:
        limiters.append(kernels_blas.limit(limits=n, user_api="blas"))
    finally:
        restore_thread(state)
    return limiters


def _split_controller():
    """(the kernels' OpenBLAS, every other BLAS library) as two threadpoolctl controllers, made once with the
    controller they select from: resolving the libraries' paths took 0.15 ms, 0.4% of a 10,000-example epoch of
    [784,100,10] at batch 200."""
    if _state["split"] is None:
        ours = os.path.realpath(OPENBLAS)
        paths = [lib.filepath for lib in _controller().lib_controllers if lib.user_api == "blas"]
        _state["split"] = (_controller().select(filepath=[p for p in paths if os.path.realpath(p) == ours]),
                           _controller().select(filepath=[p for p in paths if os.path.realpath(p) != ours]))
    return _state["split"]


def _take_control():
    """Let this thread set OpenBLAS's count. threadpoolctl (3.5 and later) lets only the first thread
    that set a pthreads OpenBLAS's process-wide count set it again and silently ignores the others, so a
    fit on a worker thread, or the last of two overlapping fits restoring the count, would change
    nothing. fastnn's calls are serialised by _lock, so whichever thread acts takes control first."""
    import threadpoolctl
    clear = getattr(getattr(threadpoolctl, "OpenBLASController", None), "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)


def current_blas_threads() -> list[int]:
    """The thread count of every loaded BLAS library (for tests and reports)."""
    return [info["num_threads"] for info in _controller().info() if info["user_api"] == "blas"]
