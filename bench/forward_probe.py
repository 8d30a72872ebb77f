"""Probe for the forward product Z = A W^T + b through every route, at shapes other than routes_probe's.

    python bench/forward_probe.py --out bench/forward-probe.md
    python bench/forward_probe.py --shapes 784,300:1000 100,10:200 --rounds 9

``bench/routes_probe.py`` times the first layer's forward product (784 inputs). This times any shape
n_in -> n_out over m examples, by default the output layer of a classifier (10 neurons from 30 to 200
inputs, where linear's loops run at a fraction of the machine's rate) and the wide first layers at batch
1000 (where JAX's epoch led in bench/RESULTS.md). Routes: linear's loops (``gemm.linear_loops``); the
register tiles with W transposed into a scratch on every call (``gemm.tile_linear``, as linear runs
them); the tiles over weights already transposed (Z = b, then ``gemm.tile_add_outer(Z, 1, A^T, W^T)``,
as an epoch that keeps its first layer transposed would run them); OpenBLAS from W and from W^T. The
routes alternate within each round (``routes_probe.race``: each the fastest of 3 calls); a cell is the
median over the rounds, in ms per 50,000 examples, and the ratio column the median of the rounds' time
ratios to the route ``gemm.linear`` takes. Every thread runs on one CPU (``conftest.one_cpu``).
"""
import argparse
import os
import sys
from pathlib import Path

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from fastnn.kernels import gemm  # noqa: E402
from fastnn.kernels.views import any_layout  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import cpu_name, one_cpu  # noqa: E402
from routes_probe import race  # noqa: E402

SHAPES = [f"{n_in},10:{m}" for n_in in (30, 64, 100, 200) for m in (10, 20, 50, 100, 200, 1000)] + [
    "784,300:1000", "784,1000:1000"]
ROUTES = ["loops", "tiles", "tiles over W^T", "BLAS", "BLAS from W^T"]


@njit(cache=False)
def run(route, W, WT, b, A, Z, scratch, reps):
    """reps forward products through ROUTES[route]."""
    for _ in range(reps):
        if route == 0:
            gemm.linear_loops(W, b, A, Z)
        elif route == 1:
            gemm.tile_linear(W, b, A, Z, scratch)  # W transposed into the scratch on every call, as linear runs it
        elif route == 2:  # over weights already transposed
            for i in range(A.shape[0]):
                for j in range(WT.shape[1]):
                    Z[i, j] = b[j]
            gemm.tile_add_outer(Z, Z.dtype.type(1), any_layout(A.T), WT)
        elif route == 3:
            gemm.blas_linear(W, b, A, Z)
        else:
            gemm.blas_linear_transposed(WT, b, A, Z)


def takes(n_in, n_out, m, itemsize):
    """The route gemm.linear takes for this block (with a scratch for the tiles)."""
    if m > 1 and gemm.linear_takes_tiles(m, n_out):
        return "tiles"
    return "BLAS" if m > 1 and gemm.linear_takes_blas(m, n_out, n_in, itemsize) else "loops"


def row(n_in, n_out, m, dtype, rounds, rng):
    W = rng.standard_normal((n_out, n_in)).astype(dtype)
    WT = np.ascontiguousarray(W.T)
    b = rng.standard_normal(n_out).astype(dtype)
    A = rng.random((m, n_in)).astype(dtype)
    Z = np.empty((m, n_out), dtype=dtype)
    scratch = np.empty((n_in, n_out), dtype=dtype)
    reps = max(1, 5000 // m)  # about 5,000 examples a call, repeated inside compiled code
    args = (W, WT, b, A, Z, scratch, reps)
    t = race([lambda r=r: run(r, *args) for r in range(len(ROUTES))], rounds)
    ms = np.median(t, axis=0) * 50_000 / (reps * m) * 1e3
    route = takes(n_in, n_out, m, np.dtype(dtype).itemsize)
    ratios = np.median(t / t[:, [ROUTES.index(route)]], axis=0)
    gflops = 2.0 * n_in * n_out * 50_000 / (ms / 1e3) / 1e9
    cells = " | ".join(f"{x:.2f} ({g:.0f}; {r:.2f})" for x, g, r in zip(ms, gflops, ratios))
    return f"| {n_in} -> {n_out} | {m} | {cells} | {route} |"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=SHAPES, help="n_in,n_out:examples")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    lines = ["# The forward product through every route", "",
             f"Made by `python bench/forward_probe.py --rounds {args.rounds} --dtype {args.dtype}"
             + ("" if args.shapes == SHAPES else " --shapes " + " ".join(args.shapes)) + f"` on {cpu_name()} "
             f"(LLVM: {gemm.host_cpu_name()}). {args.dtype}; each cell: ms per 50,000 examples (GFLOP/s; time over "
             "the route linear takes, median of the rounds' ratios). What each route is: this script's docstring.", "",
             "| layer | examples | " + " | ".join(ROUTES) + " | linear takes |",
             "|---|---|" + "---|" * len(ROUTES) + "---|"]
    with one_cpu():
        for shape in args.shapes:
            sizes, m = shape.split(":")
            n_in, n_out = (int(x) for x in sizes.split(","))
            lines.append(row(n_in, n_out, int(m), args.dtype, args.rounds, rng))
            print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
