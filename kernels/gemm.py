"""The two matrix products every layer spends its time in, blocked for registers and cache.

    linear:    Z = A W^T + b        (the forward pass of a block of examples)
    add_outer: C += alpha D^T A     (a weight update or gradient, and w^T delta)

Plain triple loops run at about a quarter of this machine's peak: each
multiply-add loads two numbers, and the dot products are latency bound. Here
each loaded row feeds several outputs at once:

- ``linear`` computes 3 rows of W against 4 examples in one pass over the
  inputs: 12 independent dot products that the compiler vectorises along k,
  7 loads for 12 multiply-adds. The 3 rows stay in L1 while a block of EB
  examples passes, so W is read from L2 once per block, not once per group
  of examples. (4 rows against 2 examples, 6 loads for 8, ran 10-35% slower
  from 16 to 100 examples.) One example takes a matrix-vector loop instead.
  Remainder rows and examples reuse the last row (the extra results are
  computed and dropped), so one loop body covers every shape, except that
  the last one or two examples take a 3 x 2 pass (``_rows_by_two``): with
  the 4-example body, batch 2 computed twice the products it kept.
- ``add_outer`` updates 3 rows of C from 4 rows of A in one pass over k (the
  2 or 3 examples left after the groups of 4 take one pass of 2, not one each). Each
  pass sets up 12 broadcast coefficients, so passes are kept long: k is split
  into chunks only beyond KC columns, where the rows of A would crowd out L2.

Measured on the development machine (Zen 3, one core, float32, 20 x 784 x 30):
the plain loops run at 34 and 23 GFLOP/s, these at 63-79 and 70 (bench/RESULTS.md
has the epoch times). add_outer once worked in chunks of 256 columns, to keep
the chunk of A in L1: 57 GFLOP/s, as the set-up of each pass cost more than
L2 reads (similar at every shape tried, up to 20 x 1000 x 300).

Index through row-slice views (``c = C[j, k0:k1]; c[k]``): ``C[j, k0 + k]``
keeps Python's negative-index wraparound in the inner loop and stops
vectorisation.

Large products go to BLAS (OpenBLAS from the scipy-openblas32 wheel, called through its
CBLAS interface: ``_load_openblas``): OpenBLAS's packed, cache-blocked kernels keep 77-89 GFLOP/s where these
loops fall to 55-63 (add_outer with long blocks and wide layers), but its packing
costs more than it saves on small blocks, where these loops run 2-3x faster. So
each product takes BLAS only above a size threshold, which depends on the CPU (``Routes``; ``ROUTES`` is
this machine's): add_outer from ``Routes.blas_block`` examples and TILE_COLUMNS columns, where the register
tiles below do not take it (``add_outer_takes_blas``), linear only from ``Routes.blas_linear_block``
examples and BLAS_LINEAR_ROWS rows (``linear_takes_blas``). BLAS runs on as many threads as
``fastnn.blas`` allows: one, unless two threads were asked for.

On an AVX2 CPU (``AVX2_ROUTES``, measured on AMD EPYC, Zen 3; bench/blas-probe.md and the files named
below) add_outer goes to BLAS from 32 examples and linear from 200: batch 1, 10 and 20, the online epoch
and the two-thread epoch's row chunks stay on the loops. On a CPU with AVX-512 (``AVX512_ROUTES``,
measured on Intel Xeon, Emerald Rapids) OpenBLAS's SkylakeX kernels use 64-byte vectors, and LLVM, left
alone, 32-byte ones (it prefers 256 bits there). So there the register tiles are built of 64-byte vectors
(``kernels.tiles``: 32 float32 columns a tile) and the loops over 64 inputs or columns or more
(WIDE_INNER; linear's and add_outer's, which batches of 2 to 5 take) are compiled for them too
(``kernels.vectors``). The matrix-vector loop of one example is not: in paired epochs it gained
nothing from them, and every such copy costs compile time. With 32-byte tiles, BLAS had taken 0.64 of
their time or the loops' for the first layer's update from 6 to 1000 examples (bench/routes-avx512.md
as commit a4debc2 has it); with 64-byte ones the
tiles ran ahead of BLAS at 30 rows of 784 columns from 50 examples (BLAS took 1.07 to 1.42 of their time)
and within 25% of it up to 100 rows (bench/routes-avx512.md). So the tiles keep the limits measured on
AVX2, BLAS takes what they leave from 6 examples, and in paired epochs the two took 0.83 to 0.96 of
the time at most benchmark shapes (bench/ab-avx512-tiles.md). linear goes to BLAS from 50 examples into
64 neurons or more (0.57 to 0.80 of the loops' time). Into 30 to 63 neurons it takes the tiles from 512
examples (``Routes.tile_linear_block``): Z += (A^T)^T W^T, the tiles' product with W transposed into a
scratch that ``layout.alloc_acts`` reserves at the head of the activations (inference gives none: its rows
must not depend on their neighbours). In paired epochs of [784, 30, 10] that route took 0.88-0.92 of the
time at batch 600 and 1000 (0.91 at 40 and 60 neurons); from 32 to 400 examples, where transposing the
weights for every batch (12 us at 30 x 784) weighs more, the two traded places from run to run; at 16
and 24 neurons, where a tile's lanes sit idle, it was level or slower (bench/ab-avx512-tiles.md).
On AVX-512 a float32 mini-batch epoch of 50 to 399 examples a batch into 64 to 255 neurons, or 50 to 199
into more, keeps its first layer's weights transposed, W^T (n_in, n_out), for the whole epoch
(``Routes.transposed_below``, ``sgd.minibatch_epoch``): the forward product reaches OpenBLAS as A W^T with
neither operand transposed (``blas_linear_transposed``), where from W (n_out, n_in) OpenBLAS transposes W
as it packs it, and the update adds X^T delta into W^T. Paired epochs took 0.94-0.98 of the time at batch
64 to 300 into 64 to 100 neurons and at batch 100 into 300 and 1000, level at 500 and 1000 examples; at
batch 200 into 300 neurons 1.004-1.008 (so wide layers stop at 200), and in float64 1.04-1.06
(bench/ab-transposed-first.md).
On AMD Zen 4 (``ZEN4_ROUTES``, ``host_routes``), which has AVX-512 but runs 64-byte vectors in
two halves, float32 routes differ (bench/routes-zen4.md, bench/ab-zen4-routes.md): ``linear`` keeps blocks of
LONG_INPUTS inputs or more into fewer than TRANSPOSED_WIDE_ROWS neurons on its loops (97-102
GFLOP/s there against BLAS's 84-97 from 50 to 200 examples; from 100 or 300 inputs the loops fall to 47-70, so
only long rows stay), and such a first layer is not kept transposed; the tiles take the update of up to 300 rows
of LONG_INPUTS columns or more from 100 examples (from 100 examples 110.4 GFLOP/s
against BLAS's 104.1 at 100 rows of 784 columns, 109.8 against 106.4 at 300 rows; from 200 examples at 300 rows
BLAS was level or ahead, 106.7 against 105.5, and the limit rests there on paired epochs, level at batch 200
and 300), and a first layer whose update they take is not kept transposed either.
Paired epochs of [784,100,10] took 0.92-0.95 of the time at batch 100 and 200, [784,300,10] 0.98 at batch 100
(bench/ab-zen4-wide-tiles.md); wider layers keep the routes above. From BLAS_SPLIT_EXAMPLES examples the loops
and tiles keep those products only while BLAS runs on one thread (``Routes.own_large_alone``, ``blas_alone``:
the compiled route checks ask OpenBLAS its thread count): one thread's epochs of [784,100,10] took 0.970 of
the time at batch 600, 0.975 at 1000, [784,100,100,10] 0.978 at 1000, [784,300,10] level at 1000; two threads
hand those epochs to BLAS on both cores (``fastnn.threads.blas_splits``), which ran them faster than fastnn's
own split, and there BLAS keeps them, level with before (bench/ab-zen4-own-large.md).
On AMD Zen 1 (``ZEN1_ROUTES``; AVX2 run in 16-byte halves, 512 KB of L2, 8 MB of L3) the AVX2 routes hold but
for the first layer (bench/routes-zen1.md, bench/ab-zen1-routes.md). From BLAS_SPLIT_EXAMPLES examples, while
BLAS runs on one thread (``Routes.own_large_alone``, as on Zen 4), its forward product of LONG_INPUTS inputs or
more into fewer than TRANSPOSED_WIDE_ROWS neurons stays on linear's loops (streamed with the gather,
``sgd.first_layer_streamed``) and the tiles take its update up to ``Routes.tile_large_rows`` = 100 rows. And the
tiles walk ``Routes.tile_long_block`` = 512 examples past each strip of columns, not TILE_BLOCK = 128, where C has
LONG_INPUTS columns or more, so that C, which does not stay in L2 beside the block of deltas, is read and written
twice a batch of 1000, not eight times (narrow products such as the output layer's keep 128: with 512 their strip
of A leaves L1). In isolation BLAS ran level with the loops and ahead of the tiles there (36.4 GFLOP/s against
36.4 for 1000 examples into 100 neurons; 35.9 against 33.7 for the update of 100 rows), but in paired epochs the
changes took 0.95 of the time at [784,100,10] batch 1000; at 100 and 200 examples the tiles at 100 rows were
1-2% slower (128 examples a pass), so there BLAS keeps the update.
The rest of this docstring describes the AVX2 routes, whose tile limits AVX-512 keeps.

add_outer from TILE_EXAMPLES examples and TILE_COLUMNS columns takes register tiles instead, up to a
row limit (``kernels.tiles``, ``add_outer_takes_tiles``), before BLAS is considered: C stays in
registers while the examples pass, and nothing is packed. Below 32 examples C's loads and stores are
not paid back from 64 rows (0.68-0.96x the better route at 10 and 16 examples, bench/tiles-probe.md).
The float32 row limits come from paired epochs (bench/ab-routes-openblas.md, with the runs that chose
them), as isolated products misjudge both ends: TILE_MAX_ROWS rows at any batch, TILE_SHORT_ROWS below
TILE_SHORT_EXAMPLES examples. The limit was 128 rows at every batch
when the kernels called SciPy's OpenBLAS 0.3.30; the wheel's 0.3.34 runs the update of 100 rows 14-19%
faster (bench/openblas-probe.md), and with it the first layer of [784, 100, 10] in BLAS made whole
epochs level or faster from batch 100, by up to 11% at batch 1000 while the host was slow. In isolation
BLAS now leads from 64 rows from 32 examples, by 1-13% (bench/tiles-probe.md; at 40 rows the two trade
places), but in an epoch, where the batch's rows are in cache from the forward pass, the tiles stayed
2-3% ahead at 40-64 rows and, below 100 examples, at 100 rows. In float64 (8 lanes a tile) the tiles take up to TILE_MAX_ROWS_F64 rows (1.1-1.2x the better route at 30
rows of 784 inputs from 32 to 1000 examples). With fewer columns than BLAS_COLUMNS the tiles take up to
TILE_NARROW_ROWS rows: at 200 rows of 30 columns they ran 1.06-1.09x BLAS and 1.96-3.7x the loops; at
300 rows of 50 columns BLAS was faster, and at 1000 rows of 30 columns, where every strip of columns
reads all of D again, level or faster. So from 32 examples and 16 columns an update takes tiles or BLAS, never
the loops. In float64 the loops had kept 41-127 rows below 128 examples, where BLAS is faster from 64
rows of 784 columns (bench/tiles-probe.md), and every product of fewer than 64 columns.

On AVX2, linear goes to BLAS from 200 examples (``AVX2_ROUTES.blas_linear_block``) and BLAS_LINEAR_ROWS rows. At batch 200 paired
epochs of 300 and 1000 neurons were 2-4% faster with it (the deep [784, 100, 100, 10] 4%, its updates of
100 rows in BLAS too), 64 and 100 neurons level; with BLAS from batch 100, [784, 64, 10] and [784, 100, 10]
at batch 100 were 1-3% slower (bench/ab-routes-openblas.md).
"""
import ctypes
import importlib.util
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numba import njit, types
from numba.extending import overload

