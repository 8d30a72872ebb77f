"""Backpropagation: the error delta^l of every layer and the gradient of the cost.

    delta^L = output error (see costs.output_delta)
    delta^l = ((w^{l+1})^T delta^{l+1}) * sigma'(z^l)
    dC/db^l = delta^l,   dC/dw^l = delta^l (a^{l-1})^T

For a block of examples the gradients are summed over the block. Backprop computes
errors and gradients; changing the weights is ``update``'s job.
"""
import numpy as np
from numba import njit

from .activations import scale_by_derivative
from .codes import FASTMATH
from .costs import check_training_codes, output_delta
from .denormals import flush_denormals, restore_denormals
from .forward import CHUNK, forward_layers
from .gemm import add_outer, add_outer_goes_to_blas, blas_add_outer
from .layout import alloc_acts, biases, block, max_width, prefetch, weights
from .views import any_layout


@njit(cache=True, fastmath=FASTMATH)
def delta_below(D, W, D_prev):
    """D_prev = D W: (w^T delta) for every example, before sigma'(z) of the layer below.

    W may be a range of columns of a layer's weights, with D_prev the matching columns. add_outer's routes
    get the F-ordered view D.T as it is (they read D through its strides, ``views.any_layout``); where the
    product goes to BLAS, this calls BLAS itself: through add_outer, the product of 30 x 30 weights at
    batch 20 took about 50 ns (15%) longer a call, 1.4-1.8% of the epoch of [784,30,30,30,30,10].
    """
    D_prev[:, :] = D.dtype.type(0)
    Dt = D.T
    if add_outer_goes_to_blas(D_prev, Dt, W):
        blas_add_outer(D_prev, D.dtype.type(1), any_layout(Dt), W)
    else:
        add_outer(D_prev, D.dtype.type(1), Dt, W)


@njit(cache=True, fastmath=FASTMATH)
def backward(params, w_off, b_off, sizes, hidden, output, cost, A0, Y, acts, a_off, deltas, first=0):
    """Forward pass over the block A0 (m examples, targets Y), then delta^l of every layer above ``first``.

    A0 holds layer first's activations (the input by default). acts receives the activations
    and deltas the errors, both in the layout of ``alloc_acts`` (layer l's block of m rows at
    a_off[l]). Every delta is computed from the weights as they are: an update comes after,
    from ``update``.
    """
    m = A0.shape[0]
    L = len(sizes) - 1
    forward_layers(params, w_off, b_off, sizes, hidden, output, A0, acts, a_off, first)
    D = block(deltas, a_off, sizes, L, m)
    output_delta(block(acts, a_off, sizes, L, m), Y, cost, output, D)
    for l in range(L - 1, 0, -1):
        D_prev = block(deltas, a_off, sizes, l, m)
        delta_below(D, weights(params, w_off, sizes, l), D_prev)
        scale_by_derivative(D_prev, block(acts, a_off, sizes, l, m), hidden)
        D = D_prev


SMALL_BLOCK = 32  # column_sums sums blocks of fewer examples down the columns


@njit(cache=True, fastmath=FASTMATH, inline="always")
def column_sums(D, out):
    """out[j] = sum_i D[i, j], the bias gradient summed over a block; returns out.

    Each column is summed over the examples in order. From SMALL_BLOCK examples the loop runs
    along the rows, so it vectorises over the columns: down the columns it read one element per
    row of D, 0.087 ms for 1000 x 100 float32 (2% of an epoch's batch of 1000 at [784, 100, 10]).
    A block of fewer examples sums down the columns, as the update and the gradient did before: on a
    few rows the extra passes over out gain nothing.
    """
    m, n = D.shape
    zero = D.dtype.type(0)
    if m < SMALL_BLOCK:
        for j in range(n):
            t = zero
            for i in range(m):
                t += D[i, j]
            out[j] = t
        return out
    for j in range(n):
        out[j] = zero
    for i in range(m):
        d = D[i]
        for j in range(n):
            out[j] += d[j]
    return out


