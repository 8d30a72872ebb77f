"""Cost functions C(a, y), the output error delta^L, and the total-cost kernel.

- quadratic:      C = 0.5 ||a - y||^2,                      delta^L = (a - y) * sigma'(z^L)
                  (with an identity output layer, for regression: delta^L = a - y)
- cross-entropy:  C = -sum y ln a + (1 - y) ln(1 - a),      delta^L = a - y  (sigmoid output)
- log-likelihood: C = -sum y ln a,                          delta^L = a - y  (softmax output)

``block_loss`` is the epochs' running cost (their loss curve), from the activations the forward
pass has anyway; ``total_cost`` is the separate pass over a data set.

Weighted examples: the targets Y may have one column more than the output layer, each row's weight w
(``fastnn.Network.check_data``'s sample_weight, scaled to a mean of 1). An example's cost is then
w C(a, y) and its delta^L w times the above: backprop is linear in delta^L, so every gradient of the
example is scaled by w, on every path (online, mini-batch, two threads) without a change there.
"""
import numpy as np
from numba import njit

from .activations import check_layer_codes, scale_by_derivative
from .codes import CROSS_ENTROPY, FASTMATH, LOG_LIKELIHOOD, QUADRATIC, SOFTMAX
from .denormals import flush_denormals, restore_denormals
from .forward import CHUNK, forward_layers
from .gemm import linear
from .layout import alloc_acts, biases, block, linear_scratch, weights


@njit(cache=True)
def check_cost(code):
    """Raise for a cost code the kernels do not know (checked before any work, as ``check_layer_codes``)."""
    if code != QUADRATIC and code != CROSS_ENTROPY and code != LOG_LIKELIHOOD:
        raise ValueError("unknown cost code")


@njit(cache=True)
def check_training_codes(hidden, output, cost):
    """Raise, before a kernel that computes deltas does any work, for every code its switches would reject
    midway: an unknown activation or cost, or softmax where an elementwise derivative is needed (the
    hidden layers, and the output layer under the quadratic cost). An error raised midway would leave the
    calling thread with denormals flushed (``kernels.denormals``)."""
    check_layer_codes(hidden, output)
    check_cost(cost)
    if hidden == SOFTMAX or (cost == QUADRATIC and output == SOFTMAX):
        raise ValueError("no elementwise derivative for this activation code")


@njit(cache=True, fastmath=FASTMATH)
def output_delta(A, Y, cost, output, D):
    """D = delta^L for the block of output activations A and targets Y."""
    m, n = A.shape
    for i in range(m):
        for j in range(n):
            D[i, j] = A[i, j] - Y[i, j]
    if cost == QUADRATIC:
        scale_by_derivative(D, A, output)
    elif cost != CROSS_ENTROPY and cost != LOG_LIKELIHOOD:
        raise ValueError("unknown cost code")
    if Y.shape[1] > n:  # weighted examples (see the module docstring)
        for i in range(m):
            w = Y[i, n]
            for j in range(n):
                D[i, j] *= w


@njit(cache=True, inline="always")
def example_weight(Y, i, n):
    """Row i's weight: Y[i, n] where Y has a weight column beyond the n outputs, else 1."""
    return np.float64(Y[i, n]) if Y.shape[1] > n else 1.0


# Below this, the running product of clipped factors (each >= 2.2e-16) is turned into its log and restarted:
# the product then stays above 1e-216, far from float64's underflow.
_PRODUCT_FLOOR = 1e-200


@njit(cache=True)
def new_loss():
    """A running loss for ``block_loss``: [s, p], the loss so far being s - ln p (``loss_value``)."""
    acc = np.empty(2, dtype=np.float64)
    acc[0] = 0.0
    acc[1] = 1.0
    return acc


