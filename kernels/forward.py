"""Forward pass: a^{l+1} = sigma(w^l a^l + b^l), and the batched inference kernels.

Inference runs over the data in chunks of CHUNK examples, so one work buffer of
CHUNK rows per layer serves any number of examples. The inference kernels release the GIL, as the
epochs do: under joblib's threading backend, one search's fits score while others train.
"""
import numpy as np
from numba import njit

from .activations import activate, check_layer_codes
from .codes import FASTMATH
from .denormals import flush_denormals, restore_denormals
from .gemm import GROUP, linear
from .layout import alloc_acts, biases, block, linear_scratch, weights

CHUNK = 256


@njit(cache=True, fastmath=FASTMATH)
def forward_layers(params, w_off, b_off, sizes, hidden, output, A0, acts, a_off, first=0):
    """Feed the block A0 (m examples) through the layers above layer ``first``, filling acts.

    A0 holds layer first's activations: the input by default. Hidden layers use the
    activation code ``hidden``, the last layer ``output``. The kernels pass ``first`` as an np.int64, never
    as a literal or left out: each of those is a type of its own, and this function, with every product
    route it calls, would be compiled once per kind (``sgd.FIRST_LAYER``).
    """
    m = A0.shape[0]
    n_layers = len(sizes) - 1
    A_in = A0
    for l in range(first, n_layers):
        Z = block(acts, a_off, sizes, l + 1, m)
        linear(weights(params, w_off, sizes, l), biases(params, b_off, sizes, l), A_in, Z, linear_scratch(acts, a_off))
        activate(Z, output if l == n_layers - 1 else hidden)
        A_in = Z


@njit(cache=True)
def inference_buffers(sizes, n, X):
    """(acts, a_off, pad): work buffers for ``forward_rows`` over up to CHUNK of n rows of X."""
    rows = min(CHUNK, max(GROUP, -(-n // GROUP) * GROUP))
    acts, a_off = alloc_acts(sizes, rows, X, False)  # no scratch for linear's tiles (see forward_rows)
    return acts, a_off, np.empty((rows, X.shape[1]), dtype=X.dtype)


@njit(cache=True)
def forward_rows(params, w_off, b_off, sizes, hidden, output, X, start, m, acts, a_off, pad):
    """The output block (m, sizes[-1]) for the rows X[start:start + m], m <= CHUNK.

    A row's output must not depend on the rows it is computed with (scikit-learn's
    check_methods_subset_invariance predicts row by row), and ``gemm.linear``'s loops sum a
    row's products in an order that depends on the code path: one row takes a matrix-vector
    loop, the last one or two rows of a block a pass of two, the rest passes of GROUP rows,
    and the compiler vectorises each of these differently (bits apart in float32 on an
    AVX-512 machine, though not on the AVX2 one where this was first written). So a block whose
    length is not a multiple of GROUP is copied into ``pad`` with its last row repeated, and
    every row takes a pass of GROUP. Inference gives linear no scratch for its tiles' route
    (``gemm.linear_takes_tiles``), which would take blocks of 32 rows or more only. That holds
    while a block stays on linear's loops: a block that ``gemm.linear_takes_blas`` sends to BLAS (from Routes.blas_linear_block rows into
    BLAS_LINEAR_ROWS neurons or more) is summed in BLAS's order, which differs from the loops'
    by round-off.
    """
    A0 = X[start:start + m]
    rows = -(-m // GROUP) * GROUP
    if rows != m:
        for i in range(rows):
            x = X[start + min(i, m - 1)]
            p = pad[i]
            for k in range(X.shape[1]):
                p[k] = x[k]
        A0 = pad[:rows]
    forward_layers(params, w_off, b_off, sizes, hidden, output, A0, acts, a_off, np.int64(0))  # see forward_layers
    return block(acts, a_off, sizes, len(sizes) - 1, rows)[:m]


@njit(cache=True, nogil=True)
def feedforward(params, w_off, b_off, sizes, hidden, output, X, out):
    """out[i] = network output for X[i], for every row of X."""
    check_layer_codes(hidden, output)
    n = X.shape[0]
    acts, a_off, pad = inference_buffers(sizes, n, X)
    state = flush_denormals()  # after the checks and allocations: nothing below raises
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        A = forward_rows(params, w_off, b_off, sizes, hidden, output, X, start, m, acts, a_off, pad)
        # an explicit copy: the slice assignment compiled Numba's shape-mismatch error, whose message
        # formatting cost about 6 s of every cold start (the shapes match by construction)
        for i in range(m):
            o = out[start + i]
            a = A[i]
            for j in range(A.shape[1]):
                o[j] = a[j]
    restore_denormals(state)


@njit(cache=True, nogil=True)
def predict(params, w_off, b_off, sizes, hidden, output, X, labels):
    """labels[i] = argmax of the network output for X[i]."""
    check_layer_codes(hidden, output)
    n = X.shape[0]
    acts, a_off, pad = inference_buffers(sizes, n, X)
    state = flush_denormals()  # after the checks and allocations: nothing below raises
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        A = forward_rows(params, w_off, b_off, sizes, hidden, output, X, start, m, acts, a_off, pad)
        for i in range(m):
            labels[start + i] = np.argmax(A[i])
    restore_denormals(state)


@njit(cache=True, nogil=True)
def accuracy(params, w_off, b_off, sizes, hidden, output, X, labels):
    """Number of rows of X whose predicted class equals labels[i]."""
    check_layer_codes(hidden, output)
    n = X.shape[0]
    acts, a_off, pad = inference_buffers(sizes, n, X)
    state = flush_denormals()  # after the checks and allocations: nothing below raises
    correct = 0
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        A = forward_rows(params, w_off, b_off, sizes, hidden, output, X, start, m, acts, a_off, pad)
        for i in range(m):
            if np.argmax(A[i]) == labels[start + i]:
                correct += 1
    restore_denormals(state)
    return correct
