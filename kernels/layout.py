"""The flat parameter buffer and the activation work buffers, and views into them.

All weights and biases of a network live in one contiguous 1-D array ``params``.
Layer l (l = 0 for the first layer of weights) stores its weight matrix
w^l of shape (sizes[l+1], sizes[l]) row-major at ``w_off[l]``, followed by its
bias vector b^l of length sizes[l+1] at ``b_off[l]``.

Activations for a block of up to ``m_max`` examples live in one 1-D buffer
``acts``: layer l (l >= 1) occupies ``acts[a_off[l] : a_off[l] + m*sizes[l]]``,
an (m, sizes[l]) row-major block. Layer 0 is the input and is not stored there.
"""
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload
from numba.np.arrayobj import make_array

from .gemm import linear_scratch_size
from .views import view2d

PREFETCH_LOCALITY = 2  # llvm.prefetch's hint: 2 (prefetcht1) brings the line into L2, not L1. With 3 (prefetcht0,
# into L1 as well) the next batch's rows pushed the current block's operands out of L1: on AMD Zen 4, epochs at
# batch 1 to 20 ran 1.5-4.7% slower than with 2 (bench/ab-prefetch-l2.md); not measured on Intel CPUs


def aligned_empty(shape, dtype, align=64):
    """np.empty(shape, dtype) starting on an align-byte boundary (a cache line).

    NumPy's large arrays come from malloc, 16 bytes past a page boundary, so every
    other 32-byte vector load of a weight row straddles two cache lines. Measured
    on [784, 100, 10] at batch 20: 7% (float32) and 8% (float64) slower than at
    64-byte alignment.
    """
    dtype = np.dtype(dtype)
    count = int(np.prod(shape))
    raw = np.empty(count * dtype.itemsize + align, dtype=np.uint8)
    skip = -raw.ctypes.data % align
    return raw[skip:skip + count * dtype.itemsize].view(dtype).reshape(shape)


def aligned_zeros(shape, dtype, align=64):
    """np.zeros(shape, dtype) starting on an align-byte boundary."""
    out = aligned_empty(shape, dtype, align)
    out[...] = 0
    return out


def param_offsets(sizes):
    """Return (w_off, b_off, total) for a network with the given layer sizes."""
    w_off = np.zeros(len(sizes) - 1, dtype=np.int64)
    b_off = np.zeros(len(sizes) - 1, dtype=np.int64)
    pos = 0
    for l in range(len(sizes) - 1):
        w_off[l] = pos
        pos += sizes[l + 1] * sizes[l]
        b_off[l] = pos
        pos += sizes[l + 1]
    return w_off, b_off, pos


@njit(cache=True)
def weights(params, w_off, sizes, l):
    """View of w^l, shape (sizes[l+1], sizes[l])."""
    return view2d(params, w_off[l], sizes[l + 1], sizes[l])


@njit(cache=True)
def biases(params, b_off, sizes, l):
    """View of b^l, shape (sizes[l+1],)."""
    return params[b_off[l]:b_off[l] + sizes[l + 1]]


@njit(cache=True)
def alloc_acts(sizes, m_max, dtype_like, transposed=True):
    """Allocate the activation buffer for blocks of up to m_max examples.

    Layer 1's block starts after ``gemm.linear``'s scratch for transposed weights (``linear_scratch``),
    which is empty when ``transposed`` is false: then ``linear`` keeps every block off the tiles' route.
    """
    a_off, end = act_offsets(sizes, m_max, linear_scratch_size(sizes, m_max) if transposed else 0)
    return np.empty(end, dtype=dtype_like.dtype), a_off


@njit(cache=True)
def act_offsets(sizes, m_max, start):
    """(a_off, end): where each layer's block of m_max rows (layer 1 and up, one after another) starts in a
    buffer whose first block starts at start, and where the last one ends."""
    a_off = np.zeros(len(sizes), dtype=np.int64)
    pos = start
    for l in range(1, len(sizes)):
        a_off[l] = pos
        pos += m_max * sizes[l]
    return a_off, pos


@njit(cache=True)
def linear_scratch(acts, a_off):
    """The scratch for ``gemm.linear`` at the head of an activation buffer from alloc_acts."""
    return acts[:a_off[1]]


@njit(cache=True)
def block(acts, a_off, sizes, l, m):
    """View of the activations of layer l (l >= 1) for m examples, shape (m, sizes[l])."""
    return view2d(acts, a_off[l], m, sizes[l])


@njit(cache=True)
def max_width(sizes):
    w = 0
    for s in sizes:
        if s > w:
            w = s
    return w


def prefetch(arr, i, j):
    """Hint the CPU to fetch the cache line holding arr[i, j] into L2 (no bounds check, no fault;
    PREFETCH_LOCALITY): reads the next block's rows from memory while this block computes.

    A hint only, so in Python (and with NUMBA_DISABLE_JIT=1) it does nothing.
    """


@overload(prefetch, inline="always")
def _prefetch_compiled(arr, i, j):
    if isinstance(arr, types.Array) and arr.ndim == 2:
        return lambda arr, i, j: _prefetch(arr, i, j)
    return None


@intrinsic
def _prefetch(typingctx, arr, i, j):
    """prefetch in compiled code, for the 2-D arrays its overload lets through: llvm.prefetch."""
    sig = types.void(arr, types.intp, types.intp)

    def codegen(context, builder, sig, args):
        a = make_array(sig.args[0])(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, sig.args[0], a, [args[1], args[2]],
                                       wraparound=False, boundscheck=False)
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32]), "llvm.prefetch.p0")
        builder.call(fn, [ptr, i32(0), i32(PREFETCH_LOCALITY), i32(1)])
        return context.get_dummy_value()
    return sig, codegen
