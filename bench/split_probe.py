"""Two threads, two ways: fastnn's own split of each mini-batch against the serial epoch with BLAS on two threads.

    python bench/split_probe.py --out bench/split-probe.md
    python bench/split_probe.py --shapes 784,300,10:100 --rounds 21

``fastnn.threads.blas_splits`` decides, per shape, which of the two a two-thread epoch runs. This probe times
both on the same shape, round after round (each round: the one-thread epoch, then the two ways back to back,
the own split first in even rounds), and reports the BLAS mode's time over the own split's per round: its
median with a 95% percentile-bootstrap interval (``fastnn.study.stats.bootstrap``; above 1, the own split is
faster), and each way's median speed-up over one thread in the same rounds. Every epoch is followed by 0.3 s
of rest: after a BLAS call on two threads, OpenBLAS's worker spins for about 0.1 s and would take a core from
whatever runs next (see bench/test_threads.py). float32, sigmoid, quadratic cost, eta 3.0, uniform noise.
"""
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

import fastnn
from fastnn import threads
from fastnn.kernels import gemm
from fastnn.study.stats import bootstrap

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import cpu_name, probe_arguments  # noqa: E402

SHAPES = ["784,300,10:100", "784,300,10:200", "784,300,10:1000", "784,1000,10:100", "784,1000,10:200",
          "784,1000,10:1000", "784,200,10:100"]
REST = 0.3  # seconds after every epoch


@contextmanager
def way(name):
    """Two-thread epochs of shapes whose first-layer products both go to BLAS (``threads.first_layer_in_blas``)
    run "blas" (the serial epoch, BLAS on both cores) or "own" (fastnn's split) inside this, whatever the
    batch: ``threads.blas_splits`` reads its batch limit at every call."""
    limit = threads.BLAS_SPLIT_EXAMPLES
    threads.BLAS_SPLIT_EXAMPLES = 0 if name == "blas" else 10 ** 12
    try:
        yield
    finally:
        threads.BLAS_SPLIT_EXAMPLES = limit


def epoch_timer(sizes, batch_size, n, rng):
    """run(name, nthreads) -> seconds of one epoch, run the ``way`` name."""
    X = rng.random((n, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], n)
    net = fastnn.Network(sizes, seed=0, dtype="float32")
    X, Y, _ = net.check_data(X, y)
    order = rng.permutation(n)

    def run(name, nthreads=2):
        with way(name):
            net.initialize("default", 0)
            t0 = time.perf_counter()
            net.train_epoch(X, Y, order, batch_size, 3.0, threads=nthreads)
            seconds = time.perf_counter() - t0
        time.sleep(REST)
        return seconds
    return run


def probe(sizes, batch_size, n, rounds, rng):
    run = epoch_timer(sizes, batch_size, n, rng)
    for name in ("blas", "own"):
        run(name)  # compile / load from the cache
    serial, blas, own = [], [], []
    for r in range(rounds):
        serial.append(run("blas", 1))
        if r % 2:
            blas.append(run("blas"))
            own.append(run("own"))
        else:
            own.append(run("own"))
            blas.append(run("blas"))
    serial, blas, own = map(np.array, (serial, blas, own))
    return dict(ratio=bootstrap(blas / own), blas_speedup=float(np.median(serial / blas)),
                own_speedup=float(np.median(serial / own)), serial_s=float(np.median(serial)))


def main():
    args, shapes = probe_arguments(__doc__, SHAPES, rounds=21)
    rng = np.random.default_rng(0)
    lines = [f"`python bench/split_probe.py {' '.join(sys.argv[1:])}` on {cpu_name()} (AVX-512: "
             f"{gemm.host_has_avx512()}): {args.rounds} rounds of one epoch of {args.n:,} examples a shape (see the "
             "script's docstring).", "",
             "| network | batch | BLAS mode / own split (median) | 95% interval | speed-up over one thread: BLAS mode | "
             "own split | one thread, s (median) |", "|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for sizes, batch in shapes:
        if not threads.first_layer_in_blas(sizes, batch, args.n, "float32"):
            print(f"{sizes} batch {batch}: skipped, not both first-layer products in BLAS on this CPU", flush=True)
            continue
        p = probe(sizes, batch, args.n, args.rounds, rng)
        r = p["ratio"]
        lines.append(f"| {sizes} | {batch} | {r.value:.3f} | {r.lo:.3f}-{r.hi:.3f} | {p['blas_speedup']:.2f}x | "
                     f"{p['own_speedup']:.2f}x | {p['serial_s']:.4f} |")
        print(lines[-1], flush=True)
    if args.out:
        with open(args.out, "w") as f:
            f.write("# Two threads: fastnn's own split against BLAS on two threads\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
