"""Saving and loading networks without pickle, written atomically.

Two formats, chosen by the file's suffix:

- ``.json``: the book's network2 format (``sizes``, ``weights``, ``biases`` as
  nested lists with (n, 1) biases, ``cost`` as a class name), plus a ``fastnn``
  entry with the activation, cost and dtype. The book's ``network2.load`` reads
  it for the costs the book has; fastnn reads files the book's ``save`` wrote.
- ``.npz``: ``params`` (the flat buffer), ``sizes`` and ``meta`` (a JSON string),
  read through ``fastnn.npz``, which checks every member's header against the archive
  before reading its data, and refuses pickles.

Reading trusts nothing in the file: the sizes must describe at most ``MAX_PARAMS``
parameters and match the arrays stored, all checked before anything is allocated for the
network, and every malformation is a ``ModelFileError``.
"""
import json
import os
import re
import stat
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

from . import npz
from .checks import check_sizes
from .kernels.layout import param_offsets
from .registry import ACTIVATIONS, COSTS, DTYPES, cost_from_book_name

FORMAT_VERSION = 1
MAX_PARAMS = 10**9  # weights and biases a model file may describe (4 GB in float32)
MAX_LAYERS = 1000
MAX_META_BYTES = 1 << 16  # the .npz model's meta string


class ModelFileError(ValueError):
    """A model file is unreadable, corrupt, or does not describe a valid network."""


