"""Wall time of one fixed study grid with --jobs 1 and --jobs 2 (a Dask LocalCluster), and the speed-up.

    python bench/study_speedup.py [--epochs 20] [--runs 8]

The grid is `runs` equal runs (batch size 10, seeds 0..runs-1, [784,30,10], fixed eta) on the
MNIST test split when $FASTNN_DATA has it, else the offline default. Every time includes loading
the data and writing the report. The 2-worker time is given twice: with the cluster running and
its workers warmed up (kernels compiled, as in a long study where that cost is paid once per
worker), and including the cluster's start-up and the workers' warm-up.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastnn.datasets import DataUnavailable, load_dataset  # noqa: E402
from fastnn.study import StudyConfig, run_study  # noqa: E402
from fastnn.study.cluster import connect  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--runs", type=int, default=8)
    args = parser.parse_args()
    try:
        data = load_dataset("mnist-test", download=False, progress=False)
    except DataUnavailable:
        data = load_dataset("digits-5k")
    config = StudyConfig(batch_sizes=(10,), seeds=tuple(range(args.runs)), etas={10: 0.5}, epochs=args.epochs,
                         targets=(0.8, 0.85, 0.9), clock_seconds=0.05, clock_repeats=1)
    quiet = dict(quiet=True, log=lambda *a: None, dataset=data)
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        run_study(config, Path(tmp) / "warm", **quiet)  # compile once, so jobs 1 is not charged for it
        t0 = time.perf_counter()
        rows1 = run_study(config, Path(tmp) / "one", **quiet)
        times["jobs 1 (in-process)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        with connect(None, None, 2, config, log=lambda *a: None) as cluster:  # what --jobs 2 starts
            cluster.client.wait_for_workers(2)
            cluster.client.run(lambda: None)  # returns once every worker has finished its warm-up
            startup = time.perf_counter() - t0
            t0 = time.perf_counter()
            rows2 = run_study(config, Path(tmp) / "two", client=cluster.client, **quiet)
            times["jobs 2 (LocalCluster running, workers warm)"] = time.perf_counter() - t0
        times["jobs 2 including start-up and warm-up"] = times["jobs 2 (LocalCluster running, workers warm)"] + startup
    base = times["jobs 1 (in-process)"]
    per_run = [sum(r["wall_seconds"] for r in rows if r["kind"] == "run") / args.runs for rows in (rows1, rows2)]
    print(f"# Study wall time: {args.runs} equal runs, {args.epochs} epochs each, {data.description}\n")
    print("| execution | wall time (s) | speed-up over jobs 1 |\n|---|---|---|")
    for name, t in times.items():
        print(f"| {name} | {t:.2f} | {base / t:.2f}x |")
    print(f"\nOne run's own wall time: {per_run[0]:.2f} s alone, {per_run[1]:.2f} s with two runs side by side.")
    print(f"\n{os.cpu_count()} cores. Command: python bench/study_speedup.py --epochs {args.epochs} --runs {args.runs}")


if __name__ == "__main__":
    main()
