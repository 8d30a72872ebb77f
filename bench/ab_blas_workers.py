"""Paired A/B across processes: OpenBLAS's worker threads started flushing denormals, or not.

    python bench/ab_blas_workers.py --pairs 7 --out bench/ab-blas-workers.md

Where two threads hand a mini-batch epoch to BLAS on both cores (``fastnn.threads.blas_splits``), the
second core runs OpenBLAS's worker thread, which computes its share of every product with the floating-point
bits it was started with. A thread inherits those bits from the thread that starts it, and OpenBLAS starts
its workers when it loads or when its thread count rises. fastnn loads its OpenBLAS with one thread and
raises the count from a thread that flushes denormals to zero (``fastnn.blas``), so the worker flushes them
as the kernels do. The old side recreates what every earlier version did: before fastnn's first call it
raises the count itself, from Python's main thread, which does not flush, so the worker starts without the
bits. Everything else is the same code.

One process per side and pair (the worker, once started, stays for the process's life), the sides
alternating, old first in even pairs; each process times every shape, each the fastest of ``--repeat``
epochs after one to warm up. The ratio is new over old within a pair; the table gives its median and range.
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

# the shapes where two threads hand the epoch to BLAS (bench/ab-blas-workers.md also timed [784, 1000, 10]
# at batch 100, which two threads have split themselves since the split's forward shares went to BLAS)
SHAPES = [([784, 300, 10], 1000), ([784, 1000, 10], 1000)]

CHILD = r"""
import json, os, sys, time
import numpy as np
import fastnn
from fastnn.threads import blas_splits
side, n, repeat, shapes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
if side == "old":  # start OpenBLAS's worker now, from a thread that keeps denormals
    from threadpoolctl import ThreadpoolController
    ThreadpoolController().limit(limits=2, user_api="blas").restore_original_limits()
root = os.environ.get("FASTNN_DATA")
folder = os.path.join(root, "fashion-mnist") if root else None
if folder and os.path.exists(os.path.join(folder, "train-images-idx3-ubyte.gz")):
    X, y = fastnn.load_idx(os.path.join(folder, "train-images-idx3-ubyte.gz"),
                           os.path.join(folder, "train-labels-idx1-ubyte.gz"))
    X, y = X[:n], y[:n]
else:
    rng = np.random.default_rng(0)
    X, y = rng.random((n, 784)), rng.integers(0, 10, n)
out = []
for sizes, batch in shapes:
    assert blas_splits(sizes, batch, n, "float32"), (sizes, batch)  # two threads run BLAS on both cores
    net = fastnn.Network(sizes, init="large", dtype="float32", seed=0)
    d = net.check_data(X, y)
    order = np.random.default_rng(1).permutation(n)
    start = net.params.copy()
    best = float("inf")
    for r in range(repeat + 1):
        net.params[:] = start
        t0 = time.perf_counter()
        net.train_epoch(d.X, d.Y, order, batch, 3.0, threads=2)
        if r:
            best = min(best, time.perf_counter() - t0)
    out.append(best)
print(json.dumps(out))
"""


def run(side, n, repeat, shapes):
    result = subprocess.run([sys.executable, "-c", CHILD, side, str(n), str(repeat), json.dumps(shapes)],
                            check=True, capture_output=True, text=True, env=dict(os.environ))
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--pairs", type=int, default=7, help="alternating pairs of processes")
    parser.add_argument("--repeat", type=int, default=3, help="timed epochs per shape in a process (fastest counts)")
    parser.add_argument("--n", type=int, default=5000, help="examples per epoch")
    parser.add_argument("--out", help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    times = []
    for p in range(args.pairs):
        first, second = ("old", "new") if p % 2 == 0 else ("new", "old")
        t = {first: run(first, args.n, args.repeat, SHAPES)}
        t[second] = run(second, args.n, args.repeat, SHAPES)
        times.append((t["old"], t["new"]))
        print(f"pair {p}: old {np.round(t['old'], 4)} new {np.round(t['new'], 4)}", flush=True)
    times = np.array(times)  # (pairs, 2, shapes)
    argv_text = " ".join(argv if argv is not None else sys.argv[1:])
    lines = [f"Paired A/B across processes, `python bench/ab_blas_workers.py {argv_text}`: two-thread epochs "
             f"(threads=2, BLAS on both cores) of {args.n:,} examples, float32, eta 3.0, large init; old = OpenBLAS's "
             f"worker started from a thread that keeps denormals, new = started by fastnn.blas, flushing them; "
             f"{args.pairs} alternating pairs of processes, each side the fastest of {args.repeat} epochs.", "",
             "| network | batch | old s (median) | new s (median) | new/old (median) | range |",
             "|---|---|---|---|---|---|"]
    for s, (sizes, batch) in enumerate(SHAPES):
        old, new = times[:, 0, s], times[:, 1, s]
        r = new / old
        lines.append(f"| {sizes} | {batch} | {np.median(old):.4f} | {np.median(new):.4f} | {np.median(r):.3f} | "
                     f"{r.min():.3f}-{r.max():.3f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
