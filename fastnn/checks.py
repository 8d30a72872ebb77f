"""Argument checking at the API boundary: every problem is a ValueError naming the argument."""
import math
import numbers
import os
from pathlib import Path

import numba
import numpy as np


def check_sizes(sizes):
    """Return sizes as a list of ints, or raise if it is not a valid layer list."""
    try:
        sizes = list(sizes)
    except TypeError:
        raise ValueError(f"sizes must be a list of layer widths, got {sizes!r}") from None
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least 2 layers (input and output), got {sizes!r}")
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1:
            raise ValueError(f"every layer width in sizes must be a positive integer, got {sizes!r}")
    return [int(s) for s in sizes]


def check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def check_seed(seed):
    """seed as an int, or None; a ValueError for anything else."""
    if seed is None:
        return None
    return check_int(seed, "seed", 0)


def check_float(value, name, minimum=None, positive=False, below=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    value = float(value)
    if positive and not value > 0:
        raise ValueError(f"{name} must be positive, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    if below is not None and not value < below:
        raise ValueError(f"{name} must be below {below}, got {value}")
    return value


def check_output_folder(path, name="out"):
    """Check, before any work, that a folder of results can be written at path; returns it as a Path.

    The folder may not exist yet: then its nearest existing parent must be a writable folder.

    Raises
    ------
    ValueError
        Naming the argument (``name``) and the problem.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{name} {path} is a file, not a folder")
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise ValueError(f"{name} {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{name} {path}: no permission to write in {existing}")
    return path


def usable_cores():
    """How many cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def thread_budget():
    """How many threads this process should run: its cores, and at most NUMBA_NUM_THREADS.

    joblib's worker processes (GridSearchCV(n_jobs=...)) get NUMBA_NUM_THREADS = cores // n_jobs,
    so the workers together do not run more threads than there are cores.
    """
    return max(1, min(usable_cores(), numba.config.NUMBA_NUM_THREADS))


# How check_threads names its arguments and their values: Python's keywords, or a command line's flags.
PYTHON_NAMES = {"threads": "threads", "batch_size": "batch_size", "hogwild": "hogwild", "hogwild on": "hogwild=True",
                "set": "{}={}"}


def check_threads(threads, batch_size, hogwild, names=PYTHON_NAMES):
    """threads as an int, or raise if the combination of threads, batch size and hogwild cannot run.

    names says how messages call the arguments (see PYTHON_NAMES; the command line passes its flags).
    """
    t, b, h, on, set_ = (names[k] for k in ("threads", "batch_size", "hogwild", "hogwild on", "set"))
    threads = check_int(threads, t, 1)
    cores = usable_cores()
    if threads > cores:
        raise ValueError(f"{set_.format(t, threads)}, but this process may run on only {cores} core(s); the threads "
                         f"wait for each other by spinning, so each needs a core of its own")
    if hogwild not in (True, False):
        raise ValueError(f"{h} must be True or False, got {hogwild!r}")
    if hogwild and threads < 2:
        raise ValueError(f"{on} needs {t} >= 2 (with one thread it is plain SGD)")
    if batch_size == 1 and threads > 1 and not hogwild:
        raise ValueError(f"online learning ({set_.format(b, 1)}) updates the weights after every example, so it "
                         f"cannot be split across threads exactly; use {set_.format(t, 1)}, a {b} above 1, or {on} "
                         f"for the lock-free approximation")
    return threads


def _first_bad_row(A):
    bad = ~np.isfinite(A)
    return int(np.argmax(bad.reshape(len(A), -1).any(axis=1)))


def writable(A):
    """A, or a copy of it if it is read-only.

    Numba compiles a separate version of every kernel for read-only arrays (a memory-mapped
    file, or the memmaps joblib hands its worker processes), and compiling takes seconds per
    kernel in every new process; copying the data costs milliseconds.
    """
    return A if A.flags.writeable else A.copy()


def as_features(X, n_in, dtype, name="X"):
    """X as a C-contiguous (n, n_in) array of dtype, checked for shape and finiteness."""
    X = np.asarray(X)
    if X.dtype.kind not in "biuf" or X.dtype.kind == "b":
        raise ValueError(f"{name} must hold numbers, got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D with shape (n_samples, {n_in}), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty (0 rows)")
    if X.shape[1] != n_in:
        raise ValueError(f"{name} has {X.shape[1]} columns but the network's input layer has {n_in}")
    X = writable(np.ascontiguousarray(X, dtype=dtype))
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or inf (first in row {_first_bad_row(X)})")
    return X


def as_targets(y, n, n_out, dtype, name="y", cost=None, multilabel=False):
    """Return (Y, labels): targets (n, n_out) of dtype and integer labels (n,).

    y is either integer class labels in [0, n_out) of shape (n,), or targets of shape (n, n_out);
    the labels of targets are their row-wise argmax. Targets of 0s and 1s only, for two or more
    outputs, are one-hot rows (exactly one 1 each), unless ``multilabel``: then each row is a set of
    labels (any number of 1s), which only the cross-entropy cost's independent sigmoid outputs can
    learn. With ``cost`` "cross_entropy" every target lies in [0, 1]; with "log_likelihood" every row
    is a probability distribution (non-negative, summing to 1).

    Raises
    ------
    ValueError
        Naming the first row that breaks a rule, and the rule.
    """
    y = np.asarray(y)
    if y.dtype.kind not in "biuf" or y.dtype.kind == "b":
        raise ValueError(f"{name} must hold numbers, got dtype {y.dtype}")
    if y.ndim == 0 or len(y) != n:
        raise ValueError(f"{name} has {y.size if y.ndim == 0 else len(y)} rows but X has {n}")
    if not np.isfinite(y).all():
        raise ValueError(f"{name} contains NaN or inf (first in row {_first_bad_row(y)})")
    if y.ndim == 1:
        if y.dtype.kind == "f" and not np.array_equal(y, np.round(y)):
            raise ValueError(f"{name} is 1-D, so it must hold integer class labels, but it has fractions")
        bad = (y < 0) | (y >= n_out)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{name} has label {y[i].item()!r} at row {i}, outside [0, {n_out}) for a network "
                             f"with {n_out} outputs")
        labels = y.astype(np.int64)
        Y = np.zeros((n, n_out), dtype=dtype)
        Y[np.arange(n), labels] = 1
        return Y, labels
    if multilabel and cost != "cross_entropy":
        raise ValueError(f"multilabel targets need the cross-entropy cost (a sigmoid output per label), not {cost!r}")
    if y.ndim == 2 and y.shape[1] == n_out:
        _check_target_rows(y, name, cost, multilabel)
        return writable(np.ascontiguousarray(y, dtype=dtype)), np.argmax(y, axis=1).astype(np.int64)
    raise ValueError(f"{name} must be labels of shape ({n},) or targets of shape ({n}, {n_out}), got shape {y.shape}")


def check_weights(sample_weight, n, name="sample_weight"):
    """Per-example weights as float64 (n,), checked.

    Raises
    ------
    ValueError
        For a shape other than (n,), non-numbers, NaN or inf, a negative weight (naming its row), or
        weights that are all zero.
    """
    w = np.asarray(sample_weight)
    if w.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold numbers, got dtype {w.dtype}")
    if w.ndim == 0:  # one weight for every row, as scikit-learn takes it
        w = np.full(n, w)
    if w.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), one weight per row of X, got shape {w.shape}")
    w = w.astype(np.float64)
    if not np.isfinite(w).all():
        raise ValueError(f"{name} contains NaN or inf (first at row {_first(~np.isfinite(w))})")
    i = _first(w < 0)
    if i is not None:
        raise ValueError(f"{name} has the negative weight {w[i]:g} at row {i}; weights must be at least 0")
    total = w.sum()
    if not total > 0:
        raise ValueError(f"{name} is zero for every row: at least one weight must be positive")
    if not np.isfinite(total):
        raise ValueError(f"{name} sums to more than float64 holds; scale the weights down")
    return w


