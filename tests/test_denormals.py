"""kernels.denormals: the kernels flush denormal numbers to zero while they run, and only then."""
import os
import platform

import numpy as np
import pytest
from numba import njit

import fastnn
from fastnn import kernels
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