from .codes import FASTMATH
from .vectors import WIDE, host_cpu_name, host_has_avx512, wide_vectors
from .tiles import (TILE_ROWS, WIDE_TILE_ROWS, columns, edge_1, edge_2, edge_3, edge_4, edge_5, edge_6, edge_12,
                    tile_1, tile_2, tile_3, tile_4, tile_5, tile_6, tile_12)
from .views import any_layout, view2d

GROUP = 4  # examples per pass of linear's loops (one or two left over at a block's end take a pass of two)
KC = 2048  # at most this many columns per pass in add_outer
EB = 32  # examples per block in linear: a block of rows of A stays in L2 while every row of W passes
BLAS_COLUMNS = 64  # below this many columns of C BLAS's packing is not paid back: the tiles take more rows
BLAS_LINEAR_ROWS = 64  # linear goes to BLAS only from this many rows of W (with Routes.blas_linear_block examples)
TILE_EXAMPLES = 32  # add_outer takes register tiles (float32) from this many examples ...
TILE_MAX_ROWS = 64  # ... up to this many rows of C in float32 ...
TILE_SHORT_ROWS = 128  # ... or this many in float32 below TILE_SHORT_EXAMPLES examples ...
TILE_SHORT_EXAMPLES = 100  # ... (OpenBLAS's packing pays from there) ...
TILE_MAX_ROWS_F64 = 40  # ... and this many in float64 ...
TILE_NARROW_ROWS = 200  # ... or this many in either, given fewer than BLAS_COLUMNS columns of C ...
TILE_COLUMNS = 16  # ... and from one tile's width of columns (float32)
WIDE_INNER = 64  # the loops over this many inputs or columns or more take 64-byte vectors on AVX-512 (kernels.vectors)
TILE_LINEAR_ROWS = 30  # linear into fewer neurons leaves lanes of a tile idle: the loops take it (16, 24: level or slower)
LONG_INPUTS = 512  # Routes.loops_long_below, tile_*_rows, tile_long_block: rows of this many inputs or more (at 784;
# at 100 inputs BLAS stays ahead of both the loops and the tiles on Zen 4, between the two it was not measured)
TILE_BLOCK = 128  # examples per pass over the tiles: the strip of A they share stays in L1
BLAS_SPLIT_EXAMPLES = 512  # from this many examples two threads hand both of the first layer's products to BLAS
# (fastnn.threads.blas_splits), so Routes.tile_max_rows and loops_long_below hold from there only while BLAS runs
# on one thread (Routes.own_large_alone): two threads at [784,100,10] batch 1000 ran BLAS on both cores faster
# than fastnn's own split (bench/split_probe.py, fresh kernels: 0.881 of the time, interval [0.769, 1.098])
TRANSPOSED_WIDE_ROWS = 256  # a first layer this wide is kept transposed only below Routes.transposed_wide_below examples


