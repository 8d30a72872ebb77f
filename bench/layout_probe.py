"""The first layer's two products per mini-batch, in three layouts of its weights, timed in pairs.

    python bench/layout_probe.py --out bench/layout-probe.md
    python bench/layout_probe.py --shapes 784,100,10:100 --rounds 21

At [784,100,10] batch 100 and 200 and [784,300,10] batch 100, where JAX is still measurably faster
(bench/RESULTS.md), the first layer's forward product Z = X W^T + b and its update W -= s D^T X take 75-80%
of the epoch (bench/phases.md), both in OpenBLAS, which packs its operands on every call. The register
tiles (``kernels.tiles``) run at the CPU's sgemm rate when the strip of weights they stream stays in L1,
so keeping the weights in a layout made for them, for the whole epoch, might beat OpenBLAS there. This
probe times one batch's pair of products (forward, then update) in:

- ``W (BLAS)``: what the epoch does at the default shapes, where ``gemm``'s routes send both products to
  BLAS: W (n, K) row-major, both in OpenBLAS (``gemm.blas_linear``, ``gemm.blas_add_outer``);
- ``panels (tiles)``: W^T cut into panels of one tile's width of neurons (K, 32 float32 each, contiguous), the
  forward and the update both in the tiles (``gemm.tile_add_outer``), no packing at all;
- ``W^T (tiles + BLAS)``: W^T (K, n), rows padded to 64 bytes, the forward in the tiles and the update in
  OpenBLAS (which then computes n rows of 784, where the epoch's orientation gives it 784 rows of n).

Each round times the three, in turn (the order reversed in odd rounds), over enough batches for about 0.5
GFLOP; the table gives each layout's median microseconds per batch and its time over ``W (BLAS)``'s in
the same round: median and 95% percentile-bootstrap interval (``fastnn.study.stats.bootstrap``; below 1,
faster than what the epoch does). Random float32 data, every thread on one CPU (``conftest.one_cpu``).
"""
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

from fastnn.kernels import gemm
from fastnn.kernels.tiles import columns
from fastnn.study.stats import bootstrap

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import cpu_name, one_cpu, probe_arguments  # noqa: E402

SHAPES = ["784,100,10:100", "784,100,10:200", "784,300,10:100", "784,96,10:100", "784,128,10:100", "784,320,10:100"]
PANEL = columns(4)  # neurons per panel: one register tile's width in float32 (32 with AVX-512, 16 with AVX2)
ALPHA = np.float32(-1e-9)  # the update's step, small enough to leave the weights as they are


@njit(cache=False)
def blas_pair(W, b, X, Z, D, batches):
    for _ in range(batches):
        gemm.blas_linear(W, b, X, Z)
        gemm.blas_add_outer(W, ALPHA, D, X)


@njit(cache=False)
def _biases(Z, b):
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            Z[i, j] = b[j]


@njit(cache=False)
def panel_pair(WP, b, X, Z, D, batches):
    n = Z.shape[1]
    for _ in range(batches):
        _biases(Z, b)
        for p in range(WP.shape[0]):
            lo, hi = p * PANEL, min(n, (p + 1) * PANEL)
            gemm.tile_add_outer(Z[:, lo:hi], np.float32(1), X.T, WP[p][:, :hi - lo])
        for p in range(WP.shape[0]):
            lo, hi = p * PANEL, min(n, (p + 1) * PANEL)
            gemm.tile_add_outer(WP[p][:, :hi - lo], ALPHA, X, D[:, lo:hi])


@njit(cache=False)
def transposed_pair(WT, b, X, Z, D, batches):
    for _ in range(batches):
        _biases(Z, b)
        gemm.tile_add_outer(Z, np.float32(1), X.T, WT)
        gemm.blas_add_outer(WT, ALPHA, X, D)


def layouts(n_in, n_out, m, rng):
    """{name: (function, arguments)} for the three layouts, on the same weights and data."""
    X = rng.random((m, n_in), dtype=np.float32)
    W = rng.standard_normal((n_out, n_in)).astype(np.float32)
    b = np.zeros(n_out, np.float32)
    D = rng.standard_normal((m, n_out)).astype(np.float32)
    panels = np.zeros(((n_out + PANEL - 1) // PANEL, n_in, PANEL), np.float32)
    for p in range(panels.shape[0]):
        block = W[p * PANEL:(p + 1) * PANEL].T
        panels[p, :, :block.shape[1]] = block
    padded = np.zeros((n_in, (n_out + 15) // 16 * 16), np.float32)
    padded[:, :n_out] = W.T
    return {"W (BLAS)": (blas_pair, (W, b, X, np.empty((m, n_out), np.float32), D)),
            "panels (tiles)": (panel_pair, (panels, b, X, np.empty((m, n_out), np.float32), D)),
            "W^T (tiles + BLAS)": (transposed_pair, (padded[:, :n_out], b, X, np.empty((m, n_out), np.float32), D))}


def check(cases):
    """The three forward products agree (so each layout computes what the epoch computes)."""
    outputs = []
    for function, (weights, b, X, Z, D) in cases.values():
        function(weights, b, X, Z, np.zeros_like(D), 1)  # a zero delta: the weights stay as they are
        outputs.append(Z.copy())
    scale = np.abs(outputs[0]).max()
    for Z in outputs[1:]:
        if np.abs(Z - outputs[0]).max() > 1e-5 * scale:
            raise AssertionError("the layouts' forward products differ")


def probe(n_in, n_out, m, rounds, rng):
    cases = layouts(n_in, n_out, m, rng)
    check(cases)
    batches = max(10, int(5e8 / (4 * m * n_out * n_in)))
    times = {name: [] for name in cases}
    for r in range(rounds):
        for name, (function, arguments) in (list(cases.items())[::-1] if r % 2 else cases.items()):
            t0 = time.perf_counter()
            function(*arguments, batches)
            times[name].append((time.perf_counter() - t0) / batches * 1e6)
    base = np.array(times["W (BLAS)"])
    return {name: (float(np.median(t)), bootstrap(np.array(t) / base)) for name, t in times.items()}


def main():
    args, shapes = probe_arguments(__doc__, SHAPES, rounds=15)
    rng = np.random.default_rng(0)
    names = ["W (BLAS)", "panels (tiles)", "W^T (tiles + BLAS)"]
    lines = [f"`python bench/layout_probe.py {' '.join(sys.argv[1:])}` on {cpu_name()} (AVX-512: "
             f"{gemm.host_has_avx512()}): {args.rounds} rounds a shape (see the script's docstring); microseconds "
             "per batch for the forward and the update product of the first layer, and each layout's time over "
             "W (BLAS)'s in the same round.", "",
             "| first layer | batch | " + " | ".join(f"{name}, us" for name in names) + " | "
             + " | ".join(f"{name} / W (BLAS) [95%]" for name in names[1:]) + " |",
             "|---|---|" + "---|" * (2 * len(names) - 1)]
    print("\n".join(lines), flush=True)
    with one_cpu():
        for sizes, batch in shapes:
            result = probe(sizes[0], sizes[1], batch, args.rounds, rng)
            cells = [f"{result[name][0]:.0f}" for name in names]
            cells += [f"{result[name][1].value:.3f} [{result[name][1].lo:.3f}, {result[name][1].hi:.3f}]"
                      for name in names[1:]]
            lines.append(f"| {sizes[0]} -> {sizes[1]} | {batch} | " + " | ".join(cells) + " |")
            print(lines[-1], flush=True)
    if args.out:
        Path(args.out).write_text("# The first layer's weights in three layouts\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
