"""The machine's own limits, measured in the same run as the epochs (one thread).

- sgemm rate: float32 matrix-matrix product through NumPy's BLAS, 1024 x 1024 x 1024.
- matrix-vector rate: float32 W @ x with a 160 x 784 W (490 KB, in the L2 cache), what online
  learning does with each example: every weight is read for two flops, so memory, not the
  multiply-add units, sets the pace.

The work of one epoch, counted in floating-point operations (a multiply-add is 2):
per example, the forward pass (2 per weight) and the weight gradient (2 per weight), plus
w^T delta for every layer but the first (2 per weight); per update, the step (2 per weight).
For [784,30,10] at batch 1 that is 143,520 per example, 7.2 GFLOP per epoch of 50,000.
"""
import time

import numpy as np


def n_weights(sizes):
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def flops_per_example(sizes, batch_size):
    """Floating-point operations per example of one SGD epoch (the update is shared by the batch)."""
    w = n_weights(sizes)
    first = sizes[0] * sizes[1]
    return 2 * w + 2 * w + 2 * (w - first) + 2 * w / batch_size


def best_time(fn, repeat=5, number=1):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def sgemm_rate(n=1024):
    """GFLOP/s of a float32 n x n x n matrix product (BLAS, as many threads as BLAS is given: the bench uses 1)."""
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    c = np.empty((n, n), np.float32)
    np.dot(a, b, out=c)
    return 2 * n ** 3 / best_time(lambda: np.dot(a, b, out=c)) / 1e9


def gemv_rate(n_out=160, n_in=784):
    """GFLOP/s of float32 (n_out x n_in) @ (n_in,) with W in cache (large enough that call overhead is small)."""
    rng = np.random.default_rng(0)
    w, x = rng.random((n_out, n_in), dtype=np.float32), rng.random(n_in, dtype=np.float32)
    y = np.empty(n_out, np.float32)
    return 2 * n_out * n_in / best_time(lambda: np.dot(w, x, out=y), number=500) / 1e9


def limit_seconds(sizes, batch_size, n_examples, gflops):
    """The shortest possible epoch at a rate of gflops."""
    return flops_per_example(sizes, batch_size) * n_examples / (gflops * 1e9)