@njit(cache=True, fastmath=FASTMATH)
def layer_gradient(G, gb, D, A_prev, sums):
    """G += D^T A_prev and gb += sum_i D[i]: a layer's gradient summed over a block,
    dC/dw^l = delta^l (a^{l-1})^T and dC/db^l = delta^l for each example. The block's bias
    gradient is summed first, into the scratch ``sums`` (at least D.shape[1] entries), then
    added: gb may hold earlier blocks."""
    n_out = D.shape[1]
    column_sums(D, sums[:n_out])
    add_outer(G, D.dtype.type(1), D, A_prev)
    for j in range(n_out):
        gb[j] += sums[j]


@njit(cache=True)
def block_gradient(params, w_off, b_off, sizes, hidden, output, cost, A0, Y, grad, acts, a_off, deltas, sums):
    """Add the gradient of the cost summed over the block A0 (targets Y) to grad (layout of params).
    sums is scratch of ``max_width(sizes)`` entries."""
    m = A0.shape[0]
    backward(params, w_off, b_off, sizes, hidden, output, cost, A0, Y, acts, a_off, deltas, np.int64(0))  # as the epochs
    for l in range(len(sizes) - 1):
        A_prev = A0 if l == 0 else block(acts, a_off, sizes, l, m)
        layer_gradient(weights(grad, w_off, sizes, l), biases(grad, b_off, sizes, l),
                       block(deltas, a_off, sizes, l + 1, m), A_prev, sums)


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


PREFETCH_BYTES = 128 * 1024  # how far ahead prefetch_rows reads: a few rows' worth of L2


@njit(cache=True)
def prefetch_rows(X, idx, start, m, first=0):
    """Ask for the rows X[idx[start + i]], first <= i < m, to be brought into cache, one hint per
    64-byte line, so the next block's gather finds them there; only the rows within the first
    PREFETCH_BYTES of the block are asked for.

    A training set larger than the last-level cache (50,000 MNIST images are 157 MB in
    float32) is read from memory once per epoch in random order; without the hint each
    gather waits for memory. But hints for a whole block of 1000 MNIST rows (3.1 MB, more
    than the L2 cache) pushed the block being computed, and the weights, out of L2: batches of
    1000 at [784, 30, 10] and [784, 100, 10] ran 9% faster with no hints at all than with
    them; hints for the first 16 to 128 rows kept what the hints gave at batch 20 and took back most
    of that loss (bench/ab-prefetch.md).
    """
    step = max(1, 64 // X.itemsize)
    m = min(m, max(1, PREFETCH_BYTES // (X.shape[1] * X.itemsize)))
    for i in range(first, m):
        r = idx[start + i]
        for k in range(0, X.shape[1], step):
            prefetch(X, r, k)


@njit(cache=True)
def accumulate_gradient(params, w_off, b_off, sizes, hidden, output, cost, X, Y, idx, grad):
    """Add sum over the examples idx of the cost gradient (no L2 term) to grad."""
    check_training_codes(hidden, output, cost)
    n = len(idx)
    chunk = min(CHUNK, max(n, 1))
    acts, a_off = alloc_acts(sizes, chunk, X)
    deltas, _ = alloc_acts(sizes, chunk, X)
    Xb = np.empty((chunk, X.shape[1]), dtype=X.dtype)
    Yb = np.empty((chunk, Y.shape[1]), dtype=Y.dtype)
    sums = np.empty(max_width(sizes), dtype=X.dtype)
    state = flush_denormals()  # after the checks and allocations: nothing below raises
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        block_gradient(params, w_off, b_off, sizes, hidden, output, cost,
                       gather_rows(X, idx, start, m, Xb), gather_rows(Y, idx, start, m, Yb),
                       grad, acts, a_off, deltas, sums)
    restore_denormals(state)
