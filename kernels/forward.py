"""Forward pass: a^{l+1} = sigma(w^l a^l + b^l), and the batched inference kernels.

Inference runs over the data in chunks of CHUNK examples, so one work buffer of
CHUNK rows per layer serves any number of examples. The inference kernels release the GIL, as the
epochs do: under joblib's threading backend, one search's fits score while others train.
"""
import numpy as np
from numba import njit

from .activations import activate
from .codes import FASTMATH
from .gemm import linear
from .layout import alloc_acts, biases, block, weights

CHUNK = 256


@njit(cache=True, fastmath=FASTMATH)
def forward_layers(params, w_off, b_off, sizes, hidden, output, A0, acts, a_off, first=0):
    """Feed the block A0 (m examples) through the layers above layer ``first``, filling acts.

    A0 holds layer first's activations: the input by default. Hidden layers use the
    activation code ``hidden``, the last layer ``output``.
    """
    m = A0.shape[0]
    n_layers = len(sizes) - 1
    A_in = A0
    for l in range(first, n_layers):
        Z = block(acts, a_off, sizes, l + 1, m)
        linear(weights(params, w_off, sizes, l), biases(params, b_off, sizes, l), A_in, Z)
        activate(Z, output if l == n_layers - 1 else hidden)
        A_in = Z


@njit(cache=True)
def inference_buffers(sizes, n, X):
    """(acts, a_off, pair): work buffers for ``forward_rows`` over up to CHUNK of n rows of X."""
    acts, a_off = alloc_acts(sizes, max(2, min(CHUNK, n)), X)
    return acts, a_off, np.empty((2, X.shape[1]), dtype=X.dtype)


@njit(cache=True)
def forward_rows(params, w_off, b_off, sizes, hidden, output, X, start, m, acts, a_off, pair):
    """The output block (m, sizes[-1]) for the rows X[start:start + m], m <= CHUNK.

    A single row goes through as two copies of itself: ``gemm.linear`` computes one row
    with a matrix-vector loop whose float32 sums round differently from the blocked
    product's, and a row's output must not depend on the rows it is computed with
    (scikit-learn's check_methods_subset_invariance predicts row by row).
    """
    A0 = X[start:start + m]
    if m == 1:
        for k in range(X.shape[1]):
            pair[0, k] = X[start, k]
            pair[1, k] = X[start, k]
        A0 = pair
    forward_layers(params, w_off, b_off, sizes, hidden, output, A0, acts, a_off)
    return block(acts, a_off, sizes, len(sizes) - 1, A0.shape[0])[:m]


@njit(cache=True, nogil=True)
def feedforward(params, w_off, b_off, sizes, hidden, output, X, out):
    """out[i] = network output for X[i], for every row of X."""
    n = X.shape[0]
    acts, a_off, pair = inference_buffers(sizes, n, X)
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        out[start:start + m] = forward_rows(params, w_off, b_off, sizes, hidden, output, X, start, m, acts, a_off, pair)


@njit(cache=True, nogil=True)
def predict(params, w_off, b_off, sizes, hidden, output, X, labels):
    """labels[i] = argmax of the network output for X[i]."""
    n = X.shape[0]
    acts, a_off, pair = inference_buffers(sizes, n, X)
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        A = forward_rows(params, w_off, b_off, sizes, hidden, output, X, start, m, acts, a_off, pair)
        for i in range(m):
            labels[start + i] = np.argmax(A[i])


@njit(cache=True, nogil=True)
def accuracy(params, w_off, b_off, sizes, hidden, output, X, labels):
    """Number of rows of X whose predicted class equals labels[i]."""
    n = X.shape[0]
    acts, a_off, pair = inference_buffers(sizes, n, X)
    correct = 0
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        A = forward_rows(params, w_off, b_off, sizes, hidden, output, X, start, m, acts, a_off, pair)
        for i in range(m):
            if np.argmax(A[i]) == labels[start + i]:
                correct += 1
    return correct