class Routes(NamedTuple):
    """Which products go to BLAS or the register tiles, for one kind of CPU (``ROUTES`` is this machine's).

    Where the CPU has AVX-512, OpenBLAS's kernels (SkylakeX and later) and the tiles use 64-byte vectors,
    but the register-blocked loops below 64 inputs or columns keep 32-byte ones: BLAS wins at far smaller
    products than on an AVX2 CPU, and the tiles also take the forward product into a few dozen neurons
    from large batches (bench/routes-avx512.md).
    """
    blas_block: int  # add_outer goes to BLAS from this many examples, where the tiles do not take it
    blas_linear_block: int  # linear goes to BLAS from this many examples (and BLAS_LINEAR_ROWS rows)
    tiles: bool  # add_outer takes the register tiles within their limits
    tile_linear_block: int  # linear into TILE_LINEAR_ROWS .. BLAS_LINEAR_ROWS neurons takes the tiles from this
    # many examples, over a transposed copy of the weights (0: never)
    transposed_below: int  # a float32 mini-batch epoch keeps its first layer's weights transposed for batches
    # below this many examples where linear sends its forward product to BLAS (linear_takes_blas_on) (0: never),
    transposed_wide_below: int  # ... and below this many into TRANSPOSED_WIDE_ROWS neurons or more
    tile_max_rows: int  # add_outer's tiles take up to this many rows of C in float32 from TILE_SHORT_EXAMPLES to
    # BLAS_SPLIT_EXAMPLES examples where C has LONG_INPUTS columns or more (elsewhere TILE_MAX_ROWS); any such
    # product, w^T delta into a layer of LONG_INPUTS neurons too
    tile_large_rows: int  # ... and up to this many from BLAS_SPLIT_EXAMPLES examples where own_large_alone holds
    tile_long_block: int  # examples per pass over the tiles where C has LONG_INPUTS columns or more (elsewhere
    # TILE_BLOCK; ``tile_add_outer``)
    loops_long_below: int  # linear in float32 from LONG_INPUTS inputs into fewer than TRANSPOSED_WIDE_ROWS neurons
    # stays on the loops below this many examples, and from there too where own_large_alone holds (0: BLAS from
    # blas_linear_block as for any other block)
    tiles_keep_layout: bool  # a first layer of LONG_INPUTS inputs or more whose update add_outer's tiles take is
    # not kept transposed (its forward product goes to BLAS from W as it is, and the tiles update W)
    own_large_alone: bool  # from BLAS_SPLIT_EXAMPLES examples too, tile_max_rows and loops_long_below keep their
    # products on the tiles and loops while BLAS runs on one thread (``blas_alone``); with BLAS on more (two
    # threads' BLAS split, fastnn.threads.blas_splits) BLAS takes them there


# AVX2 (measured on AMD EPYC, Zen 3): bench/blas-probe.md, bench/tiles-probe.md, bench/ab-routes-openblas.md.
AVX2_ROUTES = Routes(blas_block=32, blas_linear_block=200, tiles=True, tile_linear_block=0, transposed_below=0,
                     transposed_wide_below=0, tile_max_rows=TILE_MAX_ROWS, tile_large_rows=TILE_MAX_ROWS,
                     tile_long_block=TILE_BLOCK, loops_long_below=0, tiles_keep_layout=False,
                     own_large_alone=False)
# AVX2 on AMD Zen 1 (measured there): bench/routes-zen1.md, bench/ab-zen1-routes.md.
ZEN1_ROUTES = AVX2_ROUTES._replace(tile_large_rows=100, tile_long_block=512, own_large_alone=True)
# AVX-512 (measured on Intel Xeon, Emerald Rapids): bench/routes-avx512.md, bench/ab-avx512-tiles.md.
AVX512_ROUTES = Routes(blas_block=6, blas_linear_block=50, tiles=True, tile_linear_block=512, transposed_below=400,
                       transposed_wide_below=200, tile_max_rows=TILE_MAX_ROWS, tile_large_rows=TILE_MAX_ROWS,
                       tile_long_block=TILE_BLOCK, loops_long_below=0, tiles_keep_layout=False,
                       own_large_alone=False)
