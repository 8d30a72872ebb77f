"""Paired A/B of the epoch kernels: this checkout's against another revision's, in one process.

    python bench/ab.py --base HEAD~1            # or any git revision, or --base-dir DIR
    python bench/ab.py --base v0 --pairs 11 --out bench/ab-update.md

The base revision's ``kernels/`` folder is extracted (``git archive``) and imported as a
separate package, and this checkout's ``kernels/`` is copied and imported the same way, so both versions are
compiled afresh in the same process, each from a folder of its own. (With the checkout's package itself,
loaded from Numba's cache, as the new side, identical kernels had come out 0.5-1.2% slower on that side at
batch 1 to 20: the control below.) For every shape the
two epochs alternate, A B then B A, on copies of the same start weights, example order and
data (float32 unless ``--dtype``, sigmoid, quadratic cost, eta 3.0: the benchmark suite's settings; ``--cost`` picks
another cost and its output layer), after a
warm-up that compiles both. Within a pair each side runs ``--repeat`` times, interleaved, and
keeps its fastest (other work on the shared host can only add time). A pair's ratio is
new / old; the table gives the median time of each and the median ratio with its 95% percentile-bootstrap
interval (``fastnn.study.stats.bootstrap``) and its range over the pairs, so a slow spell that hits one pair
does not decide the verdict: a change is faster or slower only where the interval excludes 1. The same
kernels on both sides (``--base HEAD`` with nothing changed) are the control: their interval should hold 1.

The base may use the signature before or after the update-rule module (eta, lmbda, mu, n
as loose scalars, or rule and hyper); both are handled.

``--kernel gradient`` times the gradient path instead of the epoch: the study's gradient-noise
kernel (``noise.minibatch_gradient_spread``), the summed gradient of every mini-batch of the
epoch's order through ``backprop.block_gradient``, with no update. ``--kernel threads`` times the
two-thread synchronous epoch (``parallel.minibatch_part`` on two threads, ``fastnn.threads.run_threads``),
the split itself even where ``fastnn.threads`` would hand the epoch to BLAS on two threads.
"""
import argparse
import importlib.util
import inspect
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402

import fastnn  # noqa: E402
from fastnn import kernels  # noqa: E402
from fastnn.study.stats import bootstrap  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WHAT = {"epoch": "one epoch", "gradient": "the gradient of every mini-batch", "threads": "one two-thread epoch"}
SHAPES = [([784, 30, 10], 1), ([784, 30, 10], 20), ([784, 30, 10], 100), ([784, 100, 10], 20)]