def atomic_write(path, write):
    """Call write(file) on a temporary file beside path, then rename it to path.

    A failure leaves no file behind and any existing file at path untouched. The file gets the
    permissions an ordinary ``open(path, "w")`` would give it: an existing file's, else 0o666
    less the umask. Temporary files that an earlier, killed writer left beside path
    (``.NAME.PID-XXXX.tmp`` of a process that no longer runs) are removed first.
    """
    path = Path(path)
    folder = path.parent
    remove_stale_temporaries(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp")
    except OSError as e:
        raise _about(e, path) from None
    try:
        os.fchmod(fd, _mode_for(path))
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.replace(tmp, path)
        except OSError as e:
            raise _about(e, path) from None
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _about(error, path):
    """error (an OSError of the temporary file) as the same kind of error about path, the file the caller named."""
    return type(error)(error.errno, error.strerror, str(path)) if error.errno else error


def write_text(path, text):
    """Write text (UTF-8) to path atomically (see atomic_write)."""
    data = text.encode()
    atomic_write(path, lambda f: f.write(data))


def _mode_for(path):
    """The permissions open(path, "w") would give: an existing file's, else 0o666 less the umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask():
    try:  # Linux shows the umask without changing it; os.umask must set it to read it
        with open("/proc/self/status") as f:
            return next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError):
        mask = os.umask(0o022)
        os.umask(mask)
        return mask


STALE_SECONDS = 3600  # an old-style temporary name carries no process id: stale after an hour


def remove_stale_temporaries(path):
    """Remove the temporary files that atomic_write left beside path in a process that was killed."""
    path = Path(path)
    ours = re.compile(rf"\.{re.escape(path.name)}\.(?:(\d+)-)?[\w]+\.tmp")
    try:
        siblings = list(path.parent.iterdir())
    except OSError:
        return
    for p in siblings:
        m = ours.fullmatch(p.name)
        if not m:
            continue
        try:
            stale = (not _running(int(m[1])) if m[1] else
                     time.time() - p.stat().st_mtime > STALE_SECONDS)
            if stale:
                p.unlink()
        except OSError:  # gone already, or not ours to remove
            pass


def _running(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def check_finite(net):
    """Refuse to save a network whose parameters are not all finite, naming the first bad layer."""
    if np.isfinite(net.params).all():
        return
    for l, (w, b) in enumerate(zip(net.weights, net.biases)):
        for name, a in (("weights", w), ("biases", b)):
            if not np.isfinite(a).all():
                raise ValueError(f"refusing to save a network with NaN or inf in its {name}[{l}]: a diverged network "
                                 f"cannot be loaded back; train it again (with a smaller eta) or restore good weights")


def file_format(path):
    """".json" or ".npz" from the file name, or a ValueError."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".json", ".npz"):
        raise ValueError(f"{path}: unknown model file type {suffix!r}; use .json or .npz")
    return suffix


def check_save_path(path, name="path"):
    """Check, before any work, that a model file can be saved at path; returns it as a Path.

    Raises
    ------
    ValueError
        Naming the argument (``name``) and the problem: an unknown suffix, a folder that does
        not exist or cannot be written, or a path that is a folder.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{name} {path} is a folder; give a file name ending in .json or .npz")
    try:
        file_format(path)
    except ValueError:
        raise ValueError(f"{name} {path}: unknown model file type {path.suffix!r}; use .json or .npz") from None
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"{name} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"{name} {path}: no permission to write there")
    return path


def model_dict(sizes, weights, biases, cost, activation="sigmoid", dtype="float64"):
    """The JSON document for a network (the book's keys plus a ``fastnn`` entry)."""
    return {
        "sizes": list(sizes),
        "weights": [np.asarray(w).tolist() for w in weights],
        "biases": [np.asarray(b).reshape(-1, 1).tolist() for b in biases],
        "cost": COSTS[cost].book_name,
        "fastnn": {"format_version": FORMAT_VERSION, "activation": activation, "cost": cost, "dtype": dtype},
    }


def save(net, path):
    """Save a fastnn.Network to a .json or .npz file (see the module docstring).

    Raises
    ------
    ValueError
        For an unknown suffix, a path that is a folder or in a folder that does not exist or cannot be
        written (``check_save_path``), or parameters that are not all finite.
    OSError
        When writing fails (a full disk), naming path; no partial file is left.
    """
    suffix = file_format(path)
    check_save_path(path)
    check_finite(net)
    meta = {"format_version": FORMAT_VERSION, "activation": net.activation, "cost": net.cost,
            "dtype": net.dtype.name}
    if suffix == ".json":
        doc = model_dict(net.sizes, net.weights, net.biases, net.cost, net.activation, net.dtype.name)
        data = json.dumps(doc).encode()
        atomic_write(path, lambda f: f.write(data))
    else:
        atomic_write(path, lambda f: np.savez(f, params=net.params, sizes=np.array(net.sizes, dtype=np.int64),
                                              meta=np.array(json.dumps(meta))))


def read_json_model(path):
    """Read and validate a .json model file; returns (sizes, weights, biases, meta).

    meta has "activation", "cost" and "dtype"; files written by the book's
    network2 get sigmoid and float64.
    """
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read().decode("utf-8"))
    except OSError as e:
        raise ModelFileError(f"{path}: cannot read ({e.strerror})") from None
    except (UnicodeDecodeError, ValueError) as e:  # JSONDecodeError, and ints beyond Python's digit limit
        raise ModelFileError(f"{path}: not a valid JSON model file ({e})") from None
    except RecursionError:
        raise ModelFileError(f"{path}: not a valid JSON model file (nested too deeply)") from None
    if not isinstance(doc, dict) or not {"sizes", "weights", "biases"} <= doc.keys():
        raise ModelFileError(f"{path}: a model file needs 'sizes', 'weights' and 'biases'")
    sizes = _checked_sizes(path, doc["sizes"])
    extra = doc.get("fastnn") or {}
    if not isinstance(extra, dict):
        raise ModelFileError(f"{path}: the 'fastnn' entry must be an object")
    if "cost" in extra:
        cost = extra["cost"]
    elif isinstance(doc.get("cost"), str) and cost_from_book_name(doc["cost"]) is not None:
        cost = cost_from_book_name(doc["cost"])
    else:
        raise ModelFileError(f"{path}: unknown cost {_short(doc.get('cost'))}; "
                             f"known: {', '.join(sorted(c.book_name for c in COSTS.values()))}")
    _check_version(path, extra.get("format_version", FORMAT_VERSION))
    meta = {"activation": extra.get("activation", "sigmoid"), "cost": cost, "dtype": extra.get("dtype", "float64")}
    _check_meta(path, meta)
    dtype = DTYPES[meta["dtype"]]
    weights = _arrays(path, doc["weights"], [(o, i) for i, o in zip(sizes[:-1], sizes[1:])], "weights", dtype)
    biases = _arrays(path, doc["biases"], [(o, 1) for o in sizes[1:]], "biases", dtype, also=[(o,) for o in sizes[1:]])
    return sizes, weights, [b.reshape(-1) for b in biases], meta


def _short(value, limit=60):
    """repr(value), cut to limit characters: a hostile file's values go into messages."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _checked_sizes(path, sizes):
    """sizes as a list of ints describing at most MAX_PARAMS parameters, or a ModelFileError."""
    if isinstance(sizes, list) and len(sizes) > MAX_LAYERS:
        raise ModelFileError(f"{path}: sizes lists {len(sizes):,} layers; a model file may have at most {MAX_LAYERS}")
    try:
        sizes = check_sizes(sizes)
    except ValueError:
        raise ModelFileError(f"{path}: sizes must be a list of at least 2 positive layer widths, got "
                             f"{_short(sizes)}") from None
    total = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    if total > MAX_PARAMS:
        raise ModelFileError(f"{path}: sizes {_short(sizes)} describe more parameters than the {MAX_PARAMS:,} a "
                             f"model file may hold")
    return sizes


def _check_version(path, version):
    """Refuse a file of a format version this fastnn does not know: a newer one may mean its fields differently."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path}: the file's format version {_short(version)} is unknown to this fastnn, "
                             f"which reads format version {FORMAT_VERSION}")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path}: the file's format version {version} is newer than the version "
                             f"{FORMAT_VERSION} this fastnn reads; load it with a newer fastnn")