# AVX-512 on AMD Zen 4, which runs 64-byte vectors in two halves (measured there): bench/routes-zen4.md,
# bench/ab-zen4-routes.md, bench/ab-zen4-wide-tiles.md, bench/ab-zen4-own-large.md. It changes five fields (their
# comments in Routes say where they act; float32 only; tile_large_rows keeps tile_max_rows's 300 from 512
# examples). The tiles' limit of 300 rows was measured at 100 and 300 examples; at 1000, where in isolation BLAS
# was faster at 1000 rows, paired epochs of [784,300,10] were level.
ZEN4_ROUTES = AVX512_ROUTES._replace(tile_max_rows=300, tile_large_rows=300, loops_long_below=512,
                                     tiles_keep_layout=True, own_large_alone=True)


def shared_routes(routes):
    """routes as they are while BLAS runs on more than one thread: what own_large_alone keeps off BLAS goes to
    it. The routes of a two-thread BLAS split, and the largest set of products that may go to BLAS."""
    return routes._replace(own_large_alone=False)


def host_routes():
    """The routes for the CPU that Numba compiles for: ZEN4_ROUTES on AMD Zen 4, AVX512_ROUTES on other CPUs with
    AVX-512, ZEN1_ROUTES on AMD Zen 1 (LLVM's znver1, Zen+ too), AVX2_ROUTES on the rest. LLVM names Zen 4 znver4
    from LLVM 16 on; older ones (Numba 0.61 and before) call it znver3, and a Zen 3 has no AVX-512, so znver3
    with AVX-512 is a Zen 4 too."""
    if not host_has_avx512():
        return ZEN1_ROUTES if host_cpu_name() == "znver1" else AVX2_ROUTES
    return ZEN4_ROUTES if host_cpu_name() in ("znver3", "znver4") else AVX512_ROUTES


ROUTES = host_routes()
TILE_LONG_BLOCK = ROUTES.tile_long_block  # examples per pass over the tiles where C has long rows (tile_add_outer)


def _load_openblas():
    """Load the OpenBLAS of the ``scipy-openblas32`` wheel and give its CBLAS products (``scipy_cblas_sgemm``,
    ``scipy_cblas_dgemm``) and its thread count (``blas_alone``) to LLVM's symbol table, so that compiled kernels, fresh or from Numba's cache,
    call them. The library is loaded locally (ctypes' default): its symbols stay out of the process's
    global scope, where they would take the place of SciPy's own OpenBLAS (the same symbol names) for
    SciPy's extension modules loaded after fastnn. So the package is found, not imported: its
    ``__init__`` loads the library into the global scope.

    That wheel is the OpenBLAS build that SciPy's and NumPy's own wheels bundle, packaged on its own. It is
    called directly rather than through SciPy (Numba's ``numba_xxgemm`` helper) because SciPy's bundled copy
    lags: SciPy 1.17.1 ships OpenBLAS 0.3.30, and 0.3.34 ran the update's product (C += alpha D^T A, 784
    columns) 1.01-1.19x as fast on the benchmark shapes, the forward product 0.96-1.14x
    (bench/openblas-probe.md). Loading it costs only the library's own start-up
    (no SciPy import).

    It is loaded with OPENBLAS_NUM_THREADS=1 (the caller's value, if any, is put back): so it starts no
    worker thread now, from a thread that keeps denormals, and ``fastnn.blas`` starts the one it needs
    when two threads are asked for, from a thread that flushes them (``kernels.denormals``)."""
    spec = importlib.util.find_spec("scipy_openblas32")
    found = sorted(Path(spec.origin).parent.joinpath("lib").glob("libscipy_openblas*")) if spec else []
    found = [p for p in found if p.suffix in (".so", ".dylib", ".dll")]
    if not found:  # a declared dependency: only a broken environment gets here
        raise ImportError("fastnn's kernels need the OpenBLAS of the scipy-openblas32 package "
                          "(pip install scipy-openblas32), which does the large matrix products")
    from llvmlite import binding
    path = str(found[0])
    before = os.environ.get("OPENBLAS_NUM_THREADS")
    os.environ["OPENBLAS_NUM_THREADS"] = "1"  # read once, when the library starts
    try:
        library = ctypes.CDLL(path)  # RTLD_LOCAL
    finally:
        if before is None:
            del os.environ["OPENBLAS_NUM_THREADS"]
        else:
            os.environ["OPENBLAS_NUM_THREADS"] = before
    for name in ("scipy_cblas_sgemm", "scipy_cblas_dgemm", "scipy_openblas_get_num_threads"):
        binding.add_symbol(name, ctypes.cast(getattr(library, name), ctypes.c_void_p).value)
    return path, library


OPENBLAS, _OPENBLAS_LIBRARY = _load_openblas()  # the path, and the handle that keeps the library loaded
COL_MAJOR, NO_TRANS, TRANS = 102, 111, 112  # CBLAS_ORDER and CBLAS_TRANSPOSE values


def _cblas_gemm_type(dtype, name):
    """cblas_xgemm(order, transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc):
    C := alpha op(A) op(B) + beta C, every scalar by value (32-bit integers: the LP64 build)."""
    p = types.CPointer(dtype)
    i = types.intc
    return types.ExternalFunction(name, types.void(i, i, i, i, i, i, dtype, p, i, p, i, dtype, p, i))


_GEMM = {types.float32: _cblas_gemm_type(types.float32, "scipy_cblas_sgemm"),
         types.float64: _cblas_gemm_type(types.float64, "scipy_cblas_dgemm")}


def blas_thread_count():
    """The number of threads the kernels' OpenBLAS runs a product on now (``fastnn.blas`` sets it).

    This body serves Python callers and NUMBA_DISABLE_JIT=1; compiled code calls the library directly."""
    return _OPENBLAS_LIBRARY.scipy_openblas_get_num_threads()


_THREAD_COUNT = types.ExternalFunction("scipy_openblas_get_num_threads", types.intc())


@overload(blas_thread_count)
def _blas_thread_count_compiled():
    return lambda: _THREAD_COUNT()


@njit(cache=True, inline="always")
def blas_alone(routes, m):
    """True where routes.own_large_alone keeps a block of m examples off BLAS: from BLAS_SPLIT_EXAMPLES examples,
    while BLAS runs on one thread. Below that, or without own_large_alone, False without asking BLAS."""
    if routes.own_large_alone and m >= BLAS_SPLIT_EXAMPLES:
        return blas_thread_count() <= 1
    return False


