"""One epoch of stochastic gradient descent per call, online or mini-batch.

The book's update for a mini-batch of m examples out of n training examples:

    w <- (1 - eta*lmbda/n) w - (eta/m) sum_x nabla_w C_x
    b <- b - (eta/m) sum_x nabla_b C_x

With classical momentum mu > 0 (velocity v, one entry per parameter):

    v <- mu v - (eta/m) sum_x nabla C_x - (eta*lmbda/n) w      (no L2 term for biases)
    w <- w + v

``order`` gives the example indices in the order they are visited, so shuffling
stays with the caller and is reproducible. The last mini-batch may be smaller.
"""
import numpy as np
from numba import njit

from .activations import activate, scale_by_derivative
from .codes import FASTMATH
from .backprop import block_backprop, block_gradient, gather_rows, prefetch_rows
from .costs import output_delta
from .forward import forward_layers
from .gemm import add_outer, linear
from .layout import alloc_acts, biases, block, max_width, view2d, weights


@njit(cache=True, fastmath=FASTMATH)
def _online_update_layer(W, b, V, vb, delta, a_prev, delta_prev, need_prev, eta, decay_l2, mu):
    """Update one layer from one example's delta, and compute w^T delta for the layer below.

    delta_prev is computed from each weight *before* that weight changes: the
    error of the layer below belongs to the weights that produced this output.
    """
    n_out, n_in = W.shape
    zero = W.dtype.type(0)
    one = W.dtype.type(1)
    if need_prev:
        delta_prev[:] = zero
    for j in range(n_out):
        ed = eta * delta[j]
        if mu == zero:
            decay = one - decay_l2
            if need_prev:
                d = delta[j]
                for k in range(n_in):
                    w = W[j, k]
                    delta_prev[k] += d * w
                    W[j, k] = decay * w - ed * a_prev[k]
            else:
                for k in range(n_in):
                    W[j, k] = decay * W[j, k] - ed * a_prev[k]
            b[j] -= ed
        else:
            d = delta[j]
            for k in range(n_in):
                w = W[j, k]
                if need_prev:
                    delta_prev[k] += d * w
                v = mu * V[j, k] - ed * a_prev[k] - decay_l2 * w
                V[j, k] = v
                W[j, k] = w + v
            v = mu * vb[j] - ed
            vb[j] = v
            b[j] += v


BLOCK = 16  # examples per delayed first-layer update in online learning


@njit(cache=True, fastmath=FASTMATH)
def _first_layer_input(Z0, G, D0, P, b, eta, t, z):
    """z = P[t] Z0[t] - eta sum_{s<t} P[t-1-s] G[t, s] D0[s] + b: the first layer's weighted input
    for example t of a block, as if the first t updates of the block had been applied to W."""
    n = len(z)
    c = P[t]
    for j in range(n):
        z[j] = c * Z0[t, j] + b[j]
    for s in range(t):
        g = -eta * P[t - 1 - s] * G[t, s]
        d = D0[s]
        for j in range(n):
            z[j] += g * d[j]


