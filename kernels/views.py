"""view2d: a 2-D view of part of a contiguous array, built directly in compiled code; any_layout: an
array under the type of any layout.

A module of its own, below every other: ``gemm`` views its scratch through it, and ``layout``, which
imports ``gemm``, its buffers; the other kernels import it from here.
"""
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload
from numba.np.arrayobj import impl_ret_borrowed, make_array, populate_array


def view2d(buf, start, rows, cols):
    """Elements start .. start + rows*cols of the C-contiguous array buf (in memory order)
    as a C-contiguous (rows, cols) array sharing buf's memory.

    Compiled code builds the view directly (``_view2d``): Numba's reshape goes through a
    general routine that cost 33-54 ns a call, and the online epoch makes about eight
    views per example (17 ms per epoch of 50,000). This body is the same view in NumPy,
    for Python callers and NUMBA_DISABLE_JIT=1. The callers keep start + rows*cols within buf.
    """
    if not buf.flags.c_contiguous:  # compiled code refuses it at typing; reshape would copy
        raise TypeError("view2d needs a C-contiguous array")
    return buf.reshape(-1)[start:start + rows * cols].reshape(rows, cols)


# Compiled code reaches each intrinsic through an overload of its Python twin; inline="always"
# splices the intrinsic into the caller as if it were called directly, so the generated code
# stays what it was before the twins existed (an overload compiled as a function of its own
# changed the code of 36 of 288 kernel specialisations).
@overload(view2d, inline="always")
def _view2d_compiled(buf, start, rows, cols):
    if isinstance(buf, types.Array) and buf.layout == "C":
        return lambda buf, start, rows, cols: _view2d(buf, start, rows, cols)
    return None


@intrinsic
def _view2d(typingctx, buf, start, rows, cols):
    """view2d in compiled code, for the C-contiguous arrays its overload lets through."""
    out = types.Array(buf.dtype, 2, "C")

    def codegen(context, builder, sig, args):
        src = make_array(sig.args[0])(context, builder, args[0])
        start, rows, cols = (context.cast(builder, v, t, types.intp) for v, t in zip(args[1:], sig.args[1:]))
        view = make_array(out)(context, builder)
        itemsize = context.get_constant(types.intp, context.get_abi_sizeof(context.get_data_type(buf.dtype)))
        populate_array(view, data=builder.gep(src.data, [start]),
                       shape=cgutils.pack_array(builder, [rows, cols]),
                       strides=cgutils.pack_array(builder, [builder.mul(cols, itemsize), itemsize]),
                       itemsize=itemsize, meminfo=src.meminfo, parent=src.parent)
        return impl_ret_borrowed(context, builder, out, view._getvalue())
    return out(buf, start, rows, cols), codegen


def any_layout(X):
    """X as it is, typed in compiled code as an array of any layout ('A').

    Numba compiles a function once per layout of its array arguments: a C-ordered block, its transpose
    (F-ordered) and a range of its columns (any layout) would each get their own copy. A function that
    reads its argument through its strides anyway (``gemm.add_outer``'s routes) is compiled once when
    every caller hands it the array through this. This body is the identity, for Python callers and
    NUMBA_DISABLE_JIT=1.
    """
    return X


@overload(any_layout, inline="always")
def _any_layout_compiled(X):
    if isinstance(X, types.Array):
        if X.layout == "A":
            return lambda X: X
        return lambda X: _any_layout(X)
    return None


@intrinsic
def _any_layout(typingctx, X):
    """any_layout in compiled code: the same array structure under the type of layout 'A'."""
    out = X.copy(layout="A")

    def codegen(context, builder, sig, args):
        return impl_ret_borrowed(context, builder, out, args[0])
    return out(X), codegen