@njit(cache=True)
def linear_takes_blas_on(routes, m, n_out, n_in, itemsize):
    """True when ``linear`` sends a block of m examples of n_in inputs into n_out neurons to BLAS (rows contiguous,
    itemsize bytes an entry) under routes."""
    long_on_loops = ((itemsize == 4) & (n_in >= LONG_INPUTS) & (n_out < TRANSPOSED_WIDE_ROWS)
                     & ((m < routes.loops_long_below) | blas_alone(routes, m)))
    return (m >= routes.blas_linear_block) & (n_out >= BLAS_LINEAR_ROWS) & (not long_on_loops)


@njit(cache=True)
def linear_takes_tiles_on(routes, m, n_out):
    """True when ``linear`` computes a block of m examples into n_out neurons in register tiles, over the
    transposed weights (given the scratch for them: ``linear_scratch_size``), under routes."""
    return 0 < routes.tile_linear_block <= m and TILE_LINEAR_ROWS <= n_out < BLAS_LINEAR_ROWS


@njit(cache=True)
def first_layer_transposed_on(routes, m, n_out, n_in, itemsize):
    """True when a mini-batch epoch of batches of m examples keeps its first layer's n_out rows of weights
    transposed (the forward product ``blas_linear_transposed``), under routes: float32 only, and not where
    routes.tiles_keep_layout and the tiles take the update of a layer of LONG_INPUTS inputs or more."""
    below = routes.transposed_wide_below if n_out >= TRANSPOSED_WIDE_ROWS else routes.transposed_below
    tiles = (routes.tiles_keep_layout and n_in >= LONG_INPUTS
             and add_outer_takes_tiles_on(routes, m, n_out, n_in, itemsize))
    return (itemsize == 4) & linear_takes_blas_on(routes, m, n_out, n_in, itemsize) & (m < below) & (not tiles)


@njit(cache=True)
def add_outer_takes_tiles_on(routes, m, n, K, itemsize):
    """True when ``add_outer`` computes C (n, K) += D^T A over m examples in register tiles (rows contiguous)
    under routes: up to the tiles' row limit, or up to TILE_NARROW_ROWS rows when C has fewer than
    BLAS_COLUMNS columns."""
    if not routes.tiles:
        return False
    if itemsize == 4:
        if m < TILE_SHORT_EXAMPLES:
            rows = TILE_SHORT_ROWS
        else:
            rows = TILE_MAX_ROWS
            if K >= LONG_INPUTS and m < BLAS_SPLIT_EXAMPLES:
                rows = routes.tile_max_rows
            elif K >= LONG_INPUTS and blas_alone(routes, m):
                rows = routes.tile_large_rows
    else:
        rows = TILE_MAX_ROWS_F64
    return m >= TILE_EXAMPLES and K >= TILE_COLUMNS and (n <= rows or (K < BLAS_COLUMNS and n <= TILE_NARROW_ROWS))


@njit(cache=True)
def add_outer_takes_blas_on(routes, m, n, K, itemsize):
    """True when ``add_outer`` sends C (n, K) += D^T A over m examples to BLAS (rows contiguous) under routes:
    from routes.blas_block examples and one tile's width of columns, what the tiles do not take."""
    return m >= routes.blas_block and K >= TILE_COLUMNS and not add_outer_takes_tiles_on(routes, m, n, K, itemsize)


@njit(cache=True)
def linear_takes_blas(m, n_out, n_in, itemsize):
    """``linear_takes_blas_on`` with this machine's ROUTES."""
    return linear_takes_blas_on(ROUTES, m, n_out, n_in, itemsize)


@njit(cache=True)
def linear_takes_tiles(m, n_out):
    """``linear_takes_tiles_on`` with this machine's ROUTES."""
    return linear_takes_tiles_on(ROUTES, m, n_out)


@njit(cache=True)
def first_layer_transposed(m, n_out, n_in, itemsize):
    """``first_layer_transposed_on`` with this machine's ROUTES."""
    return first_layer_transposed_on(ROUTES, m, n_out, n_in, itemsize)


@njit(cache=True)
def linear_scratch_size(sizes, m_max):
    """Elements of the scratch ``linear`` needs for blocks of up to m_max examples through the layers of
    sizes: the largest transposed weight matrix among the layers it takes through the tiles (0 if none)."""
    size = 0
    for l in range(len(sizes) - 1):
        if linear_takes_tiles(m_max, sizes[l + 1]):
            size = max(size, sizes[l] * sizes[l + 1])
    return size


@njit(cache=True)
def add_outer_takes_tiles(m, n, K, itemsize):
    """``add_outer_takes_tiles_on`` with this machine's ROUTES."""
    return add_outer_takes_tiles_on(ROUTES, m, n, K, itemsize)


@njit(cache=True)
def add_outer_takes_blas(m, n, K, itemsize):
    """``add_outer_takes_blas_on`` with this machine's ROUTES."""
    return add_outer_takes_blas_on(ROUTES, m, n, K, itemsize)


@njit(cache=True, inline="always")
def rows_contiguous(X):
    """True when X's rows are contiguous (a unit stride along them), as the register tiles need them."""
    return X.strides[1] == X.itemsize


@njit(cache=True, inline="always")
def blas_rows(X):
    """True when BLAS can read the 2-D X as it is, row by row: contiguous rows, each at least a row's length
    after the one before (BLAS's leading dimension), or a single row. A NumPy array may step back between
    rows (``X[::-1]``), stay on one (``np.broadcast_to``) or overlap them; BLAS refuses the first and reads
    the others past their buffer.

    Written with ``&`` and ``|``, as are the tests that call it: in short-circuit ``and``/``or`` chains
    the compiled checks took 35-40 ns longer a call (delta_below's product on 30 x 30 weights at batch 20
    takes about 400 ns in all)."""
    return (X.strides[1] == X.itemsize) & ((X.shape[0] == 1) | (X.strides[0] >= X.shape[1] * X.itemsize))


@njit(cache=True, inline="always")
def blas_columns(X):
    """``blas_rows`` for X's columns: BLAS can read X column by column (as X.T row by row)."""
    return (X.strides[0] == X.itemsize) & ((X.shape[1] == 1) | (X.strides[1] >= X.shape[0] * X.itemsize))


@njit(cache=True, inline="always")
def add_outer_goes_to_blas(C, D, A):
    """True when ``add_outer`` sends C += alpha D^T A to BLAS: where ``add_outer_takes_blas`` and BLAS can read
    every operand as it is (``blas_rows``, ``blas_columns``)."""
    return (add_outer_takes_blas(A.shape[0], C.shape[0], C.shape[1], C.itemsize) & blas_rows(C) & blas_rows(A)
            & (blas_columns(D) | blas_rows(D)))


