"""Denormal numbers flushed to zero while a kernel runs (on x86: the FTZ and DAZ bits of MXCSR).

A float32 below 1.2e-38 in magnitude (float64: 2.2e-308) is denormal. Intel cores compute an
operation with a denormal operand or result in microcode, at the cost of a hundred cycles or more
for the whole vector instruction. Training makes such numbers: a saturated sigmoid's a(1 - a) is
tiny, and the deltas multiplied by it underflow. After one epoch of [784, 1000, 10] at batch 100
(eta 3.0), 1.5% of the first layer's deltas and 9% of the output layer's were denormal. On an Intel
Xeon (Emerald Rapids) the flush made that epoch take 0.76 of the time, and online learning on
[784, 1000, 10] 0.051 (bench/ab-denormals.md). XLA, and so JAX, flushes them too.

Flushing changes a result only where a denormal number takes part in it: a denormal result becomes
0, and a denormal operand counts as 0 (so a product with a huge factor can change by more than the
denormal itself; the kernels' values are activations, deltas and weights of order 1 and below).

``flush_denormals`` sets both bits for the calling thread and returns what they were;
``restore_denormals`` puts them back, keeping the exception flags the kernel raised. Every entry
point of ``kernels`` that computes (the epochs, a thread's share of one, the gradients, inference)
calls the pair around its work, so the caller's own code, NumPy included, runs as before. MXCSR
belongs to a thread: each of fastnn's threads sets its own, and so does the one thread that runs
BLAS in a one-thread epoch. A new thread starts with the bits of the thread that starts it: when BLAS
runs on two threads, OpenBLAS's worker was started by ``fastnn.blas`` between ``flush_thread`` and
``restore_thread``, so it flushes denormals for the rest of the process (``kernels.gemm`` loads OpenBLAS
with one thread, so that it starts none before).
On other machines than x86 nothing changes.

The Python twins (``NUMBA_DISABLE_JIT=1``) do nothing: NumPy's arithmetic keeps denormals.
"""
import platform

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")
FTZ_DAZ = 0x8040  # MXCSR bit 15 (flush results to zero) and bit 6 (treat denormal operands as zero)


def flush_denormals():
    """Flush denormals to zero in this thread; returns the previous FTZ and DAZ bits, for restore_denormals."""
    return 0


def restore_denormals(state):
    """Put back the FTZ and DAZ bits that flush_denormals returned (the other bits of MXCSR stay)."""
    return None


@overload(flush_denormals, inline="always")
def _flush_denormals_compiled():
    return lambda: _exchange_ftz_daz(FTZ_DAZ)


@overload(restore_denormals, inline="always")
def _restore_denormals_compiled(state):
    def impl(state):
        _exchange_ftz_daz(state)
    return impl


@njit(cache=True)
def flush_thread():
    """flush_denormals for a Python caller: this thread flushes denormals until restore_thread(state).

    A thread starts with the bits of the thread that starts it: ``fastnn.blas`` raises OpenBLAS's thread
    count between the two, so the worker threads OpenBLAS starts then flush denormals too.
    """
    return flush_denormals()


@njit(cache=True)
def restore_thread(state):
    """restore_denormals for a Python caller."""
    restore_denormals(state)


@intrinsic
def _exchange_ftz_daz(typingctx, bits):
    """MXCSR's FTZ and DAZ bits become those of bits (a uint32 or int); returns the old ones."""
    sig = types.uint32(bits)

    def codegen(context, builder, sig, args):
        i32 = ir.IntType(32)
        new = context.cast(builder, args[0], sig.args[0], types.uint32)
        if not _X86:
            return ir.Constant(i32, 0)
        i8p = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i8p])
        store = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.sse.stmxcsr")
        load = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.sse.ldmxcsr")
        slot = cgutils.alloca_once(builder, i32)
        builder.call(store, [builder.bitcast(slot, i8p)])
        old = builder.load(slot)
        mask = ir.Constant(i32, FTZ_DAZ)
        word = builder.or_(builder.and_(old, ir.Constant(i32, ~FTZ_DAZ & 0xFFFFFFFF)), builder.and_(new, mask))
        builder.store(word, slot)
        builder.call(load, [builder.bitcast(slot, i8p)])
        return builder.and_(old, mask)
    return sig, codegen
