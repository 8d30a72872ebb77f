"""Activation functions sigma(z) and their derivatives, applied in place to blocks.

A block is a 2-D array with one row per example. Derivatives are computed from
the activation a = sigma(z), not from z, so the forward pass need not keep z:
sigmoid' = a (1 - a), tanh' = 1 - a^2, relu' = [a > 0], identity' = 1.
"""
import numpy as np
from numba import njit
from numba.extending import overload

from .codes import FASTMATH, IDENTITY, RELU, SIGMOID, SOFTMAX, TANH
from .views import view2d
from .vmath import exp_nonpositive


def _rows_for_loops(Z):
    """A C-contiguous block as one row of all its elements; any other block as it is."""
    return view2d(Z, 0, 1, Z.size) if Z.flags.c_contiguous else Z


@overload(_rows_for_loops)
def _rows_for_loops_impl(Z):
    if Z.layout == "C":
        return lambda Z: view2d(Z, 0, 1, Z.size)
    return lambda Z: Z


# error_model="numpy": Numba's default checks every float division for zero (to raise
# ZeroDivisionError), and that branch stops the loop from being vectorised. Every
# divisor here is at least 1.
@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _sigmoid_row(z):
    """z <- sigma(z) for a 1-D array.

    exp of a non-positive number never overflows; for z < 0, sigma(z) = e^z / (1 + e^z)
    keeps full relative precision.
    """
    one = z.dtype.type(1)
    zero = z.dtype.type(0)
    for j in range(len(z)):
        x = z[j]
        e = exp_nonpositive(-abs(x))
        s = one / (one + e)
        z[j] = s if x >= zero else e * s


@njit(cache=True)
def check_activation(code):
    """Raise for a code ``activate`` does not know: the kernels check first, before any work (see
    ``kernels.denormals`` for why an error must not come midway)."""
    if code != SIGMOID and code != TANH and code != RELU and code != SOFTMAX and code != IDENTITY:
        raise ValueError("unknown activation code")


@njit(cache=True)
def check_layer_codes(hidden, output):
    """``check_activation`` for the hidden layers' code and the output layer's: what inference needs."""
    check_activation(hidden)
    check_activation(output)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def activate(Z, code):
    """Replace the block of weighted inputs Z by sigma(Z), row by row."""
    one = Z.dtype.type(1)
    zero = Z.dtype.type(0)
    m, n = Z.shape
    if code == SIGMOID:
        # A contiguous block is one long row: LLVM's vectorised loop takes 32 elements a step,
        # so rows of 30 would all go to the scalar remainder.
        rows = _rows_for_loops(Z)
        for i in range(rows.shape[0]):
            _sigmoid_row(rows[i])
    elif code == TANH:
        for i in range(m):
            for j in range(n):
                Z[i, j] = np.tanh(Z[i, j])
    elif code == RELU:
        for i in range(m):
            for j in range(n):
                if not Z[i, j] > zero:  # also maps -0.0 to +0.0
                    Z[i, j] = zero
    elif code == SOFTMAX:
        for i in range(m):
            zmax = Z[i, 0]
            for j in range(1, n):
                if Z[i, j] > zmax:
                    zmax = Z[i, j]
            total = zero
            for j in range(n):
                e = exp_nonpositive(Z[i, j] - zmax)
                Z[i, j] = e
                total += e
            inv = one / total
            for j in range(n):
                Z[i, j] *= inv
    elif code == IDENTITY:
        pass  # a = z
    else:
        raise ValueError("unknown activation code")


@njit(cache=True, fastmath=FASTMATH)
def scale_by_derivative(D, A, code):
    """D <- D * sigma'(z), elementwise, with sigma'(z) computed from A = sigma(z)."""
    one = D.dtype.type(1)
    zero = D.dtype.type(0)
    m, n = D.shape
    if code == SIGMOID:
        for i in range(m):
            for j in range(n):
                a = A[i, j]
                D[i, j] *= a * (one - a)
    elif code == TANH:
        for i in range(m):
            for j in range(n):
                a = A[i, j]
                D[i, j] *= one - a * a
    elif code == RELU:
        for i in range(m):
            for j in range(n):
                if not A[i, j] > zero:
                    D[i, j] = zero
    elif code == IDENTITY:
        pass  # sigma'(z) = 1
    else:  # softmax's Jacobian is not elementwise: it only comes with the log-likelihood cost
        raise ValueError("no elementwise derivative for this activation code")
