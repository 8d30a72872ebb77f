"""exp(x) for x <= 0 in a form the compiler can vectorise.

``np.exp`` inside a Numba loop is a call into the C library for every element,
so a loop of sigmoids runs one element at a time (about 7 ns each here). The
sigmoid and softmax need e^x only for x <= 0 (they use e^-|z| and e^(z - max)),
and this computes it with Cody and Waite's argument reduction and the Cephes
polynomial (float32) or rational function (float64): x = n ln 2 + r with
|r| <= ln(2)/2, e^x = 2^n e^r, and 2^n built directly from its exponent bits.
Every step is plain arithmetic, so LLVM vectorises the loops that call it.

Accuracy, checked against NumPy in tests/test_kernels.py: within 2 units in
the last place over the whole range (normal results). Below the smallest normal
number (x < -87.3 in float32, x < -708 in float64) it returns 0 where NumPy
returns a subnormal.

The argument reduction r = (x - n*C1) - n*C2 is emitted by an intrinsic as two
fused multiply-adds. Written as arithmetic it would not survive: a function
called from fast-math code is compiled with the caller's flags (Numba passes
them on and sets them on every floating-point instruction), and with
reassociation allowed LLVM folds it into x - n*(C1 + C2), losing the precision
the split ln 2 exists for (seen here: 200 units in the last place near x = -700
instead of 1.5).

With the JIT off (NUMBA_DISABLE_JIT=1) the same code runs in Python, where each
intrinsic has a plain twin: the reduction written as arithmetic (Python does not
reassociate), the exponent bits through a NumPy view. Its results are within
2 units in the last place of the compiled ones (tests/test_twins.py).
"""
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload


def _float_from_bits(bits):
    """The float whose IEEE bits are the integer ``bits`` (int32 -> float32, int64 -> float64)."""
    return bits.view(np.float32 if bits.dtype == np.int32 else np.float64)


@overload(_float_from_bits, inline="always")  # inline: as views.view2d's, to leave the generated code alone
def _float_from_bits_compiled(bits):
    if bits in (types.int32, types.int64):
        return lambda bits: _bitcast_float(bits)
    return None


@intrinsic
def _bitcast_float(typingctx, bits):
    """_float_from_bits in compiled code: a bitcast."""
    out = types.float32 if bits == types.int32 else types.float64

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], context.get_value_type(sig.return_type))
    return out(bits), codegen


def _reduce(x, n, hi, lo):
    """(x - n*hi) - n*lo, in the dtype of x.

    In Python this is Cody and Waite's reduction as written: Python never reassociates,
    and n*hi and x - n*hi are exact (hi has few bits). Compiled code gets ``_reduce_fma``.
    """
    return (x - n * hi) - n * lo


@overload(_reduce, inline="always")
def _reduce_compiled(x, n, hi, lo):
    if isinstance(x, types.Float) and x == n == hi == lo:
        return lambda x, n, hi, lo: _reduce_fma(x, n, hi, lo)
    return None


@intrinsic
def _reduce_fma(typingctx, x, n, hi, lo):
    """(x - n*hi) - n*lo as two fused multiply-adds, kept apart whatever the caller's fast-math flags."""

    def codegen(context, builder, sig, args):
        x, n, hi, lo = args
        name = "llvm.fma.f32" if sig.return_type == types.float32 else "llvm.fma.f64"
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(x.type, [x.type] * 3), name)
        r = builder.call(fma, [n, builder.fneg(hi), x])
        return builder.call(fma, [n, builder.fneg(lo), r])
    return x(x, n, hi, lo), codegen


LOG2E = 1.4426950408889634


def exp_nonpositive(x):
    """e^x for x <= 0 (a float32 or float64 scalar); 0 below the smallest normal result.

    Called from Python (or with the JIT off) it picks the float32 or float64 version by
    the type of x, as the overload below does in compiled code.
    """
    return _exp32(x) if isinstance(x, np.float32) else _exp64(x)


@njit(cache=True)
def _exp32(x):
    one = np.float32(1)
    if not x >= np.float32(-87.33):  # also NaN: NaN >= c is False, and NaN propagates below
        return np.float32(0) if x < np.float32(-87.33) else x
    n = np.floor(x * np.float32(LOG2E) + np.float32(0.5))
    r = _reduce(x, n, np.float32(0.693359375), np.float32(-2.12194440e-4))
    z = r * r
    p = np.float32(1.9875691500e-4)
    p = p * r + np.float32(1.3981999507e-3)
    p = p * r + np.float32(8.3334519073e-3)
    p = p * r + np.float32(4.1665795894e-2)
    p = p * r + np.float32(1.6666665459e-1)
    p = p * r + np.float32(5.0000001201e-1)
    p = p * z + r + one
    return p * _float_from_bits(np.int32((np.int32(n) + np.int32(127)) << np.int32(23)))


@njit(cache=True, error_model="numpy")  # a division that never fails: no zero check, so it vectorises
def _exp64(x):
    one = np.float64(1)
    if not x >= -708.39:
        return 0.0 if x < -708.39 else x
    n = np.floor(x * LOG2E + 0.5)
    r = _reduce(x, n, 6.93145751953125e-1, 1.42860682030941723212e-6)
    z = r * r
    p = r * ((1.26177193074810590878e-4 * z + 3.02994407707441961300e-2) * z + 9.99999999999999999910e-1)
    q = ((3.00198505138664455042e-6 * z + 2.52448340349684104192e-3) * z + 2.27265548208155028766e-1) * z \
        + 2.00000000000000000009e0
    e = one + 2.0 * (p / (q - p))
    return e * _float_from_bits((np.int64(n) + np.int64(1023)) << np.int64(52))


@overload(exp_nonpositive)
def _exp_nonpositive(x):
    if x == types.float32:
        return lambda x: _exp32(x)
    if x == types.float64:
        return lambda x: _exp64(x)
    return None
