"""JAX: the whole epoch as one jit-compiled lax.scan over mini-batches, one thread.

Sigmoid neurons, quadratic cost, hand-written backprop (the same arithmetic as fastnn).
The example order is applied inside the compiled function (X[order]), as fastnn does.
A last, smaller mini-batch is a second scan step of its own size. Float64 needs
jax_enable_x64, which this module turns on (float32 arrays stay float32).

One thread means one core, and XLA_FLAGS below does not give that: XLA still ran a jitted epoch
on both cores of the 2-core benchmark machine. Measured there, seconds per 50,000 examples:
[784,300,10] batch 100, 0.374 unpinned against 0.608 under `taskset -c 0`; [784,1000,10]
batch 1000, 0.984 against 1.857. Comparisons made before that was found gave JAX two cores.
The one-thread benchmarks (test_epoch.py, test_scaling.py: marker one_core) therefore run with
every thread of the process pinned to one CPU (bench/conftest.py::one_cpu); XLA's threads,
started inside the test, inherit the pin.
"""
import os

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_enable_x64", True)


def _step(params, batch, eta):
    weights, biases = params
    x, y = batch
    A = [x]
    for w, b in zip(weights, biases):
        A.append(jax.nn.sigmoid(A[-1] @ w.T + b))
    delta = (A[-1] - y) * A[-1] * (1 - A[-1])
    step = eta / x.shape[0]
    new_w, new_b = list(weights), list(biases)
    for l in range(len(weights) - 1, -1, -1):
        grad_w = delta.T @ A[l]
        grad_b = delta.sum(axis=0)
        if l > 0:
            delta = (delta @ weights[l]) * A[l] * (1 - A[l])
        new_w[l] = weights[l] - step * grad_w
        new_b[l] = biases[l] - step * grad_b
    return (tuple(new_w), tuple(new_b))


def _epoch(weights, biases, X, Y, order, batch_size, eta):
    n_full = (len(order) // batch_size) * batch_size
    idx = order[:n_full].reshape(-1, batch_size)
    dtype = X.dtype

    def body(params, batch_idx):
        return _step(params, (X[batch_idx], Y[batch_idx]), jnp.asarray(eta, dtype)), None

    params, _ = jax.lax.scan(body, (tuple(weights), tuple(biases)), idx)
    if n_full < len(order):
        rest = order[n_full:]
        params = _step(params, (X[rest], Y[rest]), jnp.asarray(eta, dtype))
    return params


epoch_jit = jax.jit(_epoch, static_argnums=(5,))


def epoch(weights, biases, X, Y, order, batch_size, eta):
    """One epoch; returns (weights, biases) as tuples of JAX arrays (JAX arrays are immutable)."""
    return epoch_jit(weights, biases, X, Y, order, batch_size, eta)


def to_jax(weights, biases, X, Y, order):
    put = jax.device_put
    return ([put(w) for w in weights], [put(b) for b in biases], put(X), put(Y), put(np.asarray(order)))


def ready(params):
    jax.block_until_ready(params)
    return [np.asarray(w) for w in params[0]], [np.asarray(b) for b in params[1]]
