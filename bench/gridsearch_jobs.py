"""GridSearchCV over fastnn.sklearn.MLPClassifier: n_jobs=1 against n_jobs=2, 24 fits on MNIST test digits.

Every run is a fresh Python process, as a user's script is: it imports, loads the data, then
times ``GridSearchCV.fit`` ``--searches`` times in a row: the first search starts joblib's worker
processes (cold), the next ones reuse them (warm). Runs alternate n_jobs=1 and n_jobs=2, so both
see the same spells of a shared machine; the table gives the median and range of each, and
``--out`` appends it, with the command, to a markdown file.

    python bench/gridsearch_jobs.py --runs 5 --out bench/GRIDSEARCH.md --label "after the fix"
    python bench/gridsearch_jobs.py --grid light ...     # 0.1-second fits: worker start-up dominates
    python bench/gridsearch_jobs.py --estimator dummy ... # the same search of a DummyClassifier: the floor
    python bench/gridsearch_jobs.py --threads 2 ...      # MLPClassifier(threads=2) in every fit
    python bench/gridsearch_jobs.py --arms 1 2 2:threading ...  # also n_jobs=2 on joblib's threading backend

An arm is n_jobs, or n_jobs:backend (a joblib backend, set with ``joblib.parallel_config`` around the
search; default loky, joblib's own). The arms of a run go in turn, their order rotating from run to
run; the ratios compare the first arm with each other one, run by run.

Needs scikit-learn and $FASTNN_DATA/mnist/t10k-*-ubyte.gz.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

# 2 x 2 x 2 candidates x 3 folds = 24 fits. "heavy": 6,000 digits, 4,000 per training fold, 3 epochs,
# about 0.4 s per fit here; "light": 4,000 digits, 2 epochs, about 0.07 s per fit.
GRIDS = {
    "heavy": (6000, 3, {"batch_size": [1, 10], "learning_rate_init": [0.05, 0.1],
                        "hidden_layer_sizes": [(100,), (300,)]}),
    "light": (4000, 2, {"batch_size": [10, 50], "learning_rate_init": [0.05, 0.1],
                        "hidden_layer_sizes": [(30,), (100,)]}),
}
CV = 3


def child(args):
    """One process: the search --searches times; prints their times as JSON."""
    import warnings

    import joblib
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV

    import fastnn
    from fastnn.sklearn import MLPClassifier

    warnings.simplefilter("ignore", ConvergenceWarning)
    n, epochs, grid = GRIDS[args.grid]
    if args.estimator == "dummy":
        from sklearn.dummy import DummyClassifier
        estimator, grid = DummyClassifier(), {"strategy": ["most_frequent", "prior", "stratified", "uniform"] * 2}
    else:
        estimator = MLPClassifier(max_iter=epochs, random_state=0, threads=args.threads)
    folder = Path(os.environ["FASTNN_DATA"]) / "mnist"
    X, y = fastnn.load_idx(folder / "t10k-images-idx3-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz")
    X, y = X[:n], y[:n]
    n_jobs, backend = parse_arm(args.child)
    times = []
    for _ in range(args.searches):
        search = GridSearchCV(estimator, grid, cv=CV, n_jobs=n_jobs)
        with joblib.parallel_config(backend=backend):
            t0 = time.perf_counter()
            search.fit(X, y)
            times.append(time.perf_counter() - t0)
    print(json.dumps({"arm": args.child, "times": times, "best": search.best_score_}))


def parse_arm(arm):
    """(n_jobs, backend) of an arm "2" or "2:threading"."""
    n_jobs, _, backend = arm.partition(":")
    return int(n_jobs), backend or "loky"


def arm_name(arm):
    n_jobs, backend = parse_arm(arm)
    return f"n_jobs={n_jobs}" + ("" if backend == "loky" else f", {backend}")


def summary(values):
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--searches", type=int, default=2, help="searches per process; the first starts the workers")
    parser.add_argument("--grid", choices=GRIDS, default="heavy")
    parser.add_argument("--estimator", choices=("fastnn", "dummy"), default="fastnn")
    parser.add_argument("--threads", type=int, default=1, help="MLPClassifier(threads=...)")
    parser.add_argument("--out", type=Path, help="append the table to this markdown file")
    parser.add_argument("--label", default="GridSearchCV n_jobs=1 against n_jobs=2", help="the table's heading")
    parser.add_argument("--arms", nargs="+", default=["1", "2"],
                        help="n_jobs or n_jobs:backend of each arm (the first is the baseline of the ratios)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    for arm in args.arms:
        parse_arm(arm)  # a bad arm fails here, not in a child
    results = {arm: [] for arm in args.arms}
    forwarded = ["--grid", args.grid, "--estimator", args.estimator, "--threads", str(args.threads),
                 "--searches", str(args.searches)]
    for run in range(args.runs):
        k = run % len(args.arms)
        for arm in args.arms[k:] + args.arms[:k]:
            out = subprocess.run([sys.executable, __file__, "--child", arm, *forwarded], capture_output=True,
                                 text=True, check=True)
            results[arm].append(json.loads(out.stdout.strip().splitlines()[-1])["times"])
            print(f"run {run + 1}: {arm_name(arm)} {[round(t, 2) for t in results[arm][-1]]}", file=sys.stderr)
    n, epochs, grid = GRIDS[args.grid]
    what = ("DummyClassifier" if args.estimator == "dummy" else
            f"MLPClassifier(max_iter={epochs}, threads={args.threads})")
    columns = ["first search (starts the workers)"] + [f"search {i + 1} (workers running)"
                                                       for i in range(1, args.searches)]
    rows = [f"| {arm_name(arm)} | " + " | ".join(summary([r[i] for r in rs]) for i in range(args.searches)) + " |"
            for arm, rs in results.items()]
    base = args.arms[0]
    for arm in args.arms[1:]:
        ratios = " | ".join(summary([a[i] / b[i] for a, b in zip(results[base], results[arm])])
                            for i in range(args.searches))
        rows.append(f"| {arm_name(base)} / {arm_name(arm)} | {ratios} |")
    order = ("n_jobs=1 and 2 alternating" if args.arms == ["1", "2"] else
             f"arms {', '.join(arm_name(a) for a in args.arms)} in turn, rotating")
    text = "\n".join([
        f"### {args.label}", "",
        f"`python bench/gridsearch_jobs.py {shlex.join(sys.argv[1:])}`: GridSearchCV of {what} over "
        f"{grid if args.estimator != 'dummy' else '8 strategies'}, cv={CV} (24 fits), {n:,} MNIST test digits; "
        f"{args.runs} runs, each a fresh process, {order}; seconds, median (range); "
        f"NUMBA_CACHE_DIR={os.environ.get('NUMBA_CACHE_DIR', '(unset)')}, {os.cpu_count()} cores.", "",
        "| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|", *rows, ""])
    print(text)
    if args.out:
        with open(args.out, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
