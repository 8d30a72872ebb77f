"""One epoch of stochastic gradient descent per call, online or mini-batch.

An epoch visits X[order] in mini-batches of ``batch_size`` (the last one may be smaller):
for each, the forward pass and backprop give every layer's delta (``backprop``), then the
update rule changes the weights (``update``: SGD, momentum or Nesterov, code ``rule``,
hyper-parameters ``hyper``). ``order`` gives the example indices in the order they are
visited, so shuffling stays with the caller and is reproducible. ``velocity`` is the
rules' state, laid out like params (never touched by plain SGD, so params may stand in).

While an epoch runs, its thread flushes denormal numbers to zero (``kernels.denormals``): on an
Intel CPU they cost microcode assists that made online learning on [784, 1000, 10] 20 times slower.

Every epoch returns its loss for free: the sum, in float64, of the cost C(a, y) of each
example at the weights it saw, before its own update (before its mini-batch's update), as
scikit-learn's ``loss_curve_`` and Keras's history count it. The forward pass has computed a
anyway, so this adds no pass over the data (``costs.block_loss``).
"""
import numpy as np
from numba import njit

from .activations import activate, scale_by_derivative
from .backprop import backward, gather_rows, prefetch_rows
from .codes import ETA, DECAY, FASTMATH, SGD
from .costs import block_loss, check_training_codes, loss_value, new_loss, output_delta
from .denormals import flush_denormals, restore_denormals
from .forward import forward_layers
from .gemm import (EB, blas_linear_transposed, first_layer_transposed, linear, linear_loops, linear_takes_blas,
                   linear_takes_tiles)
from .layout import alloc_acts, biases, block, max_width, weights
from .update import (check_rule, online_update, sgd_block_apply, sgd_block_bias, sgd_block_input,
                     sgd_block_powers, update_rows, update_transposed)
from .views import view2d

BLOCK = 16  # examples per delayed first-layer update in online learning
# Layer numbers passed as np.int64, never as literals: a constant argument is typed Literal[int](0) or (1), and
# left out, Omitted(0); each is a type of its own, so backward, with all it calls, was compiled once per kind of
# constant (the transposed first layer's constants had made a cold start 10-15 s longer). The transposed
# layer's batch loop stays inside minibatch_epoch for the same reason: as a function of its own, LLVM optimised
# backward and every product route again inside it (5-8 s more).
FIRST_LAYER = np.int64(0)


@njit(cache=True)
def _online_epoch_blocked(params, w_off, b_off, sizes, hidden, output, cost, X, Y, order, hyper):
    """online_epoch for plain SGD, with the first layer's updates applied BLOCK examples at a time.

    Online learning reads and writes the whole first weight matrix W for every
    example, which bounds it by cache bandwidth, not arithmetic. But within a
    block of examples x_0 .. x_{T-1}, with c = 1 - eta*lmbda/n,

        W_t = c^t W_0 - eta sum_{s<t} c^{t-1-s} delta_s x_s^T,
        so W_t x_t = c^t (W_0 x_t) - eta sum_{s<t} c^{t-1-s} delta_s (x_s . x_t).

    So one blocked product W_0 X^T and the Gram matrix X X^T of the block give
    every example's first-layer input exactly, up to round-off, and W_T is
    applied once at the end as a rank-T update (``update.sgd_block_*``). Every
    other layer, and the first layer's biases, are updated after every example
    as before. This is the same algorithm as online_epoch, not an approximation of it.
    Returns the epoch's summed cost, as online_epoch.
    """
    L = len(sizes) - 1
    T = BLOCK
    eta = hyper[ETA]
    n0, n1 = sizes[0], sizes[1]
    Xb = np.empty((T, n0), dtype=X.dtype)
    Z0 = np.empty((T, n1), dtype=X.dtype)
    D0 = np.empty((T, n1), dtype=X.dtype)
    G = np.zeros((T, T), dtype=X.dtype)
    P = np.empty(T + 1, dtype=X.dtype)  # P[k] = c^k
    sgd_block_powers(hyper[DECAY], P)
    no_bias = np.zeros(max(n1, T), dtype=X.dtype)  # zero biases for both products below
    acts, a_off = alloc_acts(sizes, 1, X)
    width = max_width(sizes)
    d1 = np.empty(width, dtype=X.dtype)
    d2 = np.empty(width, dtype=X.dtype)
    W0 = weights(params, w_off, sizes, 0)
    b0 = biases(params, b_off, sizes, 0)
    loss = new_loss()
    for start in range(0, len(order), T):
        m = min(T, len(order) - start)
        Xm = gather_rows(X, order, start, m, Xb)
        prefetch_rows(X, order, start + m, min(T, len(order) - start - m))
        linear(W0, no_bias[:n1], Xm, Z0[:m], no_bias[:0])  # no scratch: these stay on the loops
        for t0 in range(0, m, 4):  # G[t, s] = x_t . x_s for s < t (and a little more), 4 rows at a time
            t1 = min(m, t0 + 4)
            linear(Xm[:t1], no_bias[:t1], Xm[t0:t1], G[t0:t1, :t1], no_bias[:0])
        for t in range(m):
            r = order[start + t]
            A1 = block(acts, a_off, sizes, 1, 1)
            sgd_block_input(Z0, G, D0, P, b0, eta, t, A1[0])
            activate(A1, output if L == 1 else hidden)
            forward_layers(params, w_off, b_off, sizes, hidden, output, A1, acts, a_off, FIRST_LAYER + 1)
            A_out = block(acts, a_off, sizes, L, 1)
            block_loss(A_out, Y[r:r + 1], cost, loss)
            D = view2d(d1, 0, 1, sizes[L])
            output_delta(A_out, Y[r:r + 1], cost, output, D)
            in_d1 = True
            for l in range(L - 1, 0, -1):
                A_prev = block(acts, a_off, sizes, l, 1)
                D_prev = view2d(d2 if in_d1 else d1, 0, 1, sizes[l])
                W = weights(params, w_off, sizes, l)
                b = biases(params, b_off, sizes, l)
                online_update(SGD, hyper, W, b, W, b, D[0], A_prev[0], D_prev[0], True)
                scale_by_derivative(D_prev, A_prev, hidden)
                in_d1 = not in_d1
                D = D_prev
            for j in range(n1):  # an explicit loop: Numba's row assignment is a general, slower copy
                D0[t, j] = D[0, j]
            sgd_block_bias(b0, D[0], eta)
        sgd_block_apply(W0, D0[:m], Xm, P, eta)
    return loss_value(loss)


