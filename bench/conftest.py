import contextlib
import os
import sys
from pathlib import Path

# One thread for every implementation, BLAS included: speed is compared per core.
# (Must be set before NumPy is imported.)
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))

N_EXAMPLES = 5000  # examples per timed epoch; README scales the times to 50,000
N_FULL = 50_000  # examples in the full-epoch benchmarks of fastnn


def cpu_name():
    """The CPU's model name (from /proc/cpuinfo where there is one), for the probes' headers."""
    import platform
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def probe_arguments(doc, shapes, rounds):
    """The command line of the probes that time networks shape by shape (bench/phases_probe.py,
    bench/split_probe.py, bench/layout_probe.py): --shapes SIZES:BATCH ..., --n examples per epoch (the
    layout probe times products, not epochs, and ignores it), --rounds, --out a markdown file. Returns the
    parsed arguments and the shapes as (sizes, batch size) pairs."""
    import argparse
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--shapes", nargs="+", default=shapes, metavar="SIZES:BATCH")
    parser.add_argument("--n", type=int, default=10_000, help="examples per epoch")
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--out", help="also write the table to this markdown file")
    args = parser.parse_args()
    pairs = []
    for spec in args.shapes:
        shape, batch = spec.split(":")
        pairs.append(([int(s) for s in shape.split(",")], int(batch)))
    return args, pairs


def probe_report(args, title, about, lines):
    """The markdown of a shape-by-shape probe run with ``probe_arguments``' command line: the title, the command
    that made it, the CPU, its rounds and examples, ``about`` (what the table holds), and the table's lines;
    written to ``args.out`` where given, and printed."""
    text = (f"# {title}\n\n`python bench/{Path(sys.argv[0]).name} {' '.join(sys.argv[1:])}`: {cpu_name()}, "
            f"{args.rounds} rounds of {args.n:,} examples a shape; {about}\n\n" + "\n".join(lines) + "\n")
    if args.out:
        Path(args.out).write_text(text)
    print(text)


def pytest_configure(config):
    config.addinivalue_line("markers", "one_core: every thread of the process runs on one CPU during the test "
                                       "(bench/conftest.py::one_cpu)")


def thread_ids():
    """The kernel's ids of this process's threads (Linux: /proc/self/task)."""
    return {int(tid) for tid in os.listdir("/proc/self/task")}


def default_cpu():
    """$FASTNN_BENCH_CPU, else the highest-numbered CPU this process may use."""
    cpu = os.environ.get("FASTNN_BENCH_CPU")
    return int(cpu) if cpu else max(os.sched_getaffinity(0))


@contextlib.contextmanager
def one_cpu(cpu=None):
    """Run every thread of this process on one CPU inside the block; restore each thread's mask after.

    Setting the thread counts (the variables above, torch.set_num_threads, XLA_FLAGS) is not enough:
    XLA keeps a pool of threads that runs one jitted epoch on both cores (see bench/peers/jax_scan.py
    for what that did to the comparison). os.sched_setaffinity(0, ...) changes only the calling thread
    on Linux, so each thread is pinned by its id; threads started inside the block, by any of them,
    inherit the one CPU. Threads started while the ids are listed are caught by listing again.
    """
    cpu = default_cpu() if cpu is None else cpu
    fallback = os.sched_getaffinity(0)
    before = {}
    pending = thread_ids()
    while pending:
        for tid in pending:
            try:
                before[tid] = os.sched_getaffinity(tid)
                os.sched_setaffinity(tid, {cpu})
            except ProcessLookupError:  # the thread ended meanwhile
                before[tid] = None
        pending = thread_ids() - before.keys()
    try:
        yield cpu
    finally:
        for tid in thread_ids():
            try:
                os.sched_setaffinity(tid, before.get(tid) or fallback)
            except ProcessLookupError:
                pass


@pytest.fixture(autouse=True)
def _one_core_when_marked(request):
    """Tests marked one_core (the one-thread comparisons: test_epoch.py, test_scaling.py) run pinned to one CPU."""
    if request.node.get_closest_marker("one_core") is None or not hasattr(os, "sched_setaffinity"):
        yield
        return
    with one_cpu():
        yield


@pytest.fixture(scope="session")
def training_images():
    """N_FULL Fashion-MNIST training images (float64) and labels when $FASTNN_DATA has them,
    else uniform noise of that shape; decoded once per session."""
    root = os.environ.get("FASTNN_DATA")
    folder = Path(root) / "fashion-mnist" if root else None
    if folder and (folder / "train-images-idx3-ubyte.gz").exists():
        from fastnn import load_idx
        X, y = load_idx(folder / "train-images-idx3-ubyte.gz", folder / "train-labels-idx1-ubyte.gz",
                        dtype=np.float64)
        return X[:N_FULL], y[:N_FULL]
    rng = np.random.default_rng(0)
    return rng.random((N_FULL, 784)), rng.integers(0, 10, N_FULL)


@pytest.fixture(scope="session")
def epoch_data(training_images):
    """The first N_EXAMPLES examples, for the comparison with the peers: a tenth of an epoch each round."""
    X, y = training_images
    return X[:N_EXAMPLES], y[:N_EXAMPLES]


@pytest.fixture(scope="session")
def full_data(training_images):
    """All N_FULL examples (fastnn converts them to its dtype once): the 157 MB of float32 that a real
    epoch reads, more than the last-level cache holds, where N_EXAMPLES' 16 MB fit in it."""
    return training_images