@njit(cache=True)
def _online_epoch_blocked(params, w_off, b_off, sizes, hidden, output, cost, X, Y, order, eta, decay_l2):
    """online_epoch without momentum, with the first layer's updates applied BLOCK examples at a time.

    Online learning reads and writes the whole first weight matrix W for every
    example, which bounds it by cache bandwidth, not arithmetic. But within a
    block of examples x_0 .. x_{T-1}, with c = 1 - eta*lmbda/n,

        W_t = c^t W_0 - eta sum_{s<t} c^{t-1-s} delta_s x_s^T,
        so W_t x_t = c^t (W_0 x_t) - eta sum_{s<t} c^{t-1-s} delta_s (x_s . x_t).

    So one blocked product W_0 X^T and the Gram matrix X X^T of the block give
    every example's first-layer input exactly, up to round-off, and W_T is
    applied once at the end as a rank-T update. Every other layer, and the
    first layer's biases, are updated after every example as before. This is
    the same algorithm as online_epoch, not an approximation of it.
    """
    L = len(sizes) - 1
    dt = X.dtype.type
    T = BLOCK
    n0, n1 = sizes[0], sizes[1]
    Xb = np.empty((T, n0), dtype=X.dtype)
    Z0 = np.empty((T, n1), dtype=X.dtype)
    D0 = np.empty((T, n1), dtype=X.dtype)
    G = np.zeros((T, T), dtype=X.dtype)
    P = np.empty(T + 1, dtype=X.dtype)  # P[k] = c^k
    P[0] = dt(1)
    for k in range(1, T + 1):
        P[k] = P[k - 1] * (dt(1) - decay_l2)
    no_bias = np.zeros(max(n1, T), dtype=X.dtype)  # zero biases for both products below
    acts, a_off = alloc_acts(sizes, 1, X)
    width = max_width(sizes)
    d1 = np.empty(width, dtype=X.dtype)
    d2 = np.empty(width, dtype=X.dtype)
    W0 = weights(params, w_off, sizes, 0)
    b0 = biases(params, b_off, sizes, 0)
    for start in range(0, len(order), T):
        m = min(T, len(order) - start)
        Xm = gather_rows(X, order, start, m, Xb)
        prefetch_rows(X, order, start + m, min(T, len(order) - start - m))
        linear(W0, no_bias[:n1], Xm, Z0[:m])
        for t0 in range(0, m, 4):  # G[t, s] = x_t . x_s for s < t (and a little more), 4 rows at a time
            t1 = min(m, t0 + 4)
            linear(Xm[:t1], no_bias[:t1], Xm[t0:t1], G[t0:t1, :t1])
        for t in range(m):
            r = order[start + t]
            A1 = block(acts, a_off, sizes, 1, 1)
            _first_layer_input(Z0, G, D0, P, b0, eta, t, A1[0])
            activate(A1, output if L == 1 else hidden)
            forward_layers(params, w_off, b_off, sizes, hidden, output, A1, acts, a_off, 1)
            D = view2d(d1, 0, 1, sizes[L])
            output_delta(block(acts, a_off, sizes, L, 1), Y[r:r + 1], cost, output, D)
            in_d1 = True
            for l in range(L - 1, 0, -1):
                A_prev = block(acts, a_off, sizes, l, 1)
                D_prev = view2d(d2 if in_d1 else d1, 0, 1, sizes[l])
                W = weights(params, w_off, sizes, l)
                b = biases(params, b_off, sizes, l)
                _online_update_layer(W, b, W, b, D[0], A_prev[0], D_prev[0], True, eta, decay_l2, dt(0))
                scale_by_derivative(D_prev, A_prev, hidden)
                in_d1 = not in_d1
                D = D_prev
            for j in range(n1):
                D0[t, j] = D[0, j]
                b0[j] -= eta * D[0, j]
        # W <- c^m W_0 - eta sum_s c^(m-1-s) delta_s x_s^T
        if decay_l2 != dt(0):
            for s in range(m):
                for j in range(n1):
                    D0[s, j] *= P[m - 1 - s]
            for j in range(n1):
                for k in range(n0):
                    W0[j, k] *= P[m]
        add_outer(W0, -eta, D0[:m], Xm)


@njit(cache=True, nogil=True)
def online_epoch(params, velocity, w_off, b_off, sizes, hidden, output, cost, X, Y, order, eta, lmbda, mu, n):
    """One epoch of online learning (mini-batch size 1) over X[order], updating params in place.

    For each example: forward pass, then from the output layer down, compute
    delta, fuse the gradient into the weight update (no gradient buffer), and
    pass w^T delta down. velocity is used only when mu > 0.
    """
    L = len(sizes) - 1
    decay_l2 = eta * lmbda / X.dtype.type(n)
    if mu == X.dtype.type(0):
        _online_epoch_blocked(params, w_off, b_off, sizes, hidden, output, cost, X, Y, order, eta, decay_l2)
        return
    acts, a_off = alloc_acts(sizes, 1, X)
    width = max_width(sizes)
    d1 = np.empty(width, dtype=X.dtype)
    d2 = np.empty(width, dtype=X.dtype)
    for t in range(len(order)):
        r = order[t]
        A0 = X[r:r + 1]
        forward_layers(params, w_off, b_off, sizes, hidden, output, A0, acts, a_off)
        D = view2d(d1, 0, 1, sizes[L])
        output_delta(block(acts, a_off, sizes, L, 1), Y[r:r + 1], cost, output, D)
        in_d1 = True  # delta is in d1; the next one goes to the other buffer
        for l in range(L - 1, -1, -1):
            A_prev = A0 if l == 0 else block(acts, a_off, sizes, l, 1)
            D_prev = view2d(d2 if in_d1 else d1, 0, 1, sizes[l])
            _online_update_layer(weights(params, w_off, sizes, l), biases(params, b_off, sizes, l),
                                 weights(velocity, w_off, sizes, l), biases(velocity, b_off, sizes, l),
                                 D[0], A_prev[0], D_prev[0], l > 0, eta, decay_l2, mu)
            if l > 0:
                scale_by_derivative(D_prev, A_prev, hidden)
                in_d1 = not in_d1
                D = D_prev