@njit(cache=True, nogil=True)
def online_epoch(params, velocity, w_off, b_off, sizes, hidden, output, cost, X, Y, order, rule, hyper):
    """One epoch of online learning (mini-batch size 1) over X[order], updating params in place.

    For each example: forward pass, then from the output layer down, compute delta,
    update the layer (``update.online_update``, no gradient buffer), and pass w^T delta
    down. Plain SGD takes the blocked form (``_online_epoch_blocked``), which computes the same.
    Returns sum over the examples of C(a(x), y(x)) at the weights before x's update, in float64.
    """
    check_rule(rule)
    check_training_codes(hidden, output, cost)
    state = flush_denormals()
    if rule == SGD:
        loss = _online_epoch_blocked(params, w_off, b_off, sizes, hidden, output, cost, X, Y, order, hyper)
    else:
        loss = _online_epoch_rule(params, velocity, w_off, b_off, sizes, hidden, output, cost, X, Y, order, rule,
                                  hyper)
    restore_denormals(state)
    return loss


@njit(cache=True)
def _online_epoch_rule(params, velocity, w_off, b_off, sizes, hidden, output, cost, X, Y, order, rule, hyper):
    """online_epoch for the rules with a velocity, one example's update at a time."""
    L = len(sizes) - 1
    acts, a_off = alloc_acts(sizes, 1, X)
    width = max_width(sizes)
    d1 = np.empty(width, dtype=X.dtype)
    d2 = np.empty(width, dtype=X.dtype)
    loss = new_loss()
    for t in range(len(order)):
        r = order[t]
        A0 = X[r:r + 1]
        forward_layers(params, w_off, b_off, sizes, hidden, output, A0, acts, a_off, FIRST_LAYER)
        A_out = block(acts, a_off, sizes, L, 1)
        block_loss(A_out, Y[r:r + 1], cost, loss)
        D = view2d(d1, 0, 1, sizes[L])
        output_delta(A_out, Y[r:r + 1], cost, output, D)
        in_d1 = True  # delta is in d1; the next one goes to the other buffer
        for l in range(L - 1, -1, -1):
            A_prev = A0 if l == 0 else block(acts, a_off, sizes, l, 1)
            D_prev = view2d(d2 if in_d1 else d1, 0, 1, sizes[l])
            online_update(rule, hyper, weights(params, w_off, sizes, l), biases(params, b_off, sizes, l),
                          weights(velocity, w_off, sizes, l), biases(velocity, b_off, sizes, l),
                          D[0], A_prev[0], D_prev[0], l > 0)
            if l > 0:
                scale_by_derivative(D_prev, A_prev, hidden)
                in_d1 = not in_d1
                D = D_prev
    return loss_value(loss)


