"""Where a mini-batch epoch's time goes: the whole epoch against its parts, timed in the same rounds.

    python bench/phases_probe.py --out bench/phases.md
    python bench/phases_probe.py --shapes 784,100,10:200 --rounds 9

For each shape, one round times, one after the other: fastnn's epoch (``Network.train_epoch``, float32,
sigmoid, quadratic cost, eta 3.0) over N examples of uniform noise in a random order; the first layer's
forward product of every batch alone (``gemm.linear`` on blocks already copied, with the scratch the
epoch gives it, so it takes the epoch's route); the first layer's update product alone (``gemm.add_outer``,
as ``update.update_rows`` calls it); the copy of every batch's rows out of X (``backprop.gather_rows``);
and, where JAX is installed, JAX's epoch (``peers/jax_scan.py``). Each part is the fastest of 3 runs.
"the rest" is, per round, the epoch less the two products and the copy: the sigmoids, the layers above
the first, the deltas, the bias sums, the loss and the calls. Times are medians over the rounds, in ms per
50,000 examples; shares are of fastnn's epoch. Every thread runs on one CPU (``conftest.one_cpu``).
"""
import os
import sys
from pathlib import Path

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

import fastnn  # noqa: E402
from fastnn.kernels import backprop, gemm  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import one_cpu, probe_arguments, probe_report  # noqa: E402
from routes_probe import race  # noqa: E402

SHAPES = ["784,100,10:100", "784,100,10:200", "784,100,10:1000", "784,300,10:100", "784,30,10:1000"]


@njit(cache=False)
def forward_products(W, b, blocks, Z, scratch, batches):
    for r in range(batches):
        gemm.linear(W, b, blocks[r % blocks.shape[0]], Z, scratch)


@njit(cache=False)
def update_products(W, D, blocks, alpha, batches):
    for r in range(batches):
        gemm.add_outer(W, alpha, D, blocks[r % blocks.shape[0]])


@njit(cache=False)
def gathers(X, order, batch_size, Xb):
    for start in range(0, len(order), batch_size):
        m = min(batch_size, len(order) - start)
        backprop.gather_rows(X, order, start, m, Xb)


def jax_epoch(sizes, X, Y, order, batch_size):
    """A function running JAX's epoch from fresh weights, or None where JAX is not installed."""
    try:
        from peers import jax_scan
    except ImportError:
        return None
    net = fastnn.Network(sizes, seed=0, dtype="float32")
    args = jax_scan.to_jax(list(net.weights), list(net.biases), X, Y, order)
    return lambda: jax_scan.ready(jax_scan.epoch(*args, batch_size, 3.0))


def probe(sizes, batch_size, n, rounds, rng):
    X = rng.random((n, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], n)
    net = fastnn.Network(sizes, seed=0, dtype="float32")
    Xc, Yc, _ = net.check_data(X, y)
    order = rng.permutation(n)
    m = min(batch_size, n)
    batches = -(-n // batch_size)
    W = rng.standard_normal((sizes[1], sizes[0])).astype(np.float32) * 0.03
    b = np.zeros(sizes[1], np.float32)
    Z = np.empty((m, sizes[1]), np.float32)
    D = rng.standard_normal((m, sizes[1])).astype(np.float32) * 1e-3
    blocks = rng.random((max(2, 2_000_000 // (m * sizes[0] * 4)), m, sizes[0]), dtype=np.float32)
    scratch = np.empty(gemm.linear_scratch_size(np.array(sizes), m), np.float32)
    Xb = np.empty((m, sizes[0]), np.float32)
    calls = [lambda: net.train_epoch(Xc, Yc, order, batch_size, 3.0),
             lambda: forward_products(W, b, blocks, Z, scratch, batches),
             lambda: update_products(W, D, blocks, np.float32(-1e-6), batches),
             lambda: gathers(Xc, order, batch_size, Xb)]
    jax = jax_epoch(sizes, Xc, Yc, order, batch_size)
    if jax is not None:
        calls.append(jax)
    t = race(calls, rounds) * 1e3 * 50_000 / n  # ms per 50,000 examples
    parts = {"fastnn epoch": t[:, 0], "forward product": t[:, 1], "update product": t[:, 2],
             "copy of the rows": t[:, 3], "the rest": t[:, 0] - t[:, 1] - t[:, 2] - t[:, 3]}
    if jax is not None:
        parts["JAX epoch"] = t[:, 4]
    return parts


def main():
    args, shapes = probe_arguments(__doc__, SHAPES, rounds=9)
    rng = np.random.default_rng(0)
    lines = ["| network | batch | fastnn epoch | forward product | update product | copy of the rows | the rest "
             "| JAX epoch | JAX / fastnn |", "|---|---|---|---|---|---|---|---|---|"]
    with one_cpu():
        for sizes, batch in shapes:
            parts = probe(sizes, batch, args.n, args.rounds, rng)
            epoch = np.median(parts["fastnn epoch"])
            cells = [f"{np.median(parts[k]):.1f} ({np.median(parts[k]) / epoch:.0%})" for k in
                     ("forward product", "update product", "copy of the rows", "the rest")]
            if "JAX epoch" in parts:
                jax = f"{np.median(parts['JAX epoch']):.1f}"
                ratio = f"{np.median(parts['JAX epoch'] / parts['fastnn epoch']):.3f}"
            else:
                jax = ratio = "-"
            lines.append(f"| {sizes} | {batch} | {epoch:.1f} | " + " | ".join(cells) + f" | {jax} | {ratio} |")
            print(lines[-1], flush=True)
    probe_report(args, "Where the epoch's time goes", "ms per 50,000 examples (median over the rounds) and the share "
                 "of fastnn's epoch. What each column times is in the script's docstring.", lines)


if __name__ == "__main__":
    main()
