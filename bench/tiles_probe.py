"""Probe for ``kernels.gemm.add_outer``'s three routes: where do register tiles pay?

    python bench/tiles_probe.py --out bench/tiles-probe.md

C (n, K) += alpha D^T A over m examples, the update's product (n neurons, K inputs), timed
through each route add_outer can take: the register-blocked loops (``gemm.add_outer_loops``),
the register tiles (``gemm.tile_add_outer``, ``kernels.tiles``) and BLAS (``gemm.blas_add_outer``,
SciPy's OpenBLAS, one thread). The rows of A are drawn from a larger array in random order, as
an epoch's gathered batch. The routes alternate round by round, so a slow spell on the shared
host hits all three; each cell is the median GFLOP/s over the rounds, with the route that
add_outer takes at that shape marked. The thresholds in ``kernels/gemm.py`` come from this table.
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
from conftest import one_cpu  # noqa: E402

# many rows and fewer columns than BLAS takes (a layer of 30 or 50 inputs, w^T delta down to it)
NARROW = [(200, 30, 100), (300, 50, 100), (1000, 30, 1000)]
# float32: the first layer's update at every benchmark width, and the row counts around the limits (64
# rows, 128 below 100 examples, 32 examples, 64 columns); then layers above the first: 100 or 300 inputs
# (the last 4 or 12 columns in masked tiles), and the output layer's 10 rows
FLOAT32 = [(n, 784, m) for n in (30, 40, 64, 100, 128, 200, 300, 1000) for m in (10, 16, 32, 100, 1000)] + [
    (100, 100, 100), (100, 100, 1000), (100, 300, 100), (10, 100, 1000), (10, 300, 1000), (10, 30, 1000),
    (30, 64, 100)] + NARROW
# float64: the first layer around the 40-row limit, and the narrow layers above it
FLOAT64 = [(n, 784, m) for n in (30, 40, 64, 100, 300) for m in (32, 100, 1000)] + [
    (30, 784, 20), (30, 784, 200), (10, 784, 100), (16, 784, 100), (48, 784, 100), (100, 784, 64),
    (100, 300, 100), (100, 100, 100), (10, 30, 100), (10, 30, 1000), (30, 30, 100), (10, 100, 100)] + NARROW


@njit(cache=False)
def tiles(C, alpha, D, A):
    gemm.tile_add_outer(C, alpha, D, A)


@njit(cache=False)
def blas(C, alpha, D, A):
    gemm.blas_add_outer(C, alpha, D, A)


ROUTES = {"loops": gemm.add_outer_loops, "tiles": tiles, "BLAS": blas}


def route(n, K, m, itemsize):
    """The route add_outer takes for these sizes (rows contiguous)."""
    if gemm.add_outer_takes_tiles(m, n, K, itemsize):
        return "tiles"
    return "BLAS" if gemm.add_outer_takes_blas(m, n, K, itemsize) else "loops"


def probe(shapes, dtype, rounds, rng):
    """(shape, {route: median GFLOP/s}) for each shape."""
    rows = []
    for n, K, m in shapes:
        C = rng.standard_normal((n, K)).astype(dtype)
        D = rng.standard_normal((m, n)).astype(dtype)
        pool = rng.random((max(5000, m), K)).astype(dtype)
        A = np.ascontiguousarray(pool[rng.permutation(len(pool))[:m]])
        alpha = C.dtype.type(-1e-6)
        flops = 2.0 * n * K * m
        reps = max(1, int(2e8 // flops))  # about 2 ms or more per timing
        times = {name: [] for name in ROUTES}
        for f in ROUTES.values():
            f(C, alpha, D, A)  # compile
        for _ in range(rounds):
            for name, f in ROUTES.items():
                t0 = time.perf_counter()
                for _ in range(reps):
                    f(C, alpha, D, A)
                times[name].append((time.perf_counter() - t0) / reps)
        rows.append(((n, K, m), {name: flops / np.median(t) / 1e9 for name, t in times.items()}))
    return rows


def table(rows, itemsize):
    lines = ["| rows n | columns K | examples m | loops | tiles | BLAS | tiles / best other | add_outer takes |",
             "|---|---|---|---|---|---|---|---|"]
    for (n, K, m), gf in rows:
        other = max(gf["loops"], gf["BLAS"])
        lines.append(f"| {n} | {K} | {m} | {gf['loops']:.1f} | {gf['tiles']:.1f} | {gf['BLAS']:.1f} | "
                     f"{gf['tiles'] / other:.2f} | {route(n, K, m, itemsize)} |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    with one_cpu():
        rows32 = probe(FLOAT32, np.float32, args.rounds, rng)
        rows64 = probe(FLOAT64, np.float64, args.rounds, rng)
    lines = ["# add_outer's routes: loops, register tiles, BLAS", "",
             f"Made by `python bench/tiles_probe.py --rounds {args.rounds}` (every thread on one CPU). "
             "C (n, K) += alpha D^T A over m examples; median GFLOP/s over the rounds, the three routes "
             "alternating. 'tiles / best other' is the tiles' rate over the better of loops and BLAS.", "",
             "## float32", ""] + table(rows32, 4) + ["", "## float64", ""] + table(rows64, 8)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