@njit(cache=True)
def gradient_scratch(sizes, rule, dtype_like):
    """Scratch for update_rows: one layer's gradient (rows x (n_in + 1)), only the bias gradient (rows) for plain SGD."""
    size = 0
    for l in range(len(sizes) - 1):
        size = max(size, sizes[l + 1] * (sizes[l] + 1) if rule != SGD else sizes[l + 1])
    return np.empty(size, dtype=dtype_like.dtype)


@njit(cache=True)
def update_layers(rule, hyper, params, velocity, w_off, b_off, sizes, A0, acts, deltas, a_off, G, first=0):
    """Every layer's update from layer ``first`` up, from the block's inputs A0, activations acts and deltas
    (see backprop.backward)."""
    m = A0.shape[0]
    for l in range(first, len(sizes) - 1):
        update_rows(rule, hyper, weights(params, w_off, sizes, l), biases(params, b_off, sizes, l),
                    weights(velocity, w_off, sizes, l), biases(velocity, b_off, sizes, l),
                    block(deltas, a_off, sizes, l + 1, m), A0 if l == 0 else block(acts, a_off, sizes, l, m), G)


@njit(cache=True)
def _transpose_into(W, WT):
    """WT[k, j] = W[j, k]: contiguous writes (2.8x faster than contiguous reads at 30 x 784, gemm.tile_linear)."""
    for k in range(W.shape[1]):
        wt = WT[k]
        for j in range(W.shape[0]):
            wt[j] = W[j, k]


@njit(cache=True, inline="always")
def _next_rows(A, order, start, m, ahead, out):
    """A[order[start:start + m]] gathered into out, with the next batch's first ``ahead`` rows asked for."""
    rows = gather_rows(A, order, start, m, out)
    prefetch_rows(A, order, start + m, ahead)
    return rows


@njit(cache=True, inline="always")
def _next_batch(X, Y, order, start, batch_size, Xb, Yb):
    """(m, X[order[start:start + m]], Y[...]) gathered into Xb, Yb, with the next batch's rows asked for."""
    m = min(batch_size, len(order) - start)
    ahead = min(batch_size, len(order) - start - m)
    return m, _next_rows(X, order, start, m, ahead, Xb), _next_rows(Y, order, start, m, ahead, Yb)


@njit(cache=True)
def first_layer_streamed(m, n_out, n_in, itemsize):
    """True where a batch of m examples (two or more) takes its first layer's forward product on linear's loops,
    neither BLAS nor the tiles: ``minibatch_epoch`` then gathers the batch EB rows at a time and multiplies
    each EB rows as they arrive (``_gather_forward``)."""
    return (m > 1) & (not linear_takes_tiles(m, n_out)) & (not linear_takes_blas(m, n_out, n_in, itemsize))


@njit(cache=True, fastmath=FASTMATH)
def _gather_forward(W, b, X, order, start, m, ahead, Xb, Z):
    """Xb[:m] = X[order[start:start + m]] and Z = Xb[:m] W^T + b on linear's loops, EB rows at a time: each
    EB rows are gathered, the next EB asked for (past the batch's end, the next batch's first ``ahead``), and
    the EB rows multiplied while those arrive. Returns Xb[:m].

    The loops take a block EB examples at a time anyway (``gemm._linear_loops``), so Z is what ``linear``
    gives for the whole block, to the bit. Gathered whole, a batch of 1000 rows (3.1 MB at 784 float32
    inputs) waits for memory row after row; asked for ahead whole, it pushed the block being multiplied
    out of L2 (bench/ab-prefetch.md)."""
    for c0 in range(0, m, EB):
        c1 = min(m, c0 + EB)
        gather_rows(X, order, start, c1, Xb, c0)
        if c1 < m:
            prefetch_rows(X, order, start + c1, min(EB, m - c1))
        else:
            prefetch_rows(X, order, start + m, ahead)
        linear_loops(W, b, Xb[c0:c1], Z[c0:c1])
    return Xb[:m]