def _check_meta(path, meta):
    for key, registry in (("activation", ACTIVATIONS), ("cost", COSTS), ("dtype", DTYPES)):
        if not isinstance(meta[key], str) or meta[key] not in registry:
            raise ModelFileError(f"{path}: unknown {key} {_short(meta[key])}; known: {', '.join(registry)}")


def _arrays(path, values, shapes, name, dtype, also=None):
    """The arrays of values, in float64, each checked for its shape and to be finite in dtype (the network's)."""
    if not isinstance(values, list) or len(values) != len(shapes):
        raise ModelFileError(f"{path}: '{name}' must be a list of {len(shapes)} arrays")
    out = []
    for l, (v, shape) in enumerate(zip(values, shapes)):
        try:
            a = np.array(v, dtype=np.float64)
        except (ValueError, TypeError, OverflowError):
            raise ModelFileError(f"{path}: {name}[{l}] is not a numeric array of shape {shape}") from None
        if a.shape != shape and not (also and a.shape == also[l]):
            raise ModelFileError(f"{path}: {name}[{l}] has shape {a.shape}, expected {shape} for these sizes")
        if not np.isfinite(a).all():
            raise ModelFileError(f"{path}: {name}[{l}] contains NaN or inf")
        big = np.abs(a) > np.finfo(dtype).max  # finite in float64, inf once the network casts it to float32
        if big.any():
            raise ModelFileError(f"{path}: {name}[{l}] holds {a[big].flat[0]:g}, beyond the range of the file's "
                                 f"dtype {dtype.name} (largest {np.finfo(dtype).max:g})")
        out.append(a)
    return out


def read_npz_model(path):
    """Read and validate a .npz model file; returns (sizes, params, meta) (see read_json_model).

    Every member's header is checked (``fastnn.npz``), and the parameters' shape and dtype
    against the sizes and meta, before the parameters are read.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            found = npz.members(zf, path, ModelFileError)
            if not {"params", "sizes", "meta"} <= found.keys():
                raise ModelFileError(f"{path}: a model file needs 'params', 'sizes' and 'meta'")
            sizes, meta = found["sizes"], found["meta"]
            if sizes.dtype.kind not in "iu" or len(sizes.shape) != 1 or sizes.shape[0] > MAX_LAYERS:
                raise ModelFileError(f"{path}: 'sizes' must be a 1-D integer array of at most {MAX_LAYERS} layer "
                                     f"widths, got {sizes.dtype} of shape {sizes.shape}")
            if meta.dtype.kind != "U" or meta.shape != () or meta.nbytes > MAX_META_BYTES:
                raise ModelFileError(f"{path}: 'meta' must be one string of at most {MAX_META_BYTES:,} bytes, got "
                                     f"{meta.dtype} of shape {meta.shape}")
            sizes = _checked_sizes(path, npz.read(zf, sizes, path, ModelFileError).tolist())
            meta = _json_meta(path, str(npz.read(zf, meta, path, ModelFileError)[()]))
            total, params = param_offsets(sizes)[2], found["params"]
            if params.shape != (total,) or params.dtype != DTYPES[meta["dtype"]]:
                raise ModelFileError(f"{path}: params has shape {params.shape} and dtype {params.dtype}, expected "
                                     f"({total},) and {meta['dtype']} for sizes {sizes}")
            params = npz.read(zf, params, path, ModelFileError)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise ModelFileError(f"{path}: not a valid .npz model file ({e})") from None
    if not np.isfinite(params).all():
        raise ModelFileError(f"{path}: params contains NaN or inf")
    return sizes, params, meta


def _json_meta(path, text):
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError):
        raise ModelFileError(f"{path}: 'meta' is not valid JSON") from None
    if not isinstance(meta, dict) or not {"activation", "cost", "dtype"} <= meta.keys():
        raise ModelFileError(f"{path}: 'meta' must name the activation, cost and dtype")
    _check_version(path, meta.get("format_version", FORMAT_VERSION))
    _check_meta(path, meta)
    return meta