def load_base(base_dir, name="kernels_base"):
    """Import the kernels folder base_dir as the package ``name``."""
    spec = importlib.util.spec_from_file_location(name, Path(base_dir) / "__init__.py",
                                                  submodule_search_locations=[str(base_dir)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def extract(rev, folder):
    """git archive rev kernels/ into folder; returns the extracted kernels folder."""
    data = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "kernels"], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(folder, filter="data")
    return Path(folder) / "kernels"


def epoch_call(module, net, batch_size, eta, momentum, n):
    """A function (params, velocity, X, Y, order) -> None running one epoch of module's kernels."""
    args = net.kernel_args()
    layout = args[1:]
    sgd = module.sgd
    fn = sgd.online_epoch if batch_size == 1 else sgd.minibatch_epoch
    py = getattr(fn, "py_func", fn)
    optimizer = fastnn.Optimizer(eta, momentum=momentum)
    dt = net.dtype.type
    if "hyper" in inspect.signature(py).parameters:
        extra = (optimizer.rule, optimizer.hyper(n, net.dtype))
    else:  # the loose-scalar signature: eta, lmbda, mu, n
        extra = (dt(eta), dt(0.0), dt(momentum), n)
    if batch_size != 1:
        extra = (batch_size,) + extra
    return lambda params, velocity, X, Y, order: fn(params, velocity, *layout, X, Y, order, *extra)


def gradient_call(module, net, batch_size):
    """A function (params, velocity, X, Y, order) -> None computing the gradient of every mini-batch of
    order with module's kernels (velocity unused); returns the squared distances to a zero gradient."""
    args = net.kernel_args()
    g_zero = np.zeros(len(net.params))

    def call(params, velocity, X, Y, order):
        batches = np.ascontiguousarray(order[:len(order) // batch_size * batch_size].reshape(-1, batch_size))
        return module.noise.minibatch_gradient_spread(params, *args[1:], X, Y, batches, g_zero)[0]
    return call


def threads_call(module, net, batch_size, eta, n):
    """A function (params, velocity, X, Y, order) -> None running one two-thread epoch of module's
    ``parallel.minibatch_part``, with the shared buffers that module's version asks for."""
    from fastnn.kernels.layout import aligned_empty
    from fastnn.threads import run_threads
    args = net.kernel_args()
    optimizer = fastnn.Optimizer(eta)
    rule, hyper = optimizer.rule, optimizer.hyper(n, net.dtype)
    parallel = importlib.import_module(module.__name__ + ".parallel")  # not imported by the package
    sizes, dtype = net.sizes, net.dtype

    def call(params, velocity, X, Y, order):
        m_max = min(batch_size, len(order))
        Xs = aligned_empty((2, m_max, X.shape[1]), dtype)
        if hasattr(parallel, "forward_blocks"):  # a block per claim of the forward pass
            names = inspect.signature(getattr(parallel.forward_blocks, "py_func", parallel.forward_blocks)).parameters
            if "n_in" in names:  # claims whose size depends on the layer's inputs too (routes on Zen 4)
                shape = parallel.forward_blocks(sizes[1], m_max, dtype.itemsize, 2, sizes[0])
            elif "nthreads" in names:  # claims whose size depends on the threads (a share each where it goes to BLAS)
                shape = parallel.forward_blocks(sizes[1], m_max, dtype.itemsize, 2)
            else:  # older kernels: the same claims for any number of threads
                shape = parallel.forward_blocks(sizes[1], m_max, dtype.itemsize)
            H = aligned_empty(shape, dtype)
        else:  # the transpose of the first hidden layer, one row per neuron
            line = 64 // dtype.itemsize
            H = aligned_empty((sizes[1], -(-m_max // line) * line), dtype)
        shared = (aligned_empty(parallel.shared_blocks(np.asarray(sizes), m_max), dtype),) \
            if hasattr(parallel, "shared_blocks") else ()  # the whole batch's deltas, each thread its rows
        run_threads(lambda tid, sync: parallel.minibatch_part(tid, 2, sync, Xs, H, *shared, params, velocity, *args[1:],
                                                              X, Y, order, batch_size, rule, hyper), 2)
    return call


def data(n):
    root = os.environ.get("FASTNN_DATA")
    folder = Path(root) / "fashion-mnist" if root else None
    if folder and (folder / "train-images-idx3-ubyte.gz").exists():
        X, y = fastnn.load_idx(folder / "train-images-idx3-ubyte.gz", folder / "train-labels-idx1-ubyte.gz")
        return X[:n], y[:n], "Fashion-MNIST training images"
    rng = np.random.default_rng(0)
    return rng.random((n, 784)), rng.integers(0, 10, n), "uniform noise"


def measure(base, sizes, batch_size, X, y, pairs, momentum=0.0, eta=3.0, repeat=3, cost="quadratic",
            dtype="float32", kernel="epoch", atol=1e-4, new=kernels):
    """Per-pair (old seconds, new seconds) for one epoch (or gradient pass) over X, each the fastest of
    ``repeat`` interleaved runs: base's kernels against new's."""
    net = fastnn.Network(sizes, cost=cost, init="large", dtype=dtype, seed=0)
    d = net.check_data(X, y)
    order = np.random.default_rng(1).permutation(len(d.X))
    start = net.params.copy()
    # The check after compiling: the same steps on a short prefix (over a whole epoch at eta 3 float32
    # round-off grows until the two runs differ everywhere), or the same gradients on one mini-batch.
    if kernel == "gradient":
        calls = {"old": gradient_call(base, net, batch_size), "new": gradient_call(new, net, batch_size)}
        prefix, tolerance = order[:batch_size], {"rtol": 1e-5, "atol": 0}
    elif kernel == "threads":
        calls = {"old": threads_call(base, net, batch_size, eta, len(d.X)),
                 "new": threads_call(new, net, batch_size, eta, len(d.X))}
        prefix, tolerance = order[:64], {"rtol": 0, "atol": atol}
    else:
        calls = {"old": epoch_call(base, net, batch_size, eta, momentum, len(d.X)),
                 "new": epoch_call(new, net, batch_size, eta, momentum, len(d.X))}
        prefix, tolerance = order[:64], {"rtol": 0, "atol": atol}
    out = {}

    def once(which, order=order):
        net.params[:] = start
        velocity = np.zeros_like(net.params)
        t0 = time.perf_counter()
        out[which] = calls[which](net.params, velocity, d.X, d.Y, order)
        return time.perf_counter() - t0

    after = {}
    for which in calls:  # compile both, then the check above
        once(which, prefix)
        after[which] = out[which] if kernel == "gradient" else net.params.copy()
    np.testing.assert_allclose(after["new"], after["old"], **tolerance)
    times = []
    for p in range(pairs):
        first, second = ("old", "new") if p % 2 == 0 else ("new", "old")
        t = {first: [], second: []}
        for _ in range(repeat):  # interleaved; each side keeps its fastest: other work on the host only adds time
            t[first].append(once(first))
            t[second].append(once(second))
        times.append((min(t["old"]), min(t["new"])))
    return np.array(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--base", default="HEAD", help="git revision whose kernels/ is the old side")
    parser.add_argument("--base-dir", help="a kernels folder to use as the old side instead of --base")
    parser.add_argument("--pairs", type=int, default=9, help="alternating A/B pairs per shape")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs per side in a pair (its fastest counts)")
    parser.add_argument("--n", type=int, default=10_000, help="examples per timed epoch")
    parser.add_argument("--momentum", action="store_true", help="also time momentum 0.9 at batch 1 and 20")
    parser.add_argument("--cost", default="quadratic", choices=list(fastnn.registry.COSTS),
                        help="the cost (and with it the output layer) of every timed network")
    parser.add_argument("--shapes", nargs="+", metavar="SIZES:BATCH[:MOMENTUM]",
                        help="time these instead of the default shapes, e.g. 784,30,10:10 784,1000,10:100:0.9")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"], help="the networks' dtype")
    parser.add_argument("--kernel", default="epoch", choices=["epoch", "gradient", "threads"],
                        help="time training epochs, the gradient of every mini-batch (the study's noise kernel), "
                             "or two-thread synchronous epochs")
    parser.add_argument("--atol", type=float, default=1e-4,
                        help="the check's tolerance on the weights after 64 steps: a change of the order of "
                             "a reduction (say, the vector width) makes float32 round-off at eta 3 grow past 1e-4 "
                             "in online learning; float64 keeps the default")
    parser.add_argument("--out", help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        base_dir = Path(args.base_dir) if args.base_dir else extract(args.base, tmp + "/old")
        base = load_base(base_dir)
        new_dir = Path(tmp) / "new" / "kernels"
        shutil.copytree(ROOT / "kernels", new_dir, ignore=shutil.ignore_patterns("__pycache__"))
        new = load_base(new_dir, "kernels_new")
        X, y, what = data(args.n)
        shapes = [(s, b, 0.0) for s, b in SHAPES]
        if args.shapes:
            shapes = [([int(n) for n in s.split(":")[0].split(",")], int(s.split(":")[1]),
                       float(s.split(":")[2]) if s.count(":") == 2 else 0.0) for s in args.shapes]
        if args.momentum:
            shapes += [([784, 30, 10], 1, 0.9), ([784, 30, 10], 20, 0.9)]
        label = args.base_dir or args.base
        lines = [f"Paired A/B, `python bench/ab.py {' '.join(argv if argv is not None else sys.argv[1:])}`: "
                 f"old = kernels of {label}, new = this checkout; "
                 f"{WHAT[args.kernel]} of {args.n:,} "
                 f"{what}, {args.dtype}, "
                 f"{args.pairs} alternating pairs per shape, each side the fastest of {args.repeat} interleaved "
                 f"runs; cost {args.cost}.", "",
                 "| network | batch | momentum | old s (median) | new s (median) | new/old (median) | 95% interval "
                 "| range |",
                 "|---|---|---|---|---|---|---|---|"]
        for sizes, b, mu in shapes:
            t = measure(base, sizes, b, X, y, args.pairs, momentum=mu, repeat=args.repeat, cost=args.cost,
                        dtype=args.dtype, kernel=args.kernel, atol=args.atol, new=new)
            r = t[:, 1] / t[:, 0]
            ci = bootstrap(r)
            lines.append(f"| {sizes} | {b} | {mu:g} | {np.median(t[:, 0]):.4f} | {np.median(t[:, 1]):.4f} | "
                         f"{ci.value:.3f} | {ci.lo:.3f}-{ci.hi:.3f} | {r.min():.3f}-{r.max():.3f} |")
            print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