def as_weights(sample_weight, n, name="sample_weight"):
    """``check_weights``' weights scaled to a mean of 1, or None where every weight is the same (the
    unweighted epochs then run as they are, to the bit).

    The scaling makes an epoch's mean gradient sum_i w_i g_i / sum_i w_i, whatever the batch size: for
    whole-number weights, the gradient of the data with each row repeated w_i times.
    """
    w = check_weights(sample_weight, n, name)
    if (w == w[0]).all():
        return None
    w = w / w.max()  # first: n / sum would overflow for subnormal weights
    return w * (n / w.sum())


def _first(bad):
    """Index of the first true row of a boolean vector, or None."""
    return int(np.argmax(bad)) if bad.any() else None


def _check_target_rows(y, name, cost, multilabel=False):
    """The rules of ``as_targets`` for 2-D targets."""
    if multilabel:
        i = _first(((y != 0) & (y != 1)).any(axis=1))
        if i is not None:
            raise ValueError(f"{name} row {i} holds a value other than 0 and 1: multilabel targets are label sets")
        return
    if y.shape[1] > 1 and ((y == 0) | (y == 1)).all():  # one output: 0 and 1 are the two classes
        ones = np.count_nonzero(y == 1, axis=1)
        i = _first(ones != 1)
        if i is not None:
            raise ValueError(f"{name} row {i} has {ones[i]} ones: a row of 0s and 1s is a one-hot class label and "
                             f"needs exactly one 1 (pass integer labels of shape ({len(y)},) to avoid the question; "
                             f"for label sets, the cross-entropy cost and check_data(X, y, multilabel=True))")
        return
    if cost == "cross_entropy":
        i = _first(((y < 0) | (y > 1)).any(axis=1))
        if i is not None:
            v = y[i][(y[i] < 0) | (y[i] > 1)][0]
            raise ValueError(f"{name} row {i} holds the target {v:g}: the cross-entropy cost needs targets in [0, 1] "
                             f"(its sigmoid outputs cannot go beyond)")
    elif cost == "log_likelihood":
        i = _first((y < 0).any(axis=1))
        if i is not None:
            raise ValueError(f"{name} row {i} has a negative target: the log-likelihood cost needs each row to be a "
                             f"probability distribution (non-negative, summing to 1)")
        sums = y.sum(axis=1, dtype=np.float64)
        i = _first(np.abs(sums - 1) > 1e-4)
        if i is not None:
            raise ValueError(f"{name} row {i} sums to {sums[i]:.6g}: the log-likelihood cost needs each row to be a "
                             f"probability distribution (non-negative, summing to 1)")
