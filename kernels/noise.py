"""Gradient noise: how far mini-batch gradients scatter around the full-batch gradient.

For mini-batches S_1..S_K (rows of ``batches``) the mini-batch gradient is
g_k = (1/|S_k|) sum_{x in S_k} nabla C_x; the kernel returns, for each k,
||g_k - g||^2 and cos(g_k, g), where g is the full-batch gradient given by the
caller. The mean of the first is the trace of the covariance of the estimator,
which falls like 1/|S| as the mini-batch grows.
"""
import numpy as np
from numba import njit

from .backprop import block_gradient, gather_rows
from .costs import check_training_codes
from .denormals import flush_denormals, restore_denormals
from .layout import alloc_acts, max_width


@njit(cache=True)
def minibatch_gradient_spread(params, w_off, b_off, sizes, hidden, output, cost, X, Y, batches, g_full):
    """(sq_dist, cosine): for each row of batches, ||g_k - g_full||^2 and cos(g_k, g_full), in float64."""
    check_training_codes(hidden, output, cost)
    K, m = batches.shape
    acts, a_off = alloc_acts(sizes, m, X)
    deltas, _ = alloc_acts(sizes, m, X)
    Xb = np.empty((m, X.shape[1]), dtype=X.dtype)
    Yb = np.empty((m, Y.shape[1]), dtype=Y.dtype)
    grad = np.empty_like(params)
    sums = np.empty(max_width(sizes), dtype=X.dtype)  # block_gradient's scratch
    sq_dist = np.empty(K)
    cosine = np.empty(K)
    state = flush_denormals()  # after the checks and allocations: nothing below raises
    g_norm = 0.0
    for i in range(len(g_full)):
        g_norm += g_full[i] * g_full[i]
    g_norm = np.sqrt(g_norm)
    for k in range(K):
        grad[:] = 0
        row = batches[k]
        block_gradient(params, w_off, b_off, sizes, hidden, output, cost,
                       gather_rows(X, row, 0, m, Xb), gather_rows(Y, row, 0, m, Yb), grad, acts, a_off, deltas,
                       sums)
        dist = 0.0
        dot = 0.0
        norm = 0.0
        for i in range(len(grad)):
            gk = np.float64(grad[i]) / m
            diff = gk - g_full[i]
            dist += diff * diff
            dot += gk * g_full[i]
            norm += gk * gk
        sq_dist[k] = dist
        cosine[k] = dot / (np.sqrt(norm) * g_norm) if norm > 0.0 and g_norm > 0.0 else 0.0
    restore_denormals(state)
    return sq_dist, cosine
