"""The update's product C += alpha D^T A in register tiles: a micro-kernel written in LLVM IR.

``gemm.add_outer``'s loops stream C: every group of 4 examples reads and writes 3 rows of C
again, so with long blocks of examples they are bound by loads and stores (55-65 GFLOP/s
here), and OpenBLAS's sgemm packs both operands on every call and runs skinny updates such
as 30 or 100 outputs from 1000 examples at 45-75 GFLOP/s (bench/tiles-probe.md). This
module keeps a tile of C in registers instead and runs the examples past it:

    for i in block:   acc[r][v] += D[i, j0 + r] * A[i, k0 + v*W : k0 + (v + 1)*W]
    then              C[j0 + r, k0 + ...] += alpha * acc[r][v]

``rows`` rows of C (up to TILE_ROWS = 6, or WIDE_TILE_ROWS = 12 on AVX-512: below) by two vectors of W lanes
(W = VECTOR_BYTES / itemsize: with AVX2's 32-byte vectors 16 float32 columns, 8 float64; on a CPU with AVX-512,
64-byte vectors (``kernels.vectors``), 32 float32 columns, 16 float64), 2 * rows vector accumulators (12 for
6 rows): each example costs two vector loads
of A, ``rows`` broadcasts of D and 2 * rows fused multiply-adds, and C is touched once per
block. That is the shape of the Haswell micro-kernels of BLIS and OpenBLAS (6 x 16), without
their packing: the caller (``gemm.tile_add_outer``) walks a block of TILE_BLOCK examples
past every tile of a strip of columns, so the strip of A (TILE_BLOCK rows of 2 vectors) stays
in L1 while the rows of D come from L2 (on AMD Zen 1, 512 examples a block where C has long rows, and the
strip in L2: ``gemm.ZEN1_ROUTES``).

AVX-512 has 32 vector registers, not 16: there the strips take tiles of WIDE_TILE_ROWS = 12 rows first
(24 accumulators, the shape of BLIS's Skylake-X sgemm micro-kernel, 12 x 32), which load each vector of
A for twice the multiply-adds and read each row of D's block in one cache line for 12 rows, not two
lines for 6 and 6. Every element of C is the same chain of multiply-adds over the examples whatever the
tile's height, so the results are the same bits. Paired float32 epochs on Zen 4 (bench/ab-wide-tiles.md)
took 0.981 of the time at [784,300,10] and [784,100,10] batch 1000, 0.989 at [784,30,10] batch 1000,
0.992 at [784,100,100,10] batch 1000, level at batch 20 to 200; float64 0.977 at [784,30,10] batch 1000, level
elsewhere; two threads level. The taller tiles cost compile time: with an empty cache, import and a first fit
took 37.5 and 38.4 s against 35.9 and 37.0 s for the parent (alternating, one core).

A row whose length is not a multiple of the tile's width ends in masked tiles (``edge_*``: masked
loads and stores of the last columns), so the 100 or 300 inputs of a hidden layer take tiles too.
Where those last columns fit in one vector, a masked tile has one vector a row, not a second one all
masked: half the multiply-adds there (paired epochs on Zen 4: 0.986-0.991 of the time at [784,100,10]
batch 100 to 1000, [784,30,10] and [784,300,10] batch 100, [784,100,100,10] batch 1000;
bench/ab-half-tiles.md).

Numba's loops cannot say this: LLVM does not keep an array's elements in registers across a
loop (it cannot prove that C does not alias A or D), and twelve named scalars per vector lane
are not vectorised. So the tile is an intrinsic that emits the loop itself: vector phis for
the accumulators and ``llvm.fma`` on vectors. Addresses are computed in bytes from the
arrays' strides; C and A need unit stride along their rows (the caller checks), D may have
any strides (``D.T`` of a row-major block, say).

Compiled only: the intrinsics cannot be called from Python. ``gemm.tile_add_outer`` is the
product's NumPy twin for ``NUMBA_DISABLE_JIT=1``.
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .vectors import WIDE, mark_wide

TILE_ROWS = 6  # rows of C per tile: 2 x 6 vector accumulators, 2 vectors of A and a broadcast fill 15 of 16 registers
WIDE_TILE_ROWS = 12  # with AVX-512's 32 registers: 2 x 12 accumulators, 2 vectors of A and a broadcast fill 27
VECTOR_BYTES = 64 if WIDE else 32  # one AVX-512 or AVX register; LLVM splits the vectors on a machine without AVX
LANES = 2  # vectors per row of a tile


def columns(itemsize):
    """Columns of C per tile: LANES vectors of VECTOR_BYTES (16 float32, 8 float64)."""
    return LANES * VECTOR_BYTES // itemsize


def _tile_codegen(rows, masked):
    """LLVM IR for a tile of ``rows`` rows: C[j0:j0+rows, k0:k0+columns] += alpha sum_{i0<=i<i1} D[i, j]^T A[i, k].

    ``masked``: the tile has a last argument ``cols``, and only its first cols columns are read and written
    (masked loads and stores: the last columns of a row whose length is not a multiple of the tile's width);
    where cols fit in one vector, the tile has one vector a row, not a second one all masked.
    """

    def codegen(context, builder, sig, args):
        mark_wide(builder)
        C, D, A, j0, k0, i0, i1, alpha = args[:8]
        c_ty, d_ty, a_ty = sig.args[:3]
        fty = context.get_value_type(c_ty.dtype)
        size = context.get_abi_sizeof(fty)
        width = VECTOR_BYTES // size
        vec = ir.VectorType(fty, width)
        i64 = ir.IntType(64)
        i32 = ir.IntType(32)

        def address(ty, value):
            a = context.make_array(ty)(context, builder, value)
            return builder.ptrtoint(a.data, i64), cgutils.unpack_tuple(builder, a.strides, 2)

        def at(byte_address, ptr_type):
            return builder.inttoptr(byte_address, ptr_type.as_pointer())

        def plus(x, offset):
            return builder.add(x, ir.Constant(i64, offset))

        c_base, (c_row, _) = address(c_ty, C)
        d_base, (d_row, d_col) = address(d_ty, D)
        a_base, (a_row, _) = address(a_ty, A)
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec] * 3),
                                             f"llvm.fma.v{width}f{size * 8}")
        zeros = ir.Constant(vec, None)
        undef = ir.Constant(vec, ir.Undefined)
        broadcast_mask = ir.Constant(ir.VectorType(i32, width), [0] * width)

        def splat(x):
            return builder.shuffle_vector(builder.insert_element(undef, x, i32(0)), undef, broadcast_mask)

        if masked:  # lane l of vector v is live when v * width + l < cols
            cols = builder.trunc(args[8], i32)
            live = [builder.icmp_signed("<", ir.Constant(ir.VectorType(i32, width), [v * width + l for l in range(width)]),
                                        builder.shuffle_vector(builder.insert_element(
                                            ir.Constant(ir.VectorType(i32, width), ir.Undefined), cols, i32(0)),
                                            ir.Constant(ir.VectorType(i32, width), ir.Undefined), broadcast_mask))
                    for v in range(LANES)]
            bits = ir.VectorType(ir.IntType(1), width)
            masked_load = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vec, [vec.as_pointer(), i32, bits, vec]),
                f"llvm.masked.load.v{width}f{size * 8}.p0")
            masked_store = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [vec, vec.as_pointer(), i32, bits]),
                f"llvm.masked.store.v{width}f{size * 8}.p0")

        def load(ptr, v):
            if masked:
                return builder.call(masked_load, [ptr, i32(size), live[v], zeros])
            return builder.load(ptr, align=size)

        def store(value, ptr, v):
            if masked:
                builder.call(masked_store, [value, ptr, i32(size), live[v]])
            else:
                builder.store(value, ptr, align=size)

        k_bytes = builder.mul(k0, ir.Constant(i64, size))
        a_strip = builder.add(a_base, k_bytes)
        d_strip = builder.add(d_base, builder.mul(j0, d_col))
        d_cols = [builder.mul(ir.Constant(i64, r), d_col) for r in range(rows)]
        c_strip = builder.add(c_base, k_bytes)

        def emit(lanes):
            """The tile's loop over the examples and its store, with ``lanes`` vectors a row."""
            entry = builder.basic_block
            loop = builder.append_basic_block("tile.examples")
            done = builder.append_basic_block("tile.store")
            builder.cbranch(builder.icmp_signed("<", i0, i1), loop, done)

            builder.position_at_end(loop)
            i = builder.phi(i64)
            acc = [[builder.phi(vec) for _ in range(lanes)] for _ in range(rows)]
            a_i = builder.add(a_strip, builder.mul(i, a_row))
            d_i = builder.add(d_strip, builder.mul(i, d_row))
            a_vecs = [load(at(plus(a_i, v * VECTOR_BYTES), vec), v) for v in range(lanes)]
            new = []
            for r in range(rows):
                d = splat(builder.load(at(builder.add(d_i, d_cols[r]), fty), align=size))
                new.append([builder.call(fma, [d, a_vecs[v], acc[r][v]]) for v in range(lanes)])
            i_next = plus(i, 1)
            i.add_incoming(i0, entry)
            i.add_incoming(i_next, loop)
            for r in range(rows):
                for v in range(lanes):
                    acc[r][v].add_incoming(zeros, entry)
                    acc[r][v].add_incoming(new[r][v], loop)
            builder.cbranch(builder.icmp_signed("<", i_next, i1), loop, done)

            builder.position_at_end(done)
            sums = []
            for r in range(rows):
                row = []
                for v in range(lanes):
                    s = builder.phi(vec)
                    s.add_incoming(zeros, entry)
                    s.add_incoming(new[r][v], loop)
                    row.append(s)
                sums.append(row)
            scale = splat(alpha)
            for r in range(rows):
                c_r = builder.add(c_strip, builder.mul(plus(j0, r), c_row))
                for v in range(lanes):
                    p = at(plus(c_r, v * VECTOR_BYTES), vec)
                    store(builder.call(fma, [scale, sums[r][v], load(p, v)]), p, v)

        if masked:  # one vector a row where the last cols fit in one: half the multiply-adds
            with builder.if_else(builder.icmp_signed("<=", cols, i32(width))) as (one, two):
                with one:
                    emit(1)
                with two:
                    emit(LANES)
        else:
            emit(LANES)
        return context.get_dummy_value()

    return codegen


def _typed(rows, masked, C, D, A, alpha):
    if not (isinstance(C, types.Array) and C.dtype in (types.float32, types.float64)
            and D.dtype == A.dtype == alpha == C.dtype and C.ndim == D.ndim == A.ndim == 2):
        return None
    ints = (types.intp,) * (5 if masked else 4)
    return types.void(C, D, A, *ints[:4], C.dtype, *ints[4:]), _tile_codegen(rows, masked)


def _make_tile(rows):
    """An intrinsic tile(C, D, A, j0, k0, i0, i1, alpha) of ``rows`` rows (see the module's docstring)."""

    def tile(typingctx, C, D, A, j0, k0, i0, i1, alpha):
        return _typed(rows, False, C, D, A, alpha)

    tile.__name__ = f"tile_{rows}"
    return intrinsic(tile)


def _make_edge(rows):
    """An intrinsic edge(C, D, A, j0, k0, i0, i1, alpha, cols): a tile of ``rows`` rows that reads and
    writes only its first cols columns."""

    def edge(typingctx, C, D, A, j0, k0, i0, i1, alpha, cols):
        return _typed(rows, True, C, D, A, alpha)

    edge.__name__ = f"edge_{rows}"
    return intrinsic(edge)


tile_1, tile_2, tile_3, tile_4, tile_5, tile_6 = (_make_tile(rows) for rows in range(1, TILE_ROWS + 1))
edge_1, edge_2, edge_3, edge_4, edge_5, edge_6 = (_make_edge(rows) for rows in range(1, TILE_ROWS + 1))
tile_12, edge_12 = _make_tile(WIDE_TILE_ROWS), _make_edge(WIDE_TILE_ROWS)