@njit(cache=True, nogil=True)
def minibatch_epoch(params, velocity, w_off, b_off, sizes, hidden, output, cost, X, Y, order, batch_size, rule,
                    hyper):
    """One epoch of mini-batch SGD over X[order] in batches of batch_size, updating params in place.

    Where ``gemm.first_layer_transposed`` says so (in float32, batches of 50 to 399 examples into 64 to 255
    neurons, or to 199 into more, on a CPU with AVX-512, but not from 512 inputs into fewer than 256 neurons
    on AMD Zen 4, where that product stays on the loops, nor where the register tiles take the update of such
    a layer there, up to 300 neurons from 100 examples), the first layer's weights (and velocity) are kept
    transposed, W^T (n_in, n_out), for the whole epoch and put back at its end: OpenBLAS multiplies the batch
    by W^T as it is (neither operand transposed), where the product with W (n_out, n_in) transposes W as it
    packs it, and the update adds X^T delta into W^T. Nothing else reads the first layer's weights during an
    epoch (no delta goes below it). The measurements are in ``kernels/gemm.py``'s docstring.

    Where the first layer's forward product runs on linear's loops (``first_layer_streamed``), each batch is
    gathered EB rows at a time, each EB rows multiplied while the next arrive (``_gather_forward``): paired
    epochs took 0.975-0.995 of the time at batch 10 to 1000, level at 50 (bench/ab-streamed-first-layer.md).

    Returns sum over the examples of C(a(x), y(x)) at the weights before x's mini-batch's update, in float64.
    """
    check_rule(rule)
    check_training_codes(hidden, output, cost)
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    m_max = min(batch_size, max(len(order), 1))
    acts, a_off = alloc_acts(sizes, m_max, X)
    deltas, _ = alloc_acts(sizes, m_max, X)
    Xb = np.empty((m_max, X.shape[1]), dtype=X.dtype)
    Yb = np.empty((m_max, Y.shape[1]), dtype=Y.dtype)
    G = gradient_scratch(sizes, rule, X)
    L = len(sizes) - 1
    transposed = first_layer_transposed(m_max, sizes[1], sizes[0], X.itemsize)
    WT = np.empty((sizes[0], sizes[1]) if transposed else (0, 0), dtype=X.dtype)
    VT = np.empty((sizes[0], sizes[1]) if transposed and rule != SGD else (0, 0), dtype=X.dtype)
    W0, V0 = weights(params, w_off, sizes, FIRST_LAYER), weights(velocity, w_off, sizes, FIRST_LAYER)
    b0, vb0 = biases(params, b_off, sizes, FIRST_LAYER), biases(velocity, b_off, sizes, FIRST_LAYER)
    loss = new_loss()
    state = flush_denormals()  # after every check and allocation: nothing below raises
    if transposed:
        _transpose_into(W0, WT)
        if rule != SGD:
            _transpose_into(V0, VT)
        for start in range(0, len(order), batch_size):
            m, Xm, Ym = _next_batch(X, Y, order, start, batch_size, Xb, Yb)
            A1 = block(acts, a_off, sizes, 1, m)
            blas_linear_transposed(WT, b0, Xm, A1)
            activate(A1, output if L == 1 else hidden)
            backward(params, w_off, b_off, sizes, hidden, output, cost, A1, Ym, acts, a_off, deltas, FIRST_LAYER + 1)
            block_loss(block(acts, a_off, sizes, L, m), Ym, cost, loss)
            update_transposed(rule, hyper, WT, b0, VT, vb0, block(deltas, a_off, sizes, 1, m), Xm, G)
            update_layers(rule, hyper, params, velocity, w_off, b_off, sizes, Xm, acts, deltas, a_off, G,
                          FIRST_LAYER + 1)
        _transpose_into(WT, W0)
        if rule != SGD:
            _transpose_into(VT, V0)
    else:
        for start in range(0, len(order), batch_size):
            m = min(batch_size, len(order) - start)
            if first_layer_streamed(m, sizes[1], sizes[0], X.itemsize):
                ahead = min(batch_size, len(order) - start - m)
                Ym = _next_rows(Y, order, start, m, ahead, Yb)
                A1 = block(acts, a_off, sizes, 1, m)
                Xm = _gather_forward(W0, b0, X, order, start, m, ahead, Xb, A1)
                activate(A1, output if L == 1 else hidden)
                backward(params, w_off, b_off, sizes, hidden, output, cost, A1, Ym, acts, a_off, deltas,
                         FIRST_LAYER + 1)
            else:
                m, Xm, Ym = _next_batch(X, Y, order, start, batch_size, Xb, Yb)
                backward(params, w_off, b_off, sizes, hidden, output, cost, Xm, Ym, acts, a_off, deltas, FIRST_LAYER)
            block_loss(block(acts, a_off, sizes, L, m), Ym, cost, loss)
            update_layers(rule, hyper, params, velocity, w_off, b_off, sizes, Xm, acts, deltas, a_off, G, FIRST_LAYER)
    restore_denormals(state)
    return loss_value(loss)