@njit(cache=True)
def loss_value(acc):
    """The running loss acc = [s, p] as one number, s - ln p."""
    return acc[0] - np.log(acc[1])


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def block_loss(A, Y, cost, acc):
    """Add C(a, y) of every row of a block of output activations A (targets Y) to the running loss acc, in float64
    (each row's times its weight, if Y has a weight column: then the log costs take a log per term).

    The epochs call this for each example before its update (scikit-learn's ``loss_curve_``), so
    it must cost little next to the example's backprop. It works from a, not z, since the forward
    pass keeps only a. The log costs clip a to [eps, 1 - eps], eps the machine epsilon of A's
    dtype, as scikit-learn's ``log_loss`` does, so a saturated output gives a large finite cost
    instead of inf. A term whose target is 0 contributes nothing; a target of 1 contributes -ln a
    (1 - a for the cross-entropy's 1 - y term), and those factors are multiplied into acc[1]
    instead of taking a log each: ln prod = sum ln, and the log is taken only when the product
    nears underflow, about once per few hundred factors, and once at the end (``loss_value``).
    So one-hot targets cost no log per example. A target strictly between 0 and 1 takes its logs
    into acc[0].
    """
    m, n = A.shape
    total = acc[0]
    if cost == QUADRATIC:
        for i in range(m):
            row = 0.0
            for j in range(n):
                d = np.float64(A[i, j]) - np.float64(Y[i, j])
                row += 0.5 * d * d
            total += example_weight(Y, i, n) * row
        acc[0] = total
        return
    eps = np.float64(np.finfo(A.dtype).eps)
    lo, hi = eps, 1.0 - eps
    if Y.shape[1] > n:  # weighted examples: each row's log costs times its weight, no running product
        check_cost(cost)
        for i in range(m):
            row = 0.0
            for j in range(n):
                a = min(max(np.float64(A[i, j]), lo), hi)
                y = np.float64(Y[i, j])
                if y != 0.0:
                    row -= y * np.log(a)
                if cost == CROSS_ENTROPY and y != 1.0:
                    row -= (1.0 - y) * np.log(1.0 - a)
            total += np.float64(Y[i, n]) * row
        acc[0] = total
        return
    p = acc[1]
    if cost == CROSS_ENTROPY:
        for i in range(m):
            for j in range(n):
                a = min(max(np.float64(A[i, j]), lo), hi)
                y = np.float64(Y[i, j])
                if y == 1.0:
                    p *= a
                elif y == 0.0:
                    p *= 1.0 - a
                else:
                    total -= y * np.log(a) + (1.0 - y) * np.log(1.0 - a)
                if p < _PRODUCT_FLOOR:
                    total -= np.log(p)
                    p = 1.0
    elif cost == LOG_LIKELIHOOD:
        for i in range(m):
            for j in range(n):
                y = np.float64(Y[i, j])
                if y != 0.0:
                    a = min(max(np.float64(A[i, j]), lo), hi)
                    if y == 1.0:
                        p *= a
                        if p < _PRODUCT_FLOOR:
                            total -= np.log(p)
                            p = 1.0
                    else:
                        total -= y * np.log(a)
    else:
        raise ValueError("unknown cost code")
    acc[0] = total
    acc[1] = p


@njit(cache=True, fastmath=FASTMATH)
def _softplus(x):
    """ln(1 + e^x) without overflow."""
    return max(x, 0.0) + np.log1p(np.exp(-abs(x)))


@njit(cache=True, fastmath=FASTMATH)
def block_cost(Z, A, Y, cost):
    """Sum of C over a block (each row's times its weight, if Y has a weight column), in float64, from the
    output weighted inputs Z and activations A.

    The cross-entropy and log-likelihood are computed from z (ln sigma(z) = -softplus(-z),
    ln softmax(z)_j = z_j - logsumexp(z)), so a saturated output gives a large finite
    cost instead of inf or NaN.
    """
    m, n = A.shape
    check_cost(cost)
    total = 0.0
    for i in range(m):
        row = 0.0
        if cost == QUADRATIC:
            for j in range(n):
                d = np.float64(A[i, j]) - np.float64(Y[i, j])
                row += 0.5 * d * d
        elif cost == CROSS_ENTROPY:
            for j in range(n):
                z = np.float64(Z[i, j])
                y = np.float64(Y[i, j])
                row += y * _softplus(-z) + (1.0 - y) * _softplus(z)
        else:
            zmax = np.float64(Z[i, 0])
            for j in range(1, n):
                zmax = max(zmax, np.float64(Z[i, j]))
            s = 0.0
            for j in range(n):
                s += np.exp(np.float64(Z[i, j]) - zmax)
            lse = zmax + np.log(s)
            for j in range(n):
                row += np.float64(Y[i, j]) * (lse - np.float64(Z[i, j]))
        total += example_weight(Y, i, n) * row
    return total


@njit(cache=True, nogil=True)
def total_cost(params, w_off, b_off, sizes, hidden, output, cost, X, Y, lmbda):
    """(1/n) sum_x C(a(x), y(x)) + 0.5 (lmbda/n) sum_w w^2, in float64."""
    check_layer_codes(hidden, output)
    check_cost(cost)
    n = X.shape[0]
    L = len(sizes) - 1
    chunk = min(CHUNK, max(n, 1))
    acts, a_off = alloc_acts(sizes, chunk, X)
    Z = np.empty((chunk, sizes[L]), dtype=X.dtype)
    total = 0.0
    state = flush_denormals()  # after the checks and allocations: nothing below raises
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        A0 = X[start:start + m]
        forward_layers(params, w_off, b_off, sizes, hidden, output, A0, acts, a_off, np.int64(0))
        # Recompute z^L (cheap: one small layer) so the log costs can use it.
        A_prev = A0 if L == 1 else block(acts, a_off, sizes, L - 1, m)
        linear(weights(params, w_off, sizes, L - 1), biases(params, b_off, sizes, L - 1), A_prev, Z[:m],
               linear_scratch(acts, a_off))
        total += block_cost(Z[:m], block(acts, a_off, sizes, L, m), Y[start:start + m], cost)
    restore_denormals(state)
    return total / n + 0.5 * (lmbda / n) * squared_weights(params, w_off, sizes)


@njit(cache=True, nogil=True)
def squared_weights(params, w_off, sizes):
    """sum_w w^2 over every weight (not the biases), in float64: the L2 term without its 0.5 lmbda/n."""
    sq = 0.0
    for l in range(len(sizes) - 1):
        W = weights(params, w_off, sizes, l)
        for j in range(W.shape[0]):
            for k in range(W.shape[1]):
                sq += np.float64(W[j, k]) * np.float64(W[j, k])
    return sq
