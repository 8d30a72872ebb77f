"""Update rules: how a layer's weights change, given its error delta. Each rule is written here once.

With eta the learning rate, lmbda the L2 strength, n the training-set size, m the examples of
one update, decay = eta*lmbda/n and u = (eta/m) sum_x dC_x/dw the scaled gradient of one weight:

    SGD (the book):  w <- (1 - decay) w - u
    momentum:        v <- mu v - u - decay w;   w <- w + v
    Nesterov:        v <- mu v - u - decay w;   w <- w + mu v - u - decay w

(Nesterov in the form of Sutskever et al. 2013, as scikit-learn's ``nesterovs_momentum``: the
step looks ahead along the new velocity.) Biases follow the same rules with decay = 0. v is
the velocity, one entry per parameter in a buffer laid out like params; SGD never touches it.
The rule is a code (``codes.SGD``, ``MOMENTUM``, ``NESTEROV``) and its hyper-parameters travel
together in one array ``hyper`` (``hyper[ETA]``, ``hyper[DECAY]``, ``hyper[MU]``).

``step`` is the definition: the new (w, v) of one parameter. The functions below apply it:

- ``update_rows``: one update from a block of m examples, given their deltas D (m, n_out) and
  the layer's inputs A (m, n_in), whose summed gradient is D^T A. SGD is linear in the gradient,
  so there the matrix product adds straight into W and only the bias gradient needs a buffer;
  the other rules form G = D^T A in a scratch buffer and step every parameter. ``update_transposed``
  is the same for weights held transposed.
- ``online_update``: one example, fused with w^T delta for the layer below in the same pass over W.
- ``sgd_block_*``: SGD's closed form over a block of examples, for online learning's first
  layer (see ``sgd.online_epoch``).

Adding a rule means a new code, a branch in ``step`` (the other forms and the checks follow it),
an entry in ``fastnn.registry.OPTIMIZERS`` and ``fastnn.training.Optimizer``'s choice of code, and
the rule in ``tests/reference.py`` and the tests.
"""
import numpy as np
from numba import njit

from .codes import DECAY, ETA, FASTMATH, MOMENTUM, MU, NESTEROV, SGD
from .backprop import column_sums
from .gemm import add_outer, blas_add_outer
from .views import view2d


@njit(cache=True, fastmath=FASTMATH, inline="always")
def step(rule, w, v, u, decay, keep, mu):
    """(new w, new v) for one parameter w with velocity v, scaled gradient u and weight decay
    (keep = 1 - decay, computed by the caller in the parameters' dtype).

    SGD is written (1 - decay) w - u, not w - decay w - u: under fast-math the latter compiled
    to code whose rounding differed between a fresh compilation and the cached one (the same
    online epoch gave weights 1 ulp apart in two processes).
    """
    if rule == SGD:
        return keep * w - u, v
    if rule == MOMENTUM:
        v = mu * v - u - decay * w
        return w + v, v
    if rule == NESTEROV:  # w + mu v' - u - decay w = w + mu v' + (v' - mu v)
        v_new = mu * v - u - decay * w
        return w + (mu * v_new + (v_new - mu * v)), v_new
    raise ValueError("unknown update rule code")


@njit(cache=True)
def check_rule(rule):
    """Raise for a code ``step`` does not know, by taking one step (once per epoch, outside the loops)."""
    step(rule, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0)


@njit(cache=True, fastmath=FASTMATH)
def update_rows(rule, hyper, W, b, V, vb, D, A, G):
    """One update of the rows W, b of a layer (V, vb their velocity) from a block of examples.

    D (m, rows) holds the block's deltas for these rows, A (m, n_in) the layer's inputs; the
    update uses the gradient summed over the block, D^T A and sum_i D[i], divided by m.
    W and b may be a range of rows of a layer, with D the matching columns. G is scratch (see
    ``sgd.gradient_scratch``): rows * (n_in + 1) entries for the rules that need the gradient
    itself, rows for SGD; the last rows entries take the bias gradient.
    """
    _update(rule, hyper, W, b, V, vb, D, A, G, _add_gradient)


