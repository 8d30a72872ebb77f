"""Compile time and peak memory of fastnn, each measured in a fresh process (used by bench/report.py).

    python bench/probe.py compile     import fastnn, then two fit epochs; prints JSON timings
    python bench/probe.py memory      one fit epoch on 60,000 x 784 float32; prints JSON sizes

Run "compile" with NUMBA_CACHE_DIR pointing at an empty folder for the cold figure, then again
with the same folder for the warm one. Memory is the peak resident set (VmHWM) during training,
reset after the data are loaded, against the resident set just before training.
"""
import json
import os
import sys
import time
from pathlib import Path

N_MEMORY = 60_000


def vm(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # MB
    raise RuntimeError(f"{field} not in /proc/self/status")


def probe_compile():
    t0 = time.perf_counter()
    import numpy as np
    import fastnn
    t_import = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    X, y = rng.random((2000, 784), dtype=np.float32), rng.integers(0, 10, 2000)
    net = fastnn.Network([784, 30, 10], seed=0)
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        net.fit(X, y, 1, 10, 0.5, seed=0)
        times.append(time.perf_counter() - t0)
    return dict(import_s=t_import, first_epoch_s=times[0], second_epoch_s=times[1],
                compile_s=t_import + times[0] - times[1])


def probe_memory():
    import numpy as np
    import fastnn
    root = os.environ.get("FASTNN_DATA")
    images = Path(root) / "fashion-mnist" / "train-images-idx3-ubyte.gz" if root else None
    if images and images.exists():
        X, y = fastnn.load_idx(images, images.with_name("train-labels-idx1-ubyte.gz"), dtype=np.float32)
        source = "Fashion-MNIST training images"
    else:
        rng = np.random.default_rng(0)
        X, y = rng.random((N_MEMORY, 784), dtype=np.float32), rng.integers(0, 10, N_MEMORY)
        source = "uniform noise"
    net = fastnn.Network([784, 30, 10], seed=0)
    net.fit(X[:100], y[:100], 1, 20, 0.5, seed=0)  # compile first: the compiler's memory is not training's
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        reset = True
    except OSError:
        reset = False
    before = vm("VmRSS")
    net.fit(X, y, 1, 20, 0.5, seed=0)
    peak = vm("VmHWM")
    return dict(examples=len(X), source=source, data_mb=(X.nbytes + y.nbytes) / 2 ** 20, rss_before_mb=before,
                peak_mb=peak, extra_mb=peak - before, peak_reset=reset)


if __name__ == "__main__":
    what = sys.argv[1]
    print(json.dumps(probe_compile() if what == "compile" else probe_memory()))
