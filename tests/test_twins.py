"""The pure-Python twins of the kernels' compiled-only pieces against the compiled code they stand for.

Each intrinsic (or overload-only function) in kernels/ is a plain Python function that the
compiled code replaces through an ``@overload``; NUMBA_DISABLE_JIT=1 runs the Python bodies,
which is how coverage tools and debuggers see kernel code. Here, with the JIT on, each
Python body is called directly and compared with the compiled version.
"""
import sys
import threading

import numba
import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from fastnn.kernels import activations, layout, parallel, views, vmath
from fastnn.kernels.codes import FASTMATH

pytestmark = pytest.mark.skipif(numba.config.DISABLE_JIT, reason="compares the Python twins with compiled code")


def python(kernel):
    """The Python body of a compiled kernel: what NUMBA_DISABLE_JIT=1 runs."""
    return kernel.py_func


def address(a):
    return a.__array_interface__["data"][0]


@njit
def _view2d(buf, start, rows, cols):
    return views.view2d(buf, start, rows, cols)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("start,rows,cols", [(0, 1, 24), (5, 3, 4), (23, 1, 1), (4, 2, 10)])
def test_view2d_in_python_is_the_compiled_view(dtype, start, rows, cols):
    buf = np.arange(24, dtype=dtype)
    got, want = views.view2d(buf, start, rows, cols), _view2d(buf, start, rows, cols)
    assert got.shape == want.shape == (rows, cols) and got.strides == want.strides
    assert got.flags.c_contiguous and want.flags.c_contiguous
    assert address(got) == address(want) == address(buf[start:])  # views of buf, not copies
    np.testing.assert_array_equal(got, want)


def test_view2d_of_a_2d_block_and_of_a_strided_one():
    grid = np.arange(12.0).reshape(3, 4)
    got, want = views.view2d(grid, 0, 1, 12), _view2d(grid, 0, 1, 12)
    assert address(got) == address(want) == address(grid)
    np.testing.assert_array_equal(got, want)
    with pytest.raises(TypeError):  # reshape would copy it; compiled code does not type it
        views.view2d(grid[:, :2], 0, 1, 6)
    with pytest.raises(TypingError):
        _view2d(grid[:, :2], 0, 1, 6)


@njit
def _any_layout(X):
    return views.any_layout(X)


def test_any_layout_is_the_array_itself_under_the_type_of_any_layout():
    grid = np.arange(24.0).reshape(4, 6)
    for X in (grid, grid.T, grid[:, 1:4]):  # C-ordered, F-ordered, neither
        got = _any_layout(X)
        assert views.any_layout(X) is X
        assert address(got) == address(X) and got.shape == X.shape and got.strides == X.strides
        np.testing.assert_array_equal(got, X)
    signatures = _any_layout.nopython_signatures
    assert sorted(sig.args[0].layout for sig in signatures) == ["A", "C", "F"]
    assert {sig.return_type.layout for sig in signatures} == {"A"}


@njit
def _prefetch_every_line(X):
    for i in range(X.shape[0]):
        for k in range(0, X.shape[1], 8):
            layout.prefetch(X, i, k)


def test_prefetch_is_only_a_hint_in_both():
    X = np.arange(48.0).reshape(3, 16)
    keep = X.copy()
    assert layout.prefetch(X, 2, 15) is None
    _prefetch_every_line(X)
    np.testing.assert_array_equal(X, keep)


@njit
def _rows(Z):
    return activations._rows_for_loops(Z)


def test_rows_for_loops_in_python_is_the_compiled_view():
    Z = np.arange(12.0).reshape(3, 4)
    for block in (Z, Z[1:], Z[:, :3]):  # C-contiguous, C-contiguous part, strided
        got, want = activations._rows_for_loops(block), _rows(block)
        assert got.shape == want.shape and address(got) == address(want) == address(block)
        np.testing.assert_array_equal(got, want)


@njit
def _from_bits(bits):
    return vmath._float_from_bits(bits)


@njit
def _reduce(x, n, hi, lo):
    return vmath._reduce(x, n, hi, lo)


def test_float_from_bits_in_python_is_the_compiled_bitcast():
    for bits in [np.int32(127 << 23), np.int32(1 << 23), np.int32(0), np.int32(0x3EAAAAAB),
                 np.int64(1023 << 52), np.int64(1 << 52), np.int64(0x3FD5555555555555)]:
        got = vmath._float_from_bits(bits)
        assert got.dtype.itemsize == bits.dtype.itemsize and got.dtype.kind == "f"
        assert got == _from_bits(bits)


