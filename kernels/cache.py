"""Numba's on-disk cache of the kernels, keyed by every kernel source file, not just the function's own.

Numba keys a cached function by its own file (its modification time and size, or a hash of its content in
recent versions) and never looks at the files of the functions it calls, although their code is compiled
into it: change ``gemm.py`` alone and ``sgd.minibatch_epoch``, cached from ``sgd.py``, keeps running the old
products. That happened here: after the routes in ``gemm.py`` changed, a checkout's cached epoch still sent
the first layer of [784, 100, 10] at batch 100 to BLAS, 8% slower than the code on disk, until the cache was
cleared. Installing a new release rewrites every file and so is safe; a checkout, an editable install or a
copy edited in place is not.

``key_by_every_source`` (run when this module is imported, which the package does first) puts, for the
functions of this folder only, a locator in front of each of Numba's own (``CacheImpl._locator_classes``:
the same places, the same order). Its source stamp is Numba's own for the function's file together with a
hash of every kernel source file of the folder, taken when the function's cache is opened (so a module
imported or reloaded after a file changed sees the change). Any change to any kernel file then invalidates
every cached kernel, as a change to its own file always did; a cold start follows once. Where the folder
has no source files to read (the package imported from a zip archive), Numba's locators are left alone.
Other packages' cached functions are left to Numba's locators too.

Setting NUMBA_CACHE_LOCATOR_CLASSES makes Numba use that list instead of ``_locator_classes``; the kernels
are then cached by their own files only, as Numba does, and importing the package warns.
"""
import hashlib
import warnings
from pathlib import Path

from numba.core import caching
from numba.core import config as numba_config

FOLDER = Path(__file__).resolve().parent
_stamps = {}  # (folder, the sources' names, mtimes and sizes) -> the hash of their contents


def _sources(folder):
    """The folder's kernel source files: .py files named as modules (not editors' lock files such as .#gemm.py)."""
    return sorted(path for path in folder.glob("*.py") if path.stem.isidentifier())


def source_stamp(folder=FOLDER):
    """A hash of the names and contents of every kernel source file in folder, None where it has none.

    A file that cannot be read (removed since the folder was listed, say) enters by its name alone. The hash
    is kept per set of (name, modification time, size), so a changed file is read again."""
    listing = []
    for path in _sources(folder):
        try:
            st = path.stat()
            listing.append((path.name, st.st_mtime_ns, st.st_size))
        except OSError:
            listing.append((path.name, None, None))
    if not listing:
        return None
    key = (folder, tuple(listing))
    if key not in _stamps:
        digest = hashlib.sha256()
        for name, _, _ in listing:
            try:
                content = (folder / name).read_bytes()
            except OSError:
                content = b"(unreadable)"
            digest.update(name.encode() + b"\0" + content + b"\0")
        _stamps[key] = digest.hexdigest()
    return _stamps[key]


def _keyed_locator(base, folder):
    """A subclass of Numba's locator ``base`` that takes only functions defined in folder, and stamps them with
    base's own stamp and ``source_stamp(folder)``."""

    class KernelsLocator(base):
        @classmethod
        def from_function(cls, py_func, py_file):
            if Path(py_file).resolve().parent != folder:
                return None
            stamp = source_stamp(folder)
            locator = None if stamp is None else super().from_function(py_func, py_file)
            if locator is not None:
                locator._kernels_stamp = stamp
            return locator

        def get_source_stamp(self):
            return super().get_source_stamp(), self._kernels_stamp

    KernelsLocator.__name__ = KernelsLocator.__qualname__ = f"Kernels{base.__name__}"
    KernelsLocator.folder = folder
    return KernelsLocator


def key_by_every_source(folder=FOLDER):
    """Install the locators for folder's functions (once per folder, ahead of Numba's own)."""
    impl = caching.CacheImpl  # since Numba 0.59, the oldest pyproject allows
    if getattr(numba_config, "CACHE_LOCATOR_CLASSES", None):
        warnings.warn("NUMBA_CACHE_LOCATOR_CLASSES is set: Numba caches fastnn's kernels by their own files "
                      "only, and a kernel may run stale code after another kernel file changes "
                      "(fastnn.kernels.cache)", RuntimeWarning, stacklevel=2)
    numba_own = [cls for cls in impl._locator_classes if getattr(cls, "folder", None) is None]
    others = [cls for cls in impl._locator_classes if getattr(cls, "folder", None) not in (None, folder)]
    impl._locator_classes = others + [_keyed_locator(base, folder) for base in numba_own] + numba_own


key_by_every_source()
