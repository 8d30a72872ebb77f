"""Numba's on-disk cache of the kernels, keyed by every kernel source file, not just the function's own.

Numba keys a cached function by its own file (its size and content) and never looks at the files of the
functions it calls, although their code is compiled into it: change ``gemm.py`` alone and
``sgd.minibatch_epoch``, cached from ``sgd.py``, keeps running the old products. That happened here: after
the routes in ``gemm.py`` changed, a checkout's cached epoch still sent the first layer of [784, 100, 10] at
batch 100 to BLAS, 8% slower than the code on disk, until the cache was cleared. Installing a new release
rewrites every file and so is safe; a checkout, an editable install or a copy edited in place is not.

``key_by_every_source`` (run when this module is imported, which the package does first) puts, for the functions of this folder only,
a locator in front of each of Numba's own (``CacheImpl._locator_classes``: the same places, the same
order) whose source stamp is a hash of every ``.py`` file in the folder. Any change to any kernel file
then invalidates every cached kernel, as a change to its own file always did; a cold start follows once.
Other packages' cached functions are left to Numba's locators.
"""
import hashlib
from pathlib import Path

from numba.core import caching

FOLDER = Path(__file__).resolve().parent


def source_stamp(folder=FOLDER):
    """A hash of the names and contents of every .py file in folder."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _keyed_locator(base, folder, stamp):
    """A subclass of Numba's locator ``base`` that takes only functions defined in folder, stamped with stamp."""

    class KernelsLocator(base):
        @classmethod
        def from_function(cls, py_func, py_file):
            if Path(py_file).resolve().parent != folder:
                return None
            return super().from_function(py_func, py_file)

        def get_source_stamp(self):
            return stamp

    KernelsLocator.__name__ = KernelsLocator.__qualname__ = f"Kernels{base.__name__}"
    KernelsLocator.folder = folder
    return KernelsLocator


def key_by_every_source(folder=FOLDER):
    """Install the locators for folder's functions (once per folder); returns the stamp they use."""
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")  # renamed in Numba 0.62
    stamp = source_stamp(folder)
    numba_own = [cls for cls in impl._locator_classes if getattr(cls, "folder", None) is None]
    others = [cls for cls in impl._locator_classes if getattr(cls, "folder", None) not in (None, folder)]
    impl._locator_classes = others + [_keyed_locator(base, folder, stamp) for base in numba_own] + numba_own
    return stamp


SOURCE_STAMP = key_by_every_source()
