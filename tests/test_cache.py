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
    package = tmp_path / "kernels_copy"
    shutil.copytree(KERNELS, package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "caller.py").write_text(CALLER)
    (package / "callee.py").write_text(CALLEE.format(1))
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    if cache_dir == "NUMBA_CACHE_DIR":
        env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba_cache")
    assert run_caller(tmp_path, env) == (2, 0)  # compiled and cached
    assert run_caller(tmp_path, env) == (2, 1)  # from the cache
    (package / "callee.py").write_text(CALLEE.format(10))  # caller.py itself unchanged
    # Numba's own key (caller.py's content) would load caller with the old callee compiled in: (2, 1)
    assert run_caller(tmp_path, env) == (11, 0)
    assert run_caller(tmp_path, env) == (11, 1)


def test_the_stamp_covers_every_source_file_and_only_them(tmp_path):
    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text("x = 1\n")
    stamp = cache.source_stamp(tmp_path)
    assert cache.source_stamp(tmp_path) == stamp
    (tmp_path / "notes.txt").write_text("not a source file")
    assert cache.source_stamp(tmp_path) == stamp
    (tmp_path / "b.py").write_text("x = 2\n")
    assert cache.source_stamp(tmp_path) != stamp
    (tmp_path / "b.py").write_text("x = 1\n")
    assert cache.source_stamp(tmp_path) == stamp
    (tmp_path / "c.py").write_text("")
    assert cache.source_stamp(tmp_path) != stamp


def test_the_kernels_are_keyed_by_this_folder_and_other_functions_by_numba():
    from numba.core import caching
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")
    ours = [cls for cls in impl._locator_classes if getattr(cls, "folder", None) == KERNELS]
    assert ours and all(cls.from_function(test_the_stamp_covers_every_source_file_and_only_them, __file__) is None
                        for cls in ours)
    assert cache.SOURCE_STAMP == cache.source_stamp(KERNELS)