@njit(cache=True, fastmath=FASTMATH)
def update_transposed(rule, hyper, WT, b, VT, vb, D, A, G):
    """update_rows for a layer whose weights and velocity are held transposed, WT and VT (n_in, rows), as
    ``sgd.minibatch_epoch`` keeps its first layer on some shapes (``gemm.first_layer_transposed``): the
    summed gradient is A^T D. The product goes to BLAS itself (``gemm.blas_add_outer``, which reads every
    operand as the epoch passes it), where the route sends it anyway: through add_outer, whose routes LLVM
    compiles again inside every caller, this function cost 3-4 s of a cold start."""
    _update(rule, hyper, WT, b, VT, vb, D, A, G, _add_gradient_transposed)


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _update(rule, hyper, W, b, V, vb, D, A, G, add_gradient):
    """update_rows' and update_transposed's step; add_gradient(C, alpha, D, A) adds alpha times the summed
    weight gradient, D^T A in C's orientation, into C (a function, so each caller compiles its own)."""
    m, n_out = D.shape
    dt = W.dtype.type
    s = hyper[ETA] / dt(m)
    decay = hyper[DECAY]
    if rule == SGD:  # w <- (1 - decay) w - s (D^T A)_jk, the product added straight into W
        if decay != dt(0):
            c = dt(1) - decay
            for j in range(W.shape[0]):
                for k in range(W.shape[1]):
                    W[j, k] *= c
        add_gradient(W, -s, D, A)
        gb = column_sums(D, G[:n_out])
        for j in range(n_out):
            b[j] -= s * gb[j]
        return
    Gw = view2d(G, 0, W.shape[0], W.shape[1])
    Gw[:, :] = dt(0)
    add_gradient(Gw, dt(1), D, A)
    gb = column_sums(D, G[Gw.size:Gw.size + n_out])
    if rule == MOMENTUM:
        _gradient_rows(MOMENTUM, s, decay, hyper[MU], W, b, V, vb, gb, Gw)
    elif rule == NESTEROV:
        _gradient_rows(NESTEROV, s, decay, hyper[MU], W, b, V, vb, gb, Gw)
    else:
        raise ValueError("unknown update rule code")


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _add_gradient(C, alpha, D, A):
    """C += alpha D^T A, by whichever route add_outer picks."""
    add_outer(C, alpha, D, A)


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _add_gradient_transposed(CT, alpha, D, A):
    """CT += alpha A^T D, straight to BLAS (see update_transposed)."""
    blas_add_outer(CT, alpha, A, D)


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _gradient_rows(rule, s, decay, mu, W, b, V, vb, gb, Gw):
    """update_rows' loops for one rule (a constant, so ``step``'s switch folds away) from the summed
    gradient Gw and the summed bias gradient gb. W, V and Gw share a layout (either orientation): every
    weight takes its own step."""
    dt = W.dtype.type
    keep = dt(1) - decay
    for j in range(W.shape[0]):
        for k in range(W.shape[1]):
            W[j, k], V[j, k] = step(rule, W[j, k], V[j, k], s * Gw[j, k], decay, keep, mu)
    for j in range(len(b)):
        b[j], vb[j] = step(rule, b[j], vb[j], s * gb[j], dt(0), dt(1), mu)


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _online_rows(rule, eta, decay, mu, W, b, V, vb, delta, a_prev, delta_prev, need_prev):
    """online_update's loops for one rule (called with a constant rule, so ``step``'s switch folds away)."""
    n_out, n_in = W.shape
    zero = W.dtype.type(0)
    one = W.dtype.type(1)
    keep = one - decay
    for j in range(n_out):
        d = delta[j]
        ed = eta * d
        for k in range(n_in):
            w = W[j, k]
            if need_prev:
                delta_prev[k] += d * w
            w, v = step(rule, w, V[j, k], ed * a_prev[k], decay, keep, mu)
            W[j, k] = w
            if rule != SGD:
                V[j, k] = v
        w, v = step(rule, b[j], vb[j], ed, zero, one, mu)
        b[j] = w
        if rule != SGD:
            vb[j] = v


@njit(cache=True, fastmath=FASTMATH)
def online_update(rule, hyper, W, b, V, vb, delta, a_prev, delta_prev, need_prev):
    """One example's update of a layer, and delta_prev = W^T delta for the layer below if need_prev.

    Both come from one pass over W: delta_prev is computed from each weight *before* that
    weight changes, since the error of the layer below belongs to the weights that produced
    this output. The rule is switched once, outside the loops, so each loop vectorises.
    """
    eta, decay, mu = hyper[ETA], hyper[DECAY], hyper[MU]
    if need_prev:
        delta_prev[:] = W.dtype.type(0)
    if rule == SGD:
        _online_rows(SGD, eta, decay, mu, W, b, V, vb, delta, a_prev, delta_prev, need_prev)
    elif rule == MOMENTUM:
        _online_rows(MOMENTUM, eta, decay, mu, W, b, V, vb, delta, a_prev, delta_prev, need_prev)
    elif rule == NESTEROV:
        _online_rows(NESTEROV, eta, decay, mu, W, b, V, vb, delta, a_prev, delta_prev, need_prev)
    else:
        raise ValueError("unknown update rule code")


# ----------------------------------------------------------------------------- SGD over a block, in closed form
@njit(cache=True)
def sgd_block_powers(decay, P):
    """P[k] = c^k with c = 1 - decay, the weights' shrink after k SGD updates."""
    dt = P.dtype.type
    P[0] = dt(1)
    for k in range(1, len(P)):
        P[k] = P[k - 1] * (dt(1) - decay)


@njit(cache=True, fastmath=FASTMATH)
def sgd_block_input(Z0, G, D0, P, b, eta, t, z):
    """z = P[t] Z0[t] - eta sum_{s<t} P[t-1-s] G[t, s] D0[s] + b: the layer's weighted input for
    example t of a block, as if the SGD updates of examples 0 .. t-1 had been applied to W.

    Z0[t] = W_0 x_t (W at the start of the block), G[t, s] = x_t . x_s, D0[s] = delta_s.
    """
    n = len(z)
    c = P[t]
    for j in range(n):
        z[j] = c * Z0[t, j] + b[j]
    for s in range(t):
        g = -eta * P[t - 1 - s] * G[t, s]
        d = D0[s]
        for j in range(n):
            z[j] += g * d[j]


@njit(cache=True, fastmath=FASTMATH)
def sgd_block_bias(b, d, eta):
    """The SGD step of one example for biases b with delta d (applied at once, not in closed form)."""
    for j in range(len(b)):
        b[j] -= eta * d[j]


@njit(cache=True, fastmath=FASTMATH)
def sgd_block_apply(W, D0, Xm, P, eta):
    """W <- c^m W - eta sum_s c^(m-1-s) delta_s x_s^T: the m SGD updates of a block at once.

    D0 (m rows: delta_s) is scaled in place by the powers of c.
    """
    m = Xm.shape[0]
    n1, n0 = W.shape
    if P[1] != P.dtype.type(1):  # decay != 0
        for s in range(m):
            for j in range(n1):
                D0[s, j] *= P[m - 1 - s]
        for j in range(n1):
            for k in range(n0):
                W[j, k] *= P[m]
    add_outer(W, -eta, D0, Xm)
