"""kernels.denormals: the kernels flush denormal numbers to zero while they run, and only then."""
import os
import platform

import numpy as np
import pytest
from numba import njit

import fastnn
from fastnn import kernels
from fastnn.checks import usable_cores
from fastnn.kernels import denormals

pytestmark = [
    pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="MXCSR is x86's"),
    pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="the Python twins keep denormals"),
]
TINY = np.float32(1e-20)  # TINY * TINY = 1e-40, a float32 denormal (the smallest normal is 1.2e-38)


@njit(cache=False)
def ftz_daz_bits():
    """This thread's FTZ and DAZ bits, left as they are."""
    state = denormals.flush_denormals()
    denormals.restore_denormals(state)
    return state


@njit(cache=False)
def product_flushed(a, b):
    state = denormals.flush_denormals()
    c = a * b
    still_set = denormals.flush_denormals()  # still set inside: both bits
    denormals.restore_denormals(state)
    return c, still_set


def test_flush_sets_both_bits_and_restore_clears_them():
    assert ftz_daz_bits() == 0  # Python threads start without them
    c, inside = product_flushed(TINY, TINY)
    assert c == 0 and inside == denormals.FTZ_DAZ
    assert ftz_daz_bits() == 0
    assert TINY * TINY != 0  # NumPy, in this thread, keeps denormals after the kernel


def identity_net(w):
    net = fastnn.Network([1, 1], cost="quadratic_identity", dtype="float32", seed=0)
    net.weights = [np.array([[w]], dtype=np.float32)]
    net.biases = [np.zeros(1, dtype=np.float32)]
    return net


def test_inference_flushes_a_denormal_output_and_leaves_the_thread_as_it_was():
    net = identity_net(TINY)
    X = np.full((3, 1), TINY, dtype=np.float32)
    np.testing.assert_array_equal(net.feedforward(X), 0.0)  # z = 1e-40 flushed, where NumPy gives 1e-40
    assert (X @ net.weights[0].T != 0).all()
    assert ftz_daz_bits() == 0


@pytest.mark.parametrize("batch_size", [1, 4])
def test_an_epoch_flushes_a_denormal_step(batch_size):
    # a = z = w x with w x = 1e-40 and target 0: the step eta (a - 0) x = 1e-60 is lost either way, but
    # the error a - y = 1e-40 is flushed, so the bias (0) does not move; in NumPy it moves by -1e-40 * eta
    net = identity_net(TINY)
    X = np.full((4, 1), TINY, dtype=np.float32)
    Y = np.zeros((4, 1), dtype=np.float32)
    loss = net.train_epoch(X, Y, np.arange(4), batch_size, 1.0)
    assert net.biases[0][0] == 0.0 and loss == 0.0
    assert ftz_daz_bits() == 0


def test_a_kernel_that_rejects_its_codes_leaves_the_thread_as_it_was():
    # the codes are checked before the kernel flushes denormals: an error midway would leave them flushed
    net = fastnn.Network([6, 5, 4], dtype="float64", seed=2)
    X, Y = np.ones((8, 6)), np.zeros((8, 4))
    args = net.kernel_args()
    params, w_off, b_off, sizes, hidden, output, cost = args
    hyper = fastnn.Optimizer(0.5).hyper(8, net.dtype)
    calls = {
        "unknown activation code": lambda: kernels.feedforward(params, w_off, b_off, sizes, 99, output, X,
                                                               np.empty((8, 4))),
        "unknown cost code": lambda: kernels.minibatch_epoch(params, params, w_off, b_off, sizes, hidden, output, 99,
                                                             X, Y, np.arange(8), 4, kernels.SGD, hyper),
        "batch_size must be at least 1": lambda: kernels.minibatch_epoch(params, params, w_off, b_off, sizes, hidden,
                                                                         output, cost, X, Y, np.arange(8), 0,
                                                                         kernels.SGD, hyper),
        "no elementwise derivative": lambda: kernels.online_epoch(params, params, w_off, b_off, sizes, hidden,
                                                                  kernels.SOFTMAX, kernels.QUADRATIC, X, Y,
                                                                  np.arange(8), kernels.SGD, hyper),
    }
    before = params.copy()
    for message, call in calls.items():
        with pytest.raises(ValueError, match=message):
            call()
        assert ftz_daz_bits() == 0
    np.testing.assert_array_equal(params, before)


def test_flush_thread_holds_until_restore_thread():
    state = denormals.flush_thread()
    try:
        assert state == 0 and ftz_daz_bits() == denormals.FTZ_DAZ
    finally:
        denormals.restore_thread(state)
    assert ftz_daz_bits() == 0


# In a fresh process: C (1000 x 784) += D^T A over 200 examples through OpenBLAS on two threads, every term
# 1e-20 * 1e-20 = 1e-40, denormal. Flushed, every term is 0 and C stays 0; kept, a sum reaches 2e-38. OpenBLAS
# gives part of C to its worker thread, so the count of nonzero entries shows whether that thread flushes.
# NumPy's own OpenBLAS, limited in the same block, must keep denormals in all its threads: its product of
# the same terms has every entry nonzero.
_BLAS_ON_TWO_THREADS = """
import os
import sys
import numpy as np
from numba import njit
from fastnn.blas import _controller, blas_threads
from fastnn.kernels import gemm
from fastnn.kernels.denormals import flush_denormals, restore_denormals

@njit
def product(C, D, A):
    state = flush_denormals()
    gemm.blas_add_outer(C, np.float32(1), D, A)
    restore_denormals(state)

if sys.argv[1] == "started-before":  # what earlier versions did: the worker started by a thread that keeps them
    from threadpoolctl import ThreadpoolController
    ThreadpoolController().limit(limits=2, user_api="blas").restore_original_limits()
C = np.zeros((1000, 784), np.float32)
D = np.full((200, 1000), 1e-20, np.float32)
A = np.full((200, 784), 1e-20, np.float32)
with blas_threads(2):
    threads = {os.path.realpath(lib.filepath): lib.num_threads for lib in _controller().lib_controllers}
    assert threads[os.path.realpath(gemm.OPENBLAS)] == 2 and set(threads.values()) == {2}, threads
    product(C, D, A)
    numpy_product = D.T @ A  # NumPy's OpenBLAS, on two threads too
print(np.count_nonzero(C), np.count_nonzero(numpy_product))
"""


@pytest.mark.skipif(platform.system() != "Linux", reason="a new thread takes its creator's MXCSR on Linux (not Windows)")
@pytest.mark.skipif(usable_cores() < 2, reason="OpenBLAS splits a product only with two cores")
def test_openblas_worker_threads_flush_denormals_and_numpys_keep_them():
    import subprocess
    import sys

    def nonzero(how):
        # NumPy's OpenBLAS loaded with one thread: fastnn's limit then starts its worker too
        out = subprocess.run([sys.executable, "-c", _BLAS_ON_TWO_THREADS, how], capture_output=True, text=True,
                             check=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
        return [int(v) for v in out.stdout.split()[-2:]]
    before, numpy_before = nonzero("started-before")
    assert before > 0 and numpy_before == 784_000  # the check can fail: a worker started unflushed keeps denormals
    ours, numpy_ours = nonzero("by-fastnn")
    assert ours == 0 and numpy_ours == 784_000
