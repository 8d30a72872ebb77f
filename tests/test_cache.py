"""Numba's cache of the kernels follows every kernel source file (kernels/cache.py)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fastnn.kernels
from fastnn.kernels import cache

KERNELS = Path(fastnn.kernels.__file__).resolve().parent

CALLER = '''from numba import njit

from .callee import value


@njit(cache=True)
def caller():
    return value() + 1
'''
CALLEE = '''from numba import njit


@njit(cache=True)
def value():
    return {}
'''


def package_copy(root):
    """A copy of the kernels package in root, as kernels_copy, with caller.py calling callee.py's value() == 1."""
    package = root / "kernels_copy"
    shutil.copytree(KERNELS, package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "caller.py").write_text(CALLER)
    (package / "callee.py").write_text(CALLEE.format(1))
    return package


def run_caller(root, env):
    """caller() of the package copy in root, in a fresh process: (its result, whether it came from the cache)."""
    code = ("import sys; sys.path.insert(0, sys.argv[1])\n"
            "from kernels_copy.caller import caller\n"
            "print(caller(), caller.stats.cache_hits.total())")
    out = subprocess.run([sys.executable, "-c", code, str(root)], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    result, hits = out.stdout.split()
    return int(result), int(hits)


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="nothing is compiled or cached")
@pytest.mark.parametrize("cache_dir", ["in the tree", "NUMBA_CACHE_DIR"])
def test_a_cached_kernel_follows_a_change_to_a_function_it_calls_in_another_file(tmp_path, cache_dir):
    package = package_copy(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    if cache_dir == "NUMBA_CACHE_DIR":
        env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba_cache")
    assert run_caller(tmp_path, env) == (2, 0)  # compiled and cached
    assert run_caller(tmp_path, env) == (2, 1)  # from the cache
    (package / "callee.py").write_text(CALLEE.format(10))  # caller.py itself unchanged
    # Numba's own key (caller.py's content) would load caller with the old callee compiled in: (2, 1)
    assert run_caller(tmp_path, env) == (11, 0)
    assert run_caller(tmp_path, env) == (11, 1)
    (package / "caller.py").write_text(CALLER.replace("+ 1", "+ 5"))  # and a change to its own file, as ever
    assert run_caller(tmp_path, env) == (15, 0)


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="nothing is compiled or cached")
def test_a_module_reloaded_after_a_change_sees_it(tmp_path):
    # the stamp is taken when a function's cache is opened, not once at the package's import
    package_copy(tmp_path)
    code = ("import importlib, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1])\n"
            "import kernels_copy.callee as callee, kernels_copy.caller as caller\n"
            "first = caller.caller()\n"
            "Path(callee.__file__).write_text(Path(callee.__file__).read_text().replace('return 1', 'return 7'))\n"
            "importlib.reload(callee); importlib.reload(caller)\n"
            "print(first, caller.caller(), caller.caller.stats.cache_hits.total())")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "8", "0"]


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="nothing is compiled or cached")
def test_every_cached_kernel_is_keyed_by_the_whole_folder():
    # what the package's first import guards: every kernel module's cached functions take this module's
    # locators (a module imported before kernels.cache would have Numba's own)
    import importlib
    from numba.core.registry import CPUDispatcher
    keyed = 0
    for path in cache._sources(KERNELS):
        module = importlib.import_module(f"fastnn.kernels.{path.stem}")
        for value in vars(module).values():
            own = isinstance(value, CPUDispatcher) and value.py_func.__module__ == module.__name__
            if own and value._cache._enabled:
                assert getattr(type(value._cache._impl._locator), "folder", None) == KERNELS, value
                keyed += 1
    assert keyed > 50


def test_the_stamp_covers_every_source_file_and_only_them(tmp_path):
    assert cache.source_stamp(tmp_path) is None  # no sources (a package in a zip): Numba's own locators
    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text("x = 1\n")
    stamp = cache.source_stamp(tmp_path)
    assert cache.source_stamp(tmp_path) == stamp
    (tmp_path / "notes.txt").write_text("not a source file")
    (tmp_path / ".#a.py").symlink_to(tmp_path / "gone")  # an editor's lock file, dangling
    assert cache.source_stamp(tmp_path) == stamp
    (tmp_path / "b.py").write_text("x = 2\n")
    assert cache.source_stamp(tmp_path) != stamp
    (tmp_path / "b.py").write_text("x = 1\n")
    assert cache.source_stamp(tmp_path) == stamp
    (tmp_path / "c.py").write_text("")
    assert cache.source_stamp(tmp_path) != stamp


def test_the_kernels_are_keyed_by_this_folder_and_other_functions_by_numba():
    from numba.core import caching
    ours = [cls for cls in caching.CacheImpl._locator_classes if getattr(cls, "folder", None) == KERNELS]
    assert ours and all(cls.from_function(test_the_stamp_covers_every_source_file_and_only_them, __file__) is None
                        for cls in ours)
