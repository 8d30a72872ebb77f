"""The ``fastnn`` command line (also ``python -m fastnn``)."""
import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__
from .datasets import DataFileError, load_idx
from .model import DivergenceError, Network
from .registry import ACTIVATIONS, COSTS, DTYPES, INITS

IDX_NAMES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def find_idx(data_dir, dataset):
    """The folder holding ``dataset``'s IDX files under data_dir (data_dir itself or data_dir/dataset)."""
    for folder in (Path(data_dir) / dataset, Path(data_dir)):
        if (folder / IDX_NAMES["test"][0]).exists():
            return folder
    return None


def load_split(folder, holdout, dtype):
    """(X_train, y_train, X_val, y_val, description) from the IDX files in folder.

    With the training files present: train on them, hold out their last ``holdout``
    examples for validation. With only the test files (the offline MNIST case):
    train on the first n - holdout test images, validate on the rest.
    """
    train = [folder / f for f in IDX_NAMES["train"]]
    test = [folder / f for f in IDX_NAMES["test"]]
    if all(f.exists() for f in train):
        X, y = load_idx(*train, dtype=dtype)
        source = f"{folder.name} training set"
    else:
        X, y = load_idx(*test, dtype=dtype)
        source = f"{folder.name} test set (the training files are not in {folder})"
    if not 0 < holdout < len(X):
        raise SystemExit(f"fastnn: --holdout must be between 1 and {len(X) - 1}, got {holdout}")
    k = len(X) - holdout
    return X[:k], y[:k], X[k:], y[k:], f"{source}: {k} training / {holdout} held-out examples"


def cmd_train(args):
    data_dir = args.data or os.environ.get("FASTNN_DATA")
    if not data_dir:
        raise SystemExit("fastnn: no data folder; pass --data DIR or set FASTNN_DATA to a folder holding "
                         "the MNIST IDX files (t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz, and "
                         "train-*.gz if you have them), directly or in a subfolder named after the data set")
    folder = find_idx(data_dir, args.dataset)
    if folder is None:
        raise SystemExit(f"fastnn: no {args.dataset} IDX files ({IDX_NAMES['test'][0]}) in {data_dir} or "
                         f"{Path(data_dir) / args.dataset}")
    sizes = [int(s) for s in args.sizes.split(",")]
    try:
        X, y, X_val, y_val, description = load_split(folder, args.holdout, DTYPES[args.dtype])
        net = Network(sizes, activation=args.activation, cost=args.cost, init=args.init, dtype=args.dtype,
                      seed=args.seed)
        print(f"fastnn {__version__} on {platform.machine()}, Python {platform.python_version()}")
        print(f"data: {description}")
        print(f"net: {net}, init={args.init}; epochs={args.epochs}, batch_size={args.batch_size}, "
              f"eta={args.eta}, lmbda={args.lmbda}")
        t0 = time.perf_counter()
        # Compile (or load from the cache) the kernels this run uses, so epoch times exclude it.
        net.fit(X[:2], y[:2], 1, min(args.batch_size, 2), args.eta, validation_data=(X_val[:2], y_val[:2]))
        net.initialize(args.init, args.seed)
        print(f"compile/load kernels: {time.perf_counter() - t0:.2f} s")
        history = net.fit(X, y, args.epochs, args.batch_size, args.eta, lmbda=args.lmbda, momentum=args.momentum,
                          validation_data=(X_val, y_val), seed=args.seed)
    except (ValueError, DataFileError, DivergenceError) as e:
        raise SystemExit(f"fastnn: {e}")
    for epoch, (t, acc) in enumerate(zip(history.epoch_time, history.validation_accuracy)):
        print(f"epoch {epoch + 1:3d}: held-out accuracy {acc:.4f}   {t:.3f} s   "
              f"{len(X) / t:,.0f} examples/s")
    if args.save:
        net.save(args.save)
        print(f"saved to {args.save}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="fastnn", description=__doc__)
    parser.add_argument("--version", action="version", version=f"fastnn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a network on MNIST-format IDX files and print accuracy per epoch")
    train.add_argument("--data", help="folder with the IDX files (default: $FASTNN_DATA)")
    train.add_argument("--dataset", default="mnist", help="subfolder / data set name (default: mnist)")
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
    train.add_argument("--holdout", type=int, default=2000, help="examples held out for validation")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--save", help="save the trained network (.json or .npz)")
    train.set_defaults(func=cmd_train)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