@pytest.mark.parametrize("dtype,lowest", [(np.float32, -87.3), (np.float64, -708.3)])
def test_reduce_in_python_differs_from_the_fused_compiled_one_by_its_roundings(dtype, lowest):
    # Cody and Waite's split of ln 2, as vmath uses it
    hi, lo = (0.693359375, -2.12194440e-4) if dtype == np.float32 else (6.93145751953125e-1, 1.42860682030941723212e-6)
    hi, lo = dtype(hi), dtype(lo)
    for x in np.linspace(lowest, 0, 2001).astype(dtype):
        n = np.floor(x * dtype(vmath.LOG2E) + dtype(0.5))
        got, want = vmath._reduce(x, n, hi, lo), dtype(_reduce(x, n, hi, lo))
        # Python rounds n*lo and then the difference (half an ulp each); the fused multiply-add rounds once
        assert got.dtype == dtype and abs(got - want) <= np.spacing(abs(want)) + np.spacing(abs(n * lo)) / 2, x


@njit(fastmath=FASTMATH)  # as the kernels call it: with their fast-math flags
def _exp_nonpositive_all(x, out):
    for i in range(len(x)):
        out[i] = vmath.exp_nonpositive(x[i])


@pytest.mark.parametrize("dtype,lowest", [(np.float32, -87.3), (np.float64, -708.3)])
def test_exp_nonpositive_in_python_is_within_2_ulp_of_the_compiled_one(dtype, lowest, monkeypatch):
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(lowest, 0, 20_000), -rng.exponential(5.0, 20_000),
                        [0.0, -0.0, -1e-30, lowest - 1, -1000.0, -np.inf, np.nan]]).astype(dtype)
    want = np.empty_like(x)
    _exp_nonpositive_all(x, want)  # first: compiling resolves _exp32 and _exp64
    for name in ("_exp32", "_exp64"):  # then exp_nonpositive as NUMBA_DISABLE_JIT=1 runs it
        monkeypatch.setattr(vmath, name, python(getattr(vmath, name)))
    got = np.array([vmath.exp_nonpositive(v) for v in x])
    assert got.dtype == dtype  # the float32 algorithm for float32, and its arithmetic stays in float32
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got == 0, want == 0)  # 0 below the smallest normal, in both
    ok = ~np.isnan(want)
    ulps = np.abs(got[ok].astype(np.longdouble) - want[ok]) / np.spacing(np.abs(want[ok]))
    assert ulps.max() <= 2.0, (float(ulps.max()), x[ok][np.argmax(ulps)])


def _count(sync, slot, times, seen):
    for t in range(times):
        seen[t] = parallel._fetch_add(sync, slot, 1)


_count_compiled = njit(nogil=True)(_count)


@njit
def _load(sync, slot):
    return parallel._load_acquire(sync, slot)


def _step(frame, event, arg):
    return _step


def in_two_threads(work, *args):
    """work(tid, *args) in two threads at once, as under a debugger: a Python trace function
    runs between lines, and threads switch as often as CPython allows, so another thread can
    run between a read and a write and a lost update shows. Re-raises the first error."""
    errors = []

    def run(tid):
        sys.settrace(_step)
        try:
            work(tid, *args)
        except BaseException as e:  # noqa: BLE001 -- re-raised below
            errors.append(e)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=run, args=(tid,), daemon=True) for tid in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        sys.setswitchinterval(interval)
    if errors:
        raise errors[0]
    assert not any(t.is_alive() for t in threads), "a thread is stuck"


@pytest.mark.parametrize("compiled", [False, True], ids=["python", "compiled"])
def test_fetch_add_counts_every_claim_once_from_two_threads(compiled):
    count, times = (_count_compiled, 500_000) if compiled else (_count, 20_000)
    sync = np.zeros(parallel.SYNC_SIZE, dtype=np.int64)
    seen = np.full((2, times), -1, dtype=np.int64)
    in_two_threads(lambda tid: count(sync, parallel.GATHER, times, seen[tid]))
    assert parallel._load_acquire(sync, parallel.GATHER) == _load(sync, parallel.GATHER) == 2 * times
    assert sync[parallel.COUNTER] == 0  # no other slot touched
    np.testing.assert_array_equal(np.sort(seen.ravel()), np.arange(2 * times))  # each old value returned once


def _meet(tid, barrier, sync, rounds, progress, late):
    for k in range(1, rounds + 1):
        progress[tid] = k
        passed = barrier(sync, 2, k)
        late[tid] += not passed or progress[1 - tid] < k  # the other thread had not arrived: the barrier leaked


def test_barrier_of_the_python_atomics_holds_two_threads_together():
    sync = np.zeros(parallel.SYNC_SIZE, dtype=np.int64)
    progress, late = np.zeros(2, dtype=np.int64), np.zeros(2, dtype=np.int64)
    in_two_threads(_meet, python(parallel.barrier), sync, 200, progress, late)
    assert sync[parallel.COUNTER] == 400 and late.sum() == 0
    assert parallel._spin_pause() is None