def blas_add_outer(C, alpha, D, A):
    """add_outer through BLAS: C += alpha D^T A, C and A as ``blas_rows`` has them, D by its rows or columns.

    This body is the same product in NumPy, for Python callers and NUMBA_DISABLE_JIT=1.
    """
    C += alpha * (D.T @ A)


@overload(blas_add_outer)
def _blas_add_outer_compiled(C, alpha, D, A):
    gemm = _GEMM[C.dtype]

    def impl(C, alpha, D, A):
        # Row-major C (n, K) is column-major C^T (K, n) = alpha A^T D + C^T, A^T being A's buffer as it is.
        m, K = A.shape
        n = C.shape[0]
        size = C.itemsize
        # a single column (n = 1, the output layer of a regression) or row may have any stride; BLAS asks for
        # a leading dimension of at least m or n ("parameter number 10 had an illegal value", and no product)
        if D.strides[0] == size:  # D = X.T: column-major (m, n) already
            trans, ldd = NO_TRANS, max(D.strides[1] // size, m)
        else:
            trans, ldd = TRANS, max(D.strides[0] // size, n)
        # one row of A or C may have any stride (even 0); BLAS asks for leading dimensions of at least K
        gemm(COL_MAJOR, NO_TRANS, trans, K, n, m, C.dtype.type(alpha), A.ctypes, max(A.strides[0] // size, K),
             D.ctypes, ldd, C.dtype.type(1), C.ctypes, max(C.strides[0] // size, K))

    return impl


def blas_linear(W, b, A, Z):
    """linear through BLAS: Z = A W^T + b, every matrix as ``blas_rows`` has it.

    This body is the same product in NumPy, for Python callers and NUMBA_DISABLE_JIT=1.
    """
    Z[:, :] = A @ W.T + b


def blas_linear_transposed(WT, b, A, Z):
    """linear through BLAS from the transposed weights WT (n_in, n_out): Z = A WT + b, every matrix as
    ``blas_rows`` has it.

    This body is the same product in NumPy, for Python callers and NUMBA_DISABLE_JIT=1.
    """
    Z[:, :] = A @ WT + b


def _blas_linear_overload(transposed):
    """The compiled body of blas_linear (weights W (n_out, n_in)) or, transposed, blas_linear_transposed (WT)."""

    def compiled(W, b, A, Z):
        gemm = _GEMM[Z.dtype]
        trans = NO_TRANS if transposed else TRANS

        def impl(W, b, A, Z):
            # Z^T (n_out, m) = W A^T + Z^T in column-major terms, Z holding the biases first. A's buffer is A^T as it
            # is; W's is W^T, which BLAS transposes (as it packs it), WT's is W as it is.
            m, n_in = A.shape
            n_out = W.shape[1] if transposed else W.shape[0]
            size = Z.itemsize
            for i in range(m):
                z = Z[i]
                for j in range(n_out):
                    z[j] = b[j]
            one = Z.dtype.type(1)
            gemm(COL_MAJOR, trans, NO_TRANS, n_out, m, n_in, one, W.ctypes, max(W.strides[0] // size, W.shape[1]),
                 A.ctypes, max(A.strides[0] // size, n_in), one, Z.ctypes, max(Z.strides[0] // size, n_out))

        return impl

    return compiled


overload(blas_linear)(_blas_linear_overload(False))
overload(blas_linear_transposed)(_blas_linear_overload(True))


@njit(cache=True, fastmath=FASTMATH)
def linear(W, b, A, Z, scratch=None):
    """Z[i, j] = b[j] + sum_k W[j, k] A[i, k], for every example i of the block A.

    scratch: room for W transposed (``linear_scratch_size`` elements), for the tiles' route; without it
    (or too small) the block takes the loops instead. The kernels always pass an array, empty where they
    want no tiles, so that linear is compiled once per kind of arrays, not again for None.
    """
    m = A.shape[0]
    if m == 1:
        _matvec(W, b, A[0], Z[0])
        return
    n_out, n_in = W.shape
    if (scratch is not None and linear_takes_tiles(m, n_out) and scratch.size >= n_out * n_in
            and rows_contiguous(Z) and rows_contiguous(A)):
        tile_linear(W, b, A, Z, view2d(scratch, 0, n_in, n_out))
        return
    if linear_takes_blas(m, n_out, n_in, W.itemsize) & blas_rows(W) & blas_rows(A) & blas_rows(Z):
        blas_linear(W, b, A, Z)
        return
    linear_loops(W, b, A, Z)


@njit(cache=True, fastmath=FASTMATH)
def tile_linear(W, b, A, Z, WT):
    """linear in the register tiles: Z = b + A W^T as Z += (A^T)^T W^T, WT (n_in, n_out) a scratch for W^T.

    The tiles keep 6 examples by 2 vectors of neurons in registers while the inputs pass (``kernels.tiles``);
    every output is the same chain of multiply-adds over the inputs in order, whatever its neighbours.
    """
    n_out, n_in = W.shape
    for k in range(n_in):  # contiguous writes: 2.8x faster than contiguous reads here (30 x 784)
        wt = WT[k]
        for j in range(n_out):
            wt[j] = W[j, k]
    for i in range(A.shape[0]):
        z = Z[i]
        for j in range(n_out):
            z[j] = b[j]
    tile_add_outer(Z, Z.dtype.type(1), any_layout(A.T), WT)  # the tiles as add_outer's routes have them


@njit(cache=True, fastmath=FASTMATH)
def linear_loops(W, b, A, Z):
    """linear in the register-blocked loops: 3 rows of W against GROUP examples per pass (two or more examples)."""
    if W.shape[1] >= WIDE_INNER:
        _linear_loops_wide(W, b, A, Z)
    else:
        _linear_loops(W, b, A, Z)


@njit(cache=True, fastmath=FASTMATH)
def _linear_loops_wide(W, b, A, Z):
    """_linear_loops in 64-byte vectors where the CPU has AVX-512."""
    wide_vectors()
    _linear_loops(W, b, A, Z)


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _linear_loops(W, b, A, Z):
    m = A.shape[0]
    n_out, n_in = W.shape
    zero = Z.dtype.type(0)
    for e0 in range(0, m, EB):
        e1 = min(m, e0 + EB)
        for j in range(0, n_out, 3):
            j1 = min(j + 1, n_out - 1)
            j2 = min(j + 2, n_out - 1)
            w0 = W[j]
            w1 = W[j1]
            w2 = W[j2]
            for i in range(e0, e1, GROUP):
                if e1 - i <= 2:  # one or two examples left: 3 rows x 2 examples, not 4 with copies
                    _rows_by_two(w0, w1, w2, A[i], A[min(i + 1, e1 - 1)], b, j, j1, j2, Z[i], Z[min(i + 1, e1 - 1)])
                    continue
                i1 = min(i + 1, e1 - 1)
                i2 = min(i + 2, e1 - 1)
                i3 = min(i + 3, e1 - 1)
                x0 = A[i]
                x1 = A[i1]
                x2 = A[i2]
                x3 = A[i3]
                s00 = zero
                s01 = zero
                s02 = zero
                s10 = zero
                s11 = zero
                s12 = zero
                s20 = zero
                s21 = zero
                s22 = zero
                s30 = zero
                s31 = zero
                s32 = zero
                for k in range(n_in):
                    u0 = w0[k]
                    u1 = w1[k]
                    u2 = w2[k]
                    p = x0[k]
                    s00 += u0 * p
                    s01 += u1 * p
                    s02 += u2 * p
                    p = x1[k]
                    s10 += u0 * p
                    s11 += u1 * p
                    s12 += u2 * p
                    p = x2[k]
                    s20 += u0 * p
                    s21 += u1 * p
                    s22 += u2 * p
                    p = x3[k]
                    s30 += u0 * p
                    s31 += u1 * p
                    s32 += u2 * p
                # A duplicated row or example is stored first and then overwritten by the real one.
                Z[i3, j2] = s32 + b[j2]
                Z[i3, j1] = s31 + b[j1]
                Z[i3, j] = s30 + b[j]
                Z[i2, j2] = s22 + b[j2]
                Z[i2, j1] = s21 + b[j1]
                Z[i2, j] = s20 + b[j]
                Z[i1, j2] = s12 + b[j2]
                Z[i1, j1] = s11 + b[j1]
                Z[i1, j] = s10 + b[j]
                Z[i, j2] = s02 + b[j2]
                Z[i, j1] = s01 + b[j1]
                Z[i, j] = s00 + b[j]


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _rows_by_two(w0, w1, w2, x0, x1, b, j, j1, j2, z0, z1):
    """linear's last one or two examples (x1 may be x0 again, z1 then z0): 3 rows x 2 examples in one pass."""
    zero = z0.dtype.type(0)
    s00 = zero
    s01 = zero
    s02 = zero
    s10 = zero
    s11 = zero
    s12 = zero
    for k in range(w0.shape[0]):
        u0 = w0[k]
        u1 = w1[k]
        u2 = w2[k]
        p = x0[k]
        s00 += u0 * p
        s01 += u1 * p
        s02 += u2 * p
        p = x1[k]
        s10 += u0 * p
        s11 += u1 * p
        s12 += u2 * p
    # a duplicated row or example is stored first and then overwritten by the real one
    z1[j2] = s12 + b[j2]
    z1[j1] = s11 + b[j1]
    z1[j] = s10 + b[j]
    z0[j2] = s02 + b[j2]
    z0[j1] = s01 + b[j1]
    z0[j] = s00 + b[j]


@njit(cache=True, fastmath=FASTMATH)
def _matvec(W, b, x, z):
    """z[j] = b[j] + sum_k W[j, k] x[k]: linear for one example, 4 rows of W per pass over x."""
    n_out, n_in = W.shape
    zero = z.dtype.type(0)
    for j in range(0, n_out, 4):
        j1 = min(j + 1, n_out - 1)
        j2 = min(j + 2, n_out - 1)
        j3 = min(j + 3, n_out - 1)
        w0 = W[j]
        w1 = W[j1]
        w2 = W[j2]
        w3 = W[j3]
        s0 = zero
        s1 = zero
        s2 = zero
        s3 = zero
        for k in range(n_in):
            p = x[k]
            s0 += w0[k] * p
            s1 += w1[k] * p
            s2 += w2[k] * p
            s3 += w3[k] * p
        z[j3] = s3 + b[j3]
        z[j2] = s2 + b[j2]
        z[j1] = s1 + b[j1]
        z[j] = s0 + b[j]


def tile_add_outer(C, alpha, D, A):
    """add_outer in register tiles (``kernels.tiles``): C += alpha D^T A, C and A with contiguous rows.

    This body is the same product in NumPy, for Python callers and NUMBA_DISABLE_JIT=1.
    """
    C += alpha * (D.T @ A)


@overload(tile_add_outer)
def _tile_add_outer_compiled(C, alpha, D, A):
    width = columns(C.dtype.bitwidth // 8)

    def impl(C, alpha, D, A):
        m, K = A.shape
        a = C.dtype.type(alpha)
        step = TILE_LONG_BLOCK if K >= LONG_INPUTS else TILE_BLOCK
        for i0 in range(0, m, step):
            i1 = min(m, i0 + step)
            for k0 in range(0, K, width):
                if K - k0 >= width:
                    _strip(C, D, A, k0, i0, i1, a)
                else:
                    _edge_strip(C, D, A, k0, i0, i1, a, K - k0)

    return impl


@njit(cache=True, inline="always")
def _strip(C, D, A, k0, i0, i1, a):
    """The tiles of one strip of columns k0 .. k0 + width of C, over the examples i0 .. i1."""
    n = C.shape[0]
    j0 = 0
    if WIDE:
        while j0 + WIDE_TILE_ROWS <= n:
            tile_12(C, D, A, j0, k0, i0, i1, a)
            j0 += WIDE_TILE_ROWS
    while j0 + TILE_ROWS <= n:
        tile_6(C, D, A, j0, k0, i0, i1, a)
        j0 += TILE_ROWS
    rest = n - j0
    if rest == 1:
        tile_1(C, D, A, j0, k0, i0, i1, a)
    elif rest == 2:
        tile_2(C, D, A, j0, k0, i0, i1, a)
    elif rest == 3:
        tile_3(C, D, A, j0, k0, i0, i1, a)
    elif rest == 4:
        tile_4(C, D, A, j0, k0, i0, i1, a)
    elif rest == 5:
        tile_5(C, D, A, j0, k0, i0, i1, a)


@njit(cache=True, inline="always")
def _edge_strip(C, D, A, k0, i0, i1, a, cols):
    """_strip for the last cols columns of C, fewer than a tile's width: masked tiles."""
    n = C.shape[0]
    j0 = 0
    if WIDE:
        while j0 + WIDE_TILE_ROWS <= n:
            edge_12(C, D, A, j0, k0, i0, i1, a, cols)
            j0 += WIDE_TILE_ROWS
    while j0 + TILE_ROWS <= n:
        edge_6(C, D, A, j0, k0, i0, i1, a, cols)
        j0 += TILE_ROWS
    rest = n - j0
    if rest == 1:
        edge_1(C, D, A, j0, k0, i0, i1, a, cols)
    elif rest == 2:
        edge_2(C, D, A, j0, k0, i0, i1, a, cols)
    elif rest == 3:
        edge_3(C, D, A, j0, k0, i0, i1, a, cols)
    elif rest == 4:
        edge_4(C, D, A, j0, k0, i0, i1, a, cols)
    elif rest == 5:
        edge_5(C, D, A, j0, k0, i0, i1, a, cols)


@njit(cache=True, fastmath=FASTMATH)
def add_outer(C, alpha, D, A):
    """C[j, k] += alpha * sum_i D[i, j] A[i, k]: C += alpha D^T A.

    C is (n, K) and C-contiguous; A is (m, K) with contiguous rows; D is (m, n)
    with any strides (pass ``X.T`` to multiply by X instead of X^T).

    Every route reads D through its strides, and gets it as an array of any layout (``views.any_layout``):
    the update's C-ordered deltas, backprop's transposed ones and the threads' ranges of columns share one
    compiled copy of each route, and the transpose is never copied.
    """
    m = A.shape[0]
    n, K = C.shape
    if add_outer_goes_to_blas(C, D, A):
        blas_add_outer(C, alpha, any_layout(D), A)
    elif add_outer_takes_tiles(m, n, K, C.itemsize) & rows_contiguous(C) & rows_contiguous(A):
        tile_add_outer(C, alpha, any_layout(D), A)
    else:
        add_outer_loops(C, alpha, any_layout(D), A)


@njit(cache=True, fastmath=FASTMATH)
def add_outer_loops(C, alpha, D, A):
    """add_outer in the register-blocked loops: 3 rows of C from 4 examples per pass."""
    if C.shape[1] >= WIDE_INNER:
        _add_outer_loops_wide(C, alpha, D, A)
    else:
        _add_outer_loops(C, alpha, D, A)


@njit(cache=True, fastmath=FASTMATH)
def _add_outer_loops_wide(C, alpha, D, A):
    """_add_outer_loops in 64-byte vectors where the CPU has AVX-512."""
    wide_vectors()
    _add_outer_loops(C, alpha, D, A)


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _add_outer_loops(C, alpha, D, A):
    m = A.shape[0]
    n, K = C.shape
    m4 = m - m % 4
    kc = (K + KC - 1) // KC  # chunks
    kc = (K + kc - 1) // kc  # columns per chunk, balanced
    for k0 in range(0, K, kc):
        k1 = min(K, k0 + kc)
        j = 0
        while j + 3 <= n:
            c0 = C[j, k0:k1]
            c1 = C[j + 1, k0:k1]
            c2 = C[j + 2, k0:k1]
            for i in range(0, m4, 4):
                x0 = A[i, k0:k1]
                x1 = A[i + 1, k0:k1]
                x2 = A[i + 2, k0:k1]
                x3 = A[i + 3, k0:k1]
                a0 = alpha * D[i, j]
                a1 = alpha * D[i, j + 1]
                a2 = alpha * D[i, j + 2]
                b0 = alpha * D[i + 1, j]
                b1 = alpha * D[i + 1, j + 1]
                b2 = alpha * D[i + 1, j + 2]
                d0 = alpha * D[i + 2, j]
                d1 = alpha * D[i + 2, j + 1]
                d2 = alpha * D[i + 2, j + 2]
                e0 = alpha * D[i + 3, j]
                e1 = alpha * D[i + 3, j + 1]
                e2 = alpha * D[i + 3, j + 2]
                for k in range(k1 - k0):
                    p = x0[k]
                    q = x1[k]
                    r = x2[k]
                    s = x3[k]
                    c0[k] += a0 * p + b0 * q + d0 * r + e0 * s
                    c1[k] += a1 * p + b1 * q + d1 * r + e1 * s
                    c2[k] += a2 * p + b2 * q + d2 * r + e2 * s
            i = m4
            if m - i >= 2:  # two of the remaining examples in one pass over the rows of C
                x0 = A[i, k0:k1]
                x1 = A[i + 1, k0:k1]
                a0 = alpha * D[i, j]
                a1 = alpha * D[i, j + 1]
                a2 = alpha * D[i, j + 2]
                b0 = alpha * D[i + 1, j]
                b1 = alpha * D[i + 1, j + 1]
                b2 = alpha * D[i + 1, j + 2]
                for k in range(k1 - k0):
                    p = x0[k]
                    q = x1[k]
                    c0[k] += a0 * p + b0 * q
                    c1[k] += a1 * p + b1 * q
                    c2[k] += a2 * p + b2 * q
                i += 2
            if i < m:
                x0 = A[i, k0:k1]
                a0 = alpha * D[i, j]
                a1 = alpha * D[i, j + 1]
                a2 = alpha * D[i, j + 2]
                for k in range(k1 - k0):
                    p = x0[k]
                    c0[k] += a0 * p
                    c1[k] += a1 * p
                    c2[k] += a2 * p
            j += 3
        while j < n:
            c0 = C[j, k0:k1]
            for i in range(0, m4, 4):
                x0 = A[i, k0:k1]
                x1 = A[i + 1, k0:k1]
                x2 = A[i + 2, k0:k1]
                x3 = A[i + 3, k0:k1]
                a0 = alpha * D[i, j]
                b0 = alpha * D[i + 1, j]
                d0 = alpha * D[i + 2, j]
                e0 = alpha * D[i + 3, j]
                for k in range(k1 - k0):
                    c0[k] += a0 * x0[k] + b0 * x1[k] + d0 * x2[k] + e0 * x3[k]
            for i in range(m4, m):
                x0 = A[i, k0:k1]
                a0 = alpha * D[i, j]
                for k in range(k1 - k0):
                    c0[k] += a0 * x0[k]
            j += 1