@njit(cache=True, fastmath=FASTMATH)
def momentum_rows(W, b, V, vb, G, gb, step, decay_l2, mu):
    """One layer's (or a range of its rows') update from the summed gradient G, gb:
    plain SGD when mu == 0 (V, vb unused), else classical momentum with velocity V, vb."""
    zero = W.dtype.type(0)
    if mu == zero:
        decay = W.dtype.type(1) - decay_l2
        for j in range(W.shape[0]):
            for k in range(W.shape[1]):
                W[j, k] = decay * W[j, k] - step * G[j, k]
            b[j] -= step * gb[j]
    else:
        for j in range(W.shape[0]):
            for k in range(W.shape[1]):
                v = mu * V[j, k] - step * G[j, k] - decay_l2 * W[j, k]
                V[j, k] = v
                W[j, k] += v
            v = mu * vb[j] - step * gb[j]
            vb[j] = v
            b[j] += v


@njit(cache=True)
def apply_update(params, grad, velocity, w_off, b_off, sizes, step, decay_l2, mu):
    """params <- params updated from the summed gradient grad; step = eta/m, decay_l2 = eta*lmbda/n."""
    for l in range(len(sizes) - 1):
        momentum_rows(weights(params, w_off, sizes, l), biases(params, b_off, sizes, l),
                      weights(velocity, w_off, sizes, l), biases(velocity, b_off, sizes, l),
                      weights(grad, w_off, sizes, l), biases(grad, b_off, sizes, l), step, decay_l2, mu)


@njit(cache=True, nogil=True)
def minibatch_epoch(params, velocity, w_off, b_off, sizes, hidden, output, cost, X, Y, order,
                    batch_size, eta, lmbda, mu, n):
    """One epoch of mini-batch SGD over X[order] in batches of batch_size, updating params in place."""
    m_max = min(batch_size, max(len(order), 1))
    acts, a_off = alloc_acts(sizes, m_max, X)
    width = max_width(sizes)
    d1 = np.empty(m_max * width, dtype=X.dtype)
    d2 = np.empty(m_max * width, dtype=X.dtype)
    Xb = np.empty((m_max, X.shape[1]), dtype=X.dtype)
    Yb = np.empty((m_max, Y.shape[1]), dtype=Y.dtype)
    decay_l2 = eta * lmbda / X.dtype.type(n)
    zero = X.dtype.type(0)
    one = X.dtype.type(1)
    # Without momentum the update is fused into backprop: no gradient buffer.
    grad = np.empty(0 if mu == zero else len(params), dtype=params.dtype)
    for start in range(0, len(order), batch_size):
        m = min(batch_size, len(order) - start)
        Xm = gather_rows(X, order, start, m, Xb)
        Ym = gather_rows(Y, order, start, m, Yb)
        ahead = min(batch_size, len(order) - start - m)
        prefetch_rows(X, order, start + m, ahead)
        prefetch_rows(Y, order, start + m, ahead)
        if mu == zero:
            block_backprop(params, w_off, b_off, sizes, hidden, output, cost, Xm, Ym,
                           params, -eta / X.dtype.type(m), one - decay_l2, acts, a_off, d1, d2)
        else:
            grad[:] = zero
            block_gradient(params, w_off, b_off, sizes, hidden, output, cost, Xm, Ym, grad, acts, a_off, d1, d2)
            apply_update(params, grad, velocity, w_off, b_off, sizes, eta / X.dtype.type(m), decay_l2, mu)
