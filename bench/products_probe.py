"""The first layer's gather and two products, batch after batch, in fastnn's kernels and in JAX, in the same rounds.

    python bench/products_probe.py --out bench/products-probe.md
    python bench/products_probe.py --shapes 784,300,10:1000 --rounds 15

Where JAX's epoch beats fastnn's at large batches, is it the products or the rest? For each shape, both
sides run the same work over the first N // batch * batch examples of a random order of N examples of uniform
noise, a batch at a time: the batch's rows X_b gathered from X, the forward product Z = X_b W^T + b, then the
update W += alpha (D * Z)^T X_b, D a fixed (batch, neurons) array (the product with Z keeps the forward
product alive in XLA, which would otherwise drop what nothing reads). That is the epoch's first layer
without the sigmoids, the layers above, the deltas and the bias sums. fastnn: ``backprop.gather_rows`` with
the next batch's rows asked for (``prefetch_rows``), as the epoch does where it does not stream the gather,
``gemm.linear`` with the epoch's scratch (the epoch's route), the elementwise product in a loop,
``gemm.add_outer`` (the update's route); JAX: one jit-compiled ``lax.scan`` over the batches, X[idx] in it
(``peers/jax_scan.py``'s settings: one thread). The
two alternate within each round, each the fastest of 3 runs; a cell is the median over the rounds in ms
per 50,000 examples, the ratio the median of the rounds' JAX / fastnn with its 95% bootstrap interval
(``fastnn.study.stats.bootstrap``). Every thread runs on one CPU (``conftest.one_cpu``).
"""
import os
import sys
from pathlib import Path

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from fastnn.kernels import backprop, gemm  # noqa: E402
from fastnn.study.stats import bootstrap  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import one_cpu, probe_arguments, probe_report  # noqa: E402
from routes_probe import race  # noqa: E402

SHAPES = ["784,100,10:1000", "784,300,10:1000", "784,1000,10:1000", "784,300,10:100"]
ALPHA = -1e-6


@njit(cache=False)
def fastnn_products(W, b, X, order, m, Xb, D, Z, G, scratch, alpha):
    count = len(order) // m
    for r in range(count):
        x = backprop.gather_rows(X, order, r * m, m, Xb)
        if r + 1 < count:
            backprop.prefetch_rows(X, order, (r + 1) * m, m)
        gemm.linear(W, b, x, Z, scratch)
        for i in range(Z.shape[0]):
            for j in range(Z.shape[1]):
                G[i, j] = D[i, j] * Z[i, j]
        gemm.add_outer(W, alpha, G, x)


def jax_products(W, b, X, order, m, D):
    """A function running the same work in JAX (one jitted lax.scan), or None where JAX is not installed."""
    try:
        import jax
    except ImportError:
        return None

    def body(W, idx):
        x = X_[idx]
        return W + ALPHA * ((D_ * (x @ W.T + b_)).T @ x), None

    X_, D_, b_ = jax.device_put(X), jax.device_put(D), jax.device_put(b)
    run = jax.jit(lambda W, idx: jax.lax.scan(body, W, idx)[0])
    W_, idx = jax.device_put(W), jax.device_put(order[:len(order) // m * m].reshape(-1, m))
    return lambda: jax.block_until_ready(run(W_, idx))


def probe(sizes, batch_size, n, rounds, rng):
    n_in, n_out = sizes[0], sizes[1]
    X = rng.random((n, n_in), dtype=np.float32)
    order = rng.permutation(n)
    Xb = np.empty((batch_size, n_in), np.float32)
    W = rng.standard_normal((n_out, n_in)).astype(np.float32) * 0.03
    b = np.zeros(n_out, np.float32)
    D = rng.standard_normal((batch_size, n_out)).astype(np.float32) * 1e-3
    Z, G = np.empty((batch_size, n_out), np.float32), np.empty((batch_size, n_out), np.float32)
    scratch = np.empty(gemm.linear_scratch_size(np.array(sizes), batch_size), np.float32)
    Wf = W.copy()
    calls = [lambda: fastnn_products(Wf, b, X, order, batch_size, Xb, D, Z, G, scratch, np.float32(ALPHA))]
    jax = jax_products(W, b, X, order, batch_size, D)
    if jax is not None:
        calls.append(jax)
    return race(calls, rounds) * 1e3 * 50_000 / (n // batch_size * batch_size)  # ms per 50,000 examples


def main():
    args, shapes = probe_arguments(__doc__, SHAPES, rounds=11)
    rng = np.random.default_rng(0)
    lines = ["| network | batch | fastnn, ms | JAX, ms | JAX / fastnn (median) | 95% interval |",
             "|---|---|---|---|---|---|"]
    with one_cpu():
        for sizes, batch in shapes:
            t = probe(sizes, batch, args.n, args.rounds, rng)
            if t.shape[1] < 2:
                lines.append(f"| {sizes} | {batch} | {np.median(t[:, 0]):.1f} | - | - | - |")
            else:
                ratio = t[:, 1] / t[:, 0]
                ci = bootstrap(ratio, np.median)
                lines.append(f"| {sizes} | {batch} | {np.median(t[:, 0]):.1f} | {np.median(t[:, 1]):.1f} | "
                             f"{ci.value:.3f} | {ci.lo:.3f}-{ci.hi:.3f} |")
            print(lines[-1], flush=True)
    probe_report(args, "The first layer's gather and two products, fastnn against JAX", "what each side runs is in "
                 "the script's docstring. A ratio below 1: JAX's products took less time.", lines)


if __name__ == "__main__":
    main()
