"""Vectorised NumPy mini-batch SGD: each mini-batch as matrix-matrix products (BLAS), any dtype.

Sigmoid neurons, quadratic cost; the same update as the book and fastnn. OpenBLAS gets one
thread from bench/conftest.py, and the benchmarks pin every thread of the process to one CPU
(bench/conftest.py::one_cpu): thread settings alone left JAX on two cores (bench/peers/jax_scan.py).
"""
import numpy as np


def epoch(weights, biases, X, Y, order, batch_size, eta):
    """One epoch over X[order]; weights (n_out, n_in) and biases (n_out,) lists are updated in place."""
    one = X.dtype.type(1)
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        A = [X[batch]]
        with np.errstate(over="ignore"):  # exp(-z) overflows to inf for very negative z; sigma is then 0
            for w, b in zip(weights, biases):
                A.append(one / (one + np.exp(-(A[-1] @ w.T + b))))
        delta = (A[-1] - Y[batch]) * A[-1] * (one - A[-1])
        step = X.dtype.type(eta / len(batch))
        for l in range(len(weights) - 1, -1, -1):
            grad_w = delta.T @ A[l]
            grad_b = delta.sum(axis=0)
            if l > 0:
                delta = (delta @ weights[l]) * A[l] * (one - A[l])
            weights[l] -= step * grad_w
            biases[l] -= step * grad_b
