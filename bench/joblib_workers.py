"""What a joblib worker process spends on fastnn before and during its fits: a diagnostic probe.

joblib.Parallel(n_jobs=2) runs four fits of fastnn.sklearn.MLPClassifier on 2,700 MNIST test
digits. X goes to the workers the way joblib sends any array over 1 MB: memory-mapped and
read-only. Each fit reports its worker's pid, how long importing fastnn.sklearn took there (0 once
imported), its own time and the next fit's, Numba's cache hits and misses for the epoch kernel,
and the thread limits joblib set in the worker's environment.

    python bench/joblib_workers.py [--dtype float64]

Run it twice after changing a kernel: the first run compiles what the cache lacks.
"""
import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS", "NUMBA_CACHE_DIR")


def fit_twice(X, y, dtype):
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    from fastnn.kernels import sgd
    from fastnn.sklearn import MLPClassifier
    t1 = time.perf_counter()
    times = []
    for _ in range(2):
        MLPClassifier((30,), max_iter=2, batch_size=10, random_state=0, dtype=dtype).fit(X, y)
        times.append(round(time.perf_counter() - t1 - sum(times), 2))
    stats = sgd.minibatch_epoch.stats
    return dict(pid=os.getpid(), import_s=round(t1 - t0, 2), fits_s=times, x_writeable=X.flags.writeable,
                cache_hits=sum(stats.cache_hits.values()), cache_misses=sum(stats.cache_misses.values()),
                env={k: os.environ.get(k) for k in THREAD_VARS})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    args = parser.parse_args()
    import fastnn
    folder = Path(os.environ["FASTNN_DATA"]) / "mnist"
    X, y = fastnn.load_idx(folder / "t10k-images-idx3-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz",
                           dtype=args.dtype)
    X, y = X[:2700], y[:2700]
    t = time.perf_counter()
    for row in Parallel(n_jobs=2)(delayed(fit_twice)(X, y, args.dtype) for _ in range(4)):
        print(json.dumps(row))
    print(f"wall {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()
