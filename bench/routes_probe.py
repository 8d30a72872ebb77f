"""Probe for ``kernels.gemm``'s routes on this machine's CPU: each product through every route it can take.

    python bench/routes_probe.py --out bench/routes-avx512.md

The forward product Z = A W^T + b of m examples into n neurons of K = 784 inputs (``gemm.linear_loops``
against ``gemm.tile_linear``, which transposes W first, and ``gemm.blas_linear``) and the update's product C (n, K) += alpha D^T A over m examples
(``gemm.add_outer_loops``, ``gemm.tile_add_outer``, ``gemm.blas_add_outer``) for K = 784 (the first
layer), 100 and 30 (the layers above, and w^T delta, whose "examples" are the next layer's neurons).
The routes alternate within each round, so a slow spell on the shared host hits all of them; a cell is
the median GFLOP/s over the rounds, and the ratio the median of the rounds' time ratios. The last column
is the route that ``ROUTES`` gives on this machine (``gemm.host_routes``: which of ``AVX2_ROUTES``,
``AVX512_ROUTES`` and ``ZEN4_ROUTES``). Every thread runs on one CPU (``conftest.one_cpu``); OpenBLAS on one thread.
"""
import argparse
import os
import sys
import time
from pathlib import Path

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from fastnn.kernels import gemm  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import cpu_name, one_cpu  # noqa: E402
from tiles_probe import blas, route, tiles  # noqa: E402  (add_outer's compiled routes, and which it takes)

EXAMPLES = [2, 4, 6, 8, 10, 16, 20, 32, 50, 100, 200, 1000]
WIDTHS = [10, 30, 64, 100, 300, 1000]


@njit(cache=False)
def blas_linear(W, b, A, Z):
    gemm.blas_linear(W, b, A, Z)


@njit(cache=False)
def tile_linear(W, b, A, Z, WT):
    gemm.tile_linear(W, b, A, Z, WT)  # the transposition of W into WT included, as every batch pays it


def race(calls, rounds):
    """(rounds, len(calls)) times: each call the fastest of 3 runs, the calls alternating within a round."""
    for call in calls:
        call()
    times = np.empty((rounds, len(calls)))
    for r in range(rounds):
        for c, call in enumerate(calls):
            best = np.inf
            for _ in range(3):
                t0 = time.perf_counter()
                call()
                best = min(best, time.perf_counter() - t0)
            times[r, c] = best
    return times


def forward_rows(dtype, rounds, rng):
    lines = ["| examples m | neurons n | loops GFLOP/s | tiles over W^T | BLAS | tiles / loops time | "
             "BLAS / loops time | linear takes |",
             "|---|---|---|---|---|---|---|---|"]
    for m in EXAMPLES:
        for n in WIDTHS[1:]:
            W = rng.standard_normal((n, 784)).astype(dtype)
            b = rng.standard_normal(n).astype(dtype)
            A = rng.random((m, 784)).astype(dtype)
            Z = np.empty((m, n), dtype=dtype)
            WT = np.empty((784, n), dtype=dtype)
            t = race([lambda: gemm.linear_loops(W, b, A, Z), lambda: tile_linear(W, b, A, Z, WT),
                      lambda: blas_linear(W, b, A, Z)], rounds)
            rate = 2.0 * m * n * 784 / np.median(t, axis=0) / 1e9
            takes = ("tiles" if m > 1 and gemm.linear_takes_tiles(m, n) else
                     "BLAS" if m > 1 and gemm.linear_takes_blas(m, n, 784, np.dtype(dtype).itemsize) else "loops")
            lines.append(f"| {m} | {n} | {rate[0]:.1f} | {rate[1]:.1f} | {rate[2]:.1f} | "
                         f"{np.median(t[:, 1] / t[:, 0]):.2f} | {np.median(t[:, 2] / t[:, 0]):.2f} | {takes} |")
    return lines


def update_rows(dtype, rounds, rng):
    itemsize = np.dtype(dtype).itemsize
    lines = ["| columns K | examples m | rows n | loops | tiles | BLAS | BLAS / best other time | add_outer takes |",
             "|---|---|---|---|---|---|---|---|"]
    for K in (784, 100, 30):
        for m in EXAMPLES:
            for n in WIDTHS if K == 784 else (10, 100, 1000):
                C = rng.standard_normal((n, K)).astype(dtype)
                D = rng.standard_normal((m, n)).astype(dtype)
                A = rng.random((m, K)).astype(dtype)
                alpha = C.dtype.type(-1e-6)
                t = race([lambda: gemm.add_outer_loops(C, alpha, D, A), lambda: tiles(C, alpha, D, A),
                          lambda: blas(C, alpha, D, A)], rounds)
                rate = 2.0 * m * n * K / np.median(t, axis=0) / 1e9
                ratio = np.median(t[:, 2] / np.minimum(t[:, 0], t[:, 1]))
                lines.append(f"| {K} | {m} | {n} | {rate[0]:.1f} | {rate[1]:.1f} | {rate[2]:.1f} | {ratio:.2f} | "
                             f"{route(n, K, m, itemsize)} |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    cpu = cpu_name()
    lines = ["# kernels.gemm's routes on this CPU", "",
             f"Made by `python bench/routes_probe.py --rounds {args.rounds} --dtypes {' '.join(args.dtypes)}` on {cpu} "
             f"(LLVM's name for it: {gemm.host_cpu_name()}; AVX-512: {gemm.host_has_avx512()}; so `ROUTES` = "
             f"{gemm.ROUTES}). "
             "Median GFLOP/s over the rounds, the routes alternating; a time ratio below 1 means BLAS (or the tiles) "
             "is faster.",
             ""]
    with one_cpu():
        for dtype in args.dtypes:
            lines += [f"## {dtype}: the forward product, 784 inputs", ""] + forward_rows(dtype, args.rounds, rng)
            lines += ["", f"## {dtype}: the update's product", ""] + update_rows(dtype, args.rounds, rng) + [""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
