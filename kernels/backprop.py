"""Backpropagation: the error delta^l of every layer and the gradient of the cost.

    delta^L = output error (see costs.output_delta)
    delta^l = ((w^{l+1})^T delta^{l+1}) * sigma'(z^l)
    dC/db^l = delta^l,   dC/dw^l = delta^l (a^{l-1})^T

For a block of examples the gradients are summed over the block.
"""
import numpy as np
from numba import njit

from .activations import scale_by_derivative
from .codes import FASTMATH
from .costs import output_delta
from .forward import CHUNK, forward_layers
from .gemm import add_outer
from .layout import alloc_acts, biases, block, max_width, prefetch, view2d, weights


@njit(cache=True, fastmath=FASTMATH)
def backward_layer(W, D, A_prev, oW, ob, scale, decay, D_prev, need_prev):
    """One layer of backprop for a block: D_prev = D W if need_prev, then
    oW <- decay oW + scale D^T A_prev and ob <- ob + scale sum_i D[i].

    D holds delta for the m examples of the block (m, n_out); D_prev receives
    (w^T delta) for each example, still to be multiplied by sigma'(z) of the
    layer below. D_prev is computed before oW changes, so oW may be W itself:
    the error of the layer below belongs to the weights that produced the output.
    """
    if need_prev:
        delta_below(D, W, D_prev)
    sgd_rows(oW, ob, D, A_prev, scale, decay)


@njit(cache=True, fastmath=FASTMATH)
def delta_below(D, W, D_prev):
    """D_prev = D W: (w^T delta) for every example, before sigma'(z) of the layer below.

    W may be a range of columns of a layer's weights, with D_prev the matching columns.
    """
    D_prev[:, :] = D.dtype.type(0)
    add_outer(D_prev, D.dtype.type(1), D.T, W)


@njit(cache=True, fastmath=FASTMATH)
def sgd_rows(W, b, D, A_prev, scale, decay):
    """W <- decay W + scale D^T A_prev and b <- b + scale sum_i D[i]: one layer's update
    (or gradient) from its deltas D (m, n_out) and the inputs A_prev (m, n_in).

    W and b may be a range of rows of a layer, with D the matching columns.
    """
    m, n_out = D.shape
    zero = D.dtype.type(0)
    if decay != D.dtype.type(1):
        for j in range(n_out):
            for k in range(W.shape[1]):
                W[j, k] *= decay
    add_outer(W, scale, D, A_prev)
    for j in range(n_out):
        s = zero
        for i in range(m):
            s += D[i, j]
        b[j] += scale * s


@njit(cache=True)
def block_backprop(params, w_off, b_off, sizes, hidden, output, cost, A0, Y, out, scale, decay,
                   acts, a_off, d1, d2):
    """Backprop over the block A0 (targets Y): out <- decay * out + scale * (gradient summed over the block).

    The decay multiplies weights only, never biases. With out = grad, scale = 1
    and decay = 1 this adds the gradient to grad; with out = params,
    scale = -eta/m and decay = 1 - eta*lmbda/n it is one SGD step in place.
    out has the layout of params. acts, d1 and d2 are work buffers: the
    activation buffer and two flat delta buffers of at least m * max(sizes).
    """
    m = A0.shape[0]
    L = len(sizes) - 1
    forward_layers(params, w_off, b_off, sizes, hidden, output, A0, acts, a_off)
    D = view2d(d1, 0, m, sizes[L])
    output_delta(block(acts, a_off, sizes, L, m), Y, cost, output, D)
    in_d1 = True  # delta is in d1; the next one goes to the other buffer
    for l in range(L - 1, -1, -1):
        A_prev = A0 if l == 0 else block(acts, a_off, sizes, l, m)
        D_prev = view2d(d2 if in_d1 else d1, 0, m, sizes[l])
        backward_layer(weights(params, w_off, sizes, l), D, A_prev,
                       weights(out, w_off, sizes, l), biases(out, b_off, sizes, l), scale, decay,
                       D_prev, l > 0)
        if l > 0:
            scale_by_derivative(D_prev, A_prev, hidden)
            in_d1 = not in_d1
            D = D_prev


@njit(cache=True)
def block_gradient(params, w_off, b_off, sizes, hidden, output, cost, A0, Y, grad, acts, a_off, d1, d2):
    """Add the gradient of the cost summed over the block A0 (targets Y) to grad."""
    one = A0.dtype.type(1)
    block_backprop(params, w_off, b_off, sizes, hidden, output, cost, A0, Y, grad, one, one,
                   acts, a_off, d1, d2)


@njit(cache=True)
def gather_rows(X, idx, start, m, out, first=0):
    """out[i] = X[idx[start + i]] for first <= i < m; returns the (m, n) view of out.

    An explicit loop over the columns: the row assignment ``out[i] = X[r]`` goes
    through Numba's general broadcasting copy and ran 3x slower (22 against 7 ms
    for 50,000 MNIST rows).
    """
    n = X.shape[1]
    for i in range(first, m):
        x = X[idx[start + i]]
        o = out[i]
        for k in range(n):
            o[k] = x[k]
    return out[:m]


@njit(cache=True)
def prefetch_rows(X, idx, start, m):
    """Ask for the rows X[idx[start + i]], 0 <= i < m, to be brought into cache, one hint per
    64-byte line, so the next block's gather finds them there.

    A training set larger than the last-level cache (50,000 MNIST images are 157 MB in
    float32) is read from memory once per epoch in random order; without the hint each
    gather waits for memory.
    """
    step = max(1, 64 // X.itemsize)
    for i in range(m):
        r = idx[start + i]
        for k in range(0, X.shape[1], step):
            prefetch(X, r, k)


@njit(cache=True)
def accumulate_gradient(params, w_off, b_off, sizes, hidden, output, cost, X, Y, idx, grad):
    """Add sum over the examples idx of the cost gradient (no L2 term) to grad."""
    n = len(idx)
    chunk = min(CHUNK, max(n, 1))
    acts, a_off = alloc_acts(sizes, chunk, X)
    width = max_width(sizes)
    d1 = np.empty(chunk * width, dtype=X.dtype)
    d2 = np.empty(chunk * width, dtype=X.dtype)
    Xb = np.empty((chunk, X.shape[1]), dtype=X.dtype)
    Yb = np.empty((chunk, Y.shape[1]), dtype=Y.dtype)
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        block_gradient(params, w_off, b_off, sizes, hidden, output, cost,
                       gather_rows(X, idx, start, m, Xb), gather_rows(Y, idx, start, m, Yb),
                       grad, acts, a_off, d1, d2)
