"""The compiled half of several threads in one epoch: each thread's share of synchronous mini-batch SGD.

Synchronous mode (``minibatch_part``, one call per thread; ``fastnn.threads`` starts the
threads) computes exactly what ``sgd.minibatch_epoch`` computes, with the work of every mini-batch split
between the threads. Per mini-batch:

1. the threads copy the batch's rows into a shared buffer, a chunk of rows each (up to PRIVATE_ROWS
   examples a batch, each thread the whole batch into a buffer of its own);
2. barrier; they compute the first hidden layer (the big first weight matrix
   against the whole batch), a chunk of neurons each (a thread's share in one chunk
   up to SHARE_NEURONS neurons or where that product goes to BLAS: ``forward_chunk``),
   every chunk into a contiguous block of its own in a shared buffer;
3. barrier; each thread runs the layers above, forward and backward down to the
   first layer's delta, for its own rows of the batch (examples), in buffers of its
   own, and copies those rows' activations and deltas into the whole batch's blocks
   in the shared buffer S (both threads used to run the whole batch here alike:
   paired two-thread epochs take 0.920 [0.909, 0.923] of the whole epoch's time
   at [784,30,30,30,30,10] batch 20; at [784,300,10] batch 100 0.988 [0.980, 0.996]
   in one run and 1.006 [0.989, 1.024] in another, within the noise;
   bench/ab-threads-rows.md);
4. barrier: every thread has read this batch's weights; they update the first
   layer a chunk of neurons each (a thread's share in one chunk where that product
   goes to BLAS), and each its own fixed rows of the small layers, from S.

Chunks are claimed from an atomic counter, thread 0 from the front and thread 1
from the back, so each keeps the same rows while the cores run at the same
speed, and a core slowed by other work hands part of its share to the other where the
share is several claims (rows of the batch; a first layer of more than SHARE_NEURONS
neurons on the loops; the update's chunks of 6 rows). A share claimed whole is all or
nothing: the other thread takes it only if it is still unclaimed when its own is done.
No thread writes what another reads in the same phase. The layers above the first run on about half
of the batch's rows in each thread (phase 3), and the routes of their products depend on the number of
rows, so they can round differently from the serial kernel's (1e-16 in float64, 1e-7 in float32 was seen);
and so can the first layer's forward pass where
the serial kernel sends it to BLAS (``linear``: from ``Routes.blas_linear_block`` examples into 64 neurons)
and two threads do not hand the epoch to BLAS (``fastnn.threads.blas_splits``): there a claim either
stays on linear's loops or, where a thread's share goes to BLAS itself, is that share, one BLAS product
over fewer neurons, so the two agree up to round-off there. The batch buffer is
double-buffered (even and odd batches): a thread may gather the next batch
while the other still updates from this one, but cannot get two batches ahead.

The threads are ordinary Python threads (started by ``fastnn.threads``), each running one call
of a compiled function that releases the GIL, so they run at once whatever Numba's threading
layer; they meet at spin barriers on an atomic counter. Spinning needs a core
per thread: ``fastnn.checks.check_threads`` refuses more threads than the process has cores.

Hogwild mode (``fastnn.threads.hogwild_epoch``) needs nothing here: it runs the serial
epoch in every thread on the shared weights.
"""
import platform
import threading  # only for the pure-Python twins of the atomics (NUMBA_DISABLE_JIT=1)
import time

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from .activations import activate
from .backprop import backward, gather_rows, prefetch_rows
from .costs import block_loss, check_training_codes, loss_value, new_loss
from .denormals import flush_denormals, restore_denormals
from .gemm import add_outer_takes_blas, add_outer_takes_tiles, linear, linear_takes_blas
from .layout import act_offsets, alloc_acts, biases, block, weights
from .sgd import gradient_scratch
from .update import check_rule, update_rows
from .views import view2d

# Slots of the shared int64 array ``sync``, each on a cache line of its own.
COUNTER = 0  # barrier arrivals so far, summed over threads
ABORT = 8  # != 0: a thread failed, the others stop waiting
GATHER, FORWARD, UPDATE = 16, 24, 32  # chunks claimed so far in each shared phase
SYNC_SIZE = 40

GATHER_CHUNK = 4  # rows of the batch per claim
PRIVATE_ROWS = 32  # up to this many examples a batch, each thread gathers the whole batch into a buffer of its
# own instead of a share into Xs: the forward shares and the update each read every row of the batch, and the
# half that the other core had gathered came through the shared cache twice a batch (two-thread epochs, batch
# 10: 0.829 of the time at [784,30,10], batch 20: 0.953; level at 50; slower from 100 on, where the copies
# cost more than they save: bench/ab-private-gather.md)
FORWARD_CHUNK_MIN, FORWARD_CHUNK_MAX = 6, 48  # neurons per claim in the forward pass of a first layer of more
# than SHARE_NEURONS neurons on linear's loops (or of any width on one thread): below gemm.BLAS_LINEAR_ROWS, so
# such a claim never goes to BLAS; where a thread's share would, the share is the claim (forward_chunk)
SHARE_NEURONS = 300  # up to this many neurons, a first layer's forward pass is claimed a share per thread
# (measured on AMD Zen 4 only: bench/ab-forward-shares.md)
UPDATE_CHUNK = 6  # neurons per claim in the first layer's update (add_outer's 3-row blocks), or a
# share per thread where that share's product goes to register tiles or BLAS

_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


def _int64_slot(context, builder, sig, args):
    aryty = sig.args[0]
    ary = context.make_array(aryty)(context, builder, args[0])
    return cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]])


def _is_int64_vector(arr):
    return isinstance(arr, types.Array) and arr.dtype == types.int64 and arr.ndim == 1


# The Python twins of the atomics below (for NUMBA_DISABLE_JIT=1) serialise on one lock;
# compiled code gets the intrinsics through the overloads (inlined, as views.view2d's).
_ATOMIC = threading.Lock()


def _fetch_add(arr, i, v):
    """Atomically arr[i] += v (sequentially consistent); returns the old value."""
    with _ATOMIC:
        old = arr[i]
        arr[i] = old + v
    return old


def _load_acquire(arr, i):
    """arr[i], read atomically: everything written before a release of it is visible after."""
    with _ATOMIC:
        return arr[i]


def _spin_pause():
    """The x86 ``pause`` hint inside a spin loop (nothing elsewhere); in Python, let another thread run."""
    time.sleep(0)


@overload(_fetch_add, inline="always")
def _fetch_add_compiled(arr, i, v):
    if _is_int64_vector(arr):
        return lambda arr, i, v: _atomic_fetch_add(arr, i, v)
    return None


@overload(_load_acquire, inline="always")
def _load_acquire_compiled(arr, i):
    if _is_int64_vector(arr):
        return lambda arr, i: _atomic_load_acquire(arr, i)
    return None


@overload(_spin_pause, inline="always")
def _spin_pause_compiled():
    return lambda: _pause()


@intrinsic
def _atomic_fetch_add(typingctx, arr, i, v):
    sig = types.int64(arr, types.intp, types.int64)

    def codegen(context, builder, sig, args):
        return builder.atomic_rmw("add", _int64_slot(context, builder, sig, args), args[2], "seq_cst")
    return sig, codegen


@intrinsic
def _atomic_load_acquire(typingctx, arr, i):
    sig = types.int64(arr, types.intp)

    def codegen(context, builder, sig, args):
        return builder.load_atomic(_int64_slot(context, builder, sig, args), "acquire", 8)
    return sig, codegen


@intrinsic
def _pause(typingctx):
    sig = types.void()

    def codegen(context, builder, sig, args):
        if _X86:
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), []),
                                                "llvm.x86.sse2.pause")
            builder.call(fn, [])
        return context.get_dummy_value()
    return sig, codegen


@njit(cache=True)
def barrier(sync, nthreads, k):
    """Barrier number k (1, 2, ... in every thread): wait until all nthreads threads arrive.

    Returns False, without waiting further, if another thread has set sync[ABORT].
    """
    _fetch_add(sync, COUNTER, 1)
    target = k * nthreads
    while _load_acquire(sync, COUNTER) < target:
        if _load_acquire(sync, ABORT) != 0:
            return False
        _spin_pause()
    return True


@njit(cache=True)
def own_rows(n, tid, nthreads):
    """The rows [lo, hi) of an n-row matrix that thread tid owns."""
    return n * tid // nthreads, n * (tid + 1) // nthreads


@njit(cache=True)
def next_chunk(sync, slot, claims, n_chunks, tid, nthreads):
    """The next of n_chunks chunks of a shared phase for thread tid, or -1 when all are taken.

    Every thread claims until it fails once, so one use of a phase makes exactly
    n_chunks + nthreads claims on sync[slot] and the counter needs no reset. ``claims`` is
    this thread's record of the phase, [base, taken]: base is that sum over the phase's
    earlier uses, kept alike by every thread, and taken how many chunks this thread has had
    in this use. The failing claim ends the use: it moves base on and sets taken to 0.
    With two threads, thread 0 takes chunks from the front and thread 1 from the back: while
    their speeds hold, each keeps the same rows (and their cache lines) from batch to batch,
    and when one core slows down, the other takes over part of its share.
    """
    c = _fetch_add(sync, slot, 1) - claims[0]
    if c >= n_chunks:
        claims[0] += n_chunks + nthreads
        claims[1] = 0
        return -1
    taken = claims[1]
    claims[1] += 1
    if nthreads == 2:
        return taken if tid == 0 else n_chunks - 1 - taken
    return c


@njit(cache=True)
def _update_layer_rows(rule, hyper, params, velocity, w_off, b_off, sizes, l, lo, hi, D, A_prev, G):
    """update.update_rows on rows [lo, hi) of layer l, from the block's deltas D of that layer."""
    update_rows(rule, hyper, weights(params, w_off, sizes, l)[lo:hi], biases(params, b_off, sizes, l)[lo:hi],
                weights(velocity, w_off, sizes, l)[lo:hi], biases(velocity, b_off, sizes, l)[lo:hi],
                D[:, lo:hi], A_prev, G)


@njit(cache=True)
def shared_blocks(sizes, m_max):
    """The shape of ``minibatch_part``'s buffer S: row 0 the whole batch's activations of layers 1 and up
    (the output layer's block is laid out but not used), row 1 their deltas, each row in the layout of
    ``layout.act_offsets(sizes, m_max, 0)``."""
    return 2, act_offsets(sizes, m_max, np.int64(0))[1]


@njit(cache=True, inline="always")
def _copy_rows(src, dst, r0):
    """dst[r0 + i] = src[i] for every row i of src. A loop, inlined: the slice assignment
    ``block(SD, s_off, sizes, l, m)[r0:r1] = block(deltas, a_off, sizes, l, mt)`` in _minibatch_part lost its
    store in Numba's own IR (numba 0.68.1: the typed IR still builds both views but has no setitem; the same
    line in a small function stored). Our reading of Numba's source: its dead-code pass does not count a view
    returned by a call as an alias of the array it was made from, so a store into such a temporary view looks
    dead. Here the row views stay live across the loop. tests/test_parallel.py's parity tests fail if the
    copy is lost."""
    for i in range(src.shape[0]):
        d, s = dst[r0 + i], src[i]
        for j in range(src.shape[1]):
            d[j] = s[j]


@njit(cache=True)
def forward_chunk(n1, m_max, nthreads, n_in, itemsize):
    """Neurons per claim in the forward pass of a first hidden layer of n1 neurons from n_in inputs (itemsize
    bytes an entry), for batches of up to m_max examples split between nthreads threads: a thread's share of
    ceil(n1 / nthreads) neurons for a layer of up to SHARE_NEURONS, or, wider, where ``linear`` sends the
    share's product to BLAS (``gemm.linear_takes_blas``: from 50 examples into 64 neurons or more on an AVX-512
    CPU; on Zen 4 in float32 shares of fewer than 256 neurons from 512 inputs or more stay on the loops, from
    512 examples too while BLAS runs on one thread, as it does for this split; from 200 examples on an AVX2
    CPU), else ``_forward_chunk_loops``'s claims for linear's loops.

    Every claim reads the whole batch's rows again: a share each reads them once per thread. On the loops,
    paired two-thread epochs of the split (bench/ab.py --kernel threads; at batch 1000 [784,100,10] and
    [784,300,10] ``fastnn.threads`` hands the epoch to BLAS on both cores instead) with a share per thread
    against claims of an eighth of the layer (6 to 48 neurons) took 0.94-0.95 of the time at [784,30,10]
    batch 20 to 1000 (float64 0.93-0.95), 0.97-0.98 at [784,100,10] batch 20 to 1000, 0.99 at [784,200,10]
    batch 100, 0.97 at [784,300,10] batch 1000 (level at 20 and 100); with a share at every width, 0.95 at
    [784,500,10] batch 20 but 1.03 at [784,600,10] batch 50 (bench/ab-forward-shares.md, AMD Zen 4): hence
    SHARE_NEURONS. With a share each, a core slowed by other work can hand the other a whole share, no less:
    under steady contention on one core this phase follows the slower core, as the update's shares already did.

    In claims for the loops, the forward pass of [784,1000,10] at batch 100 ran at linear's loop rate
    (about 50 GFLOP/s here, BLAS about 80), which is why two threads used to hand such shapes to BLAS on
    both cores; in shares, the own split is level with that or faster (bench/split-probe.md). A share is
    not split further: each BLAS call packs the batch's rows again (as for the update's shares)."""
    share = (n1 + nthreads - 1) // nthreads
    if nthreads > 1 and (n1 <= SHARE_NEURONS or linear_takes_blas(m_max, share, n_in, itemsize)):
        return share
    return _forward_chunk_loops(n1)


@njit(cache=True)
def _forward_chunk_loops(n1):
    """Neurons per claim in the forward pass of a first hidden layer of n1 neurons (wider than SHARE_NEURONS,
    or one thread): an eighth of the layer, so that a core slowed by other work can hand some claims to the
    other, in multiples of 6 (``linear``'s blocks of 3 rows, twice), at least FORWARD_CHUNK_MIN and at most
    FORWARD_CHUNK_MAX (so wider layers get more claims than eight: 21 at 1000 neurons).

    Measured: speed-up of two threads over one, medians of 12 paired epochs (5,000 examples,
    float32). At [784,1000,10] batch 100, claims of 24 gave 1.76x and 48 1.73x, inside each
    other's interquartile range (1.63-1.82 and 1.68-1.81). (Claims of 24 to 48 neurons at [784,300,10]
    batch 100, and of 6 to 24 at [784,100,10] batch 20, were measured here too, 1.71x and 1.52-1.58x, before
    those layers took a share per thread: ``forward_chunk``.)"""
    return min(FORWARD_CHUNK_MAX, max(FORWARD_CHUNK_MIN, n1 // 8 // 6 * 6))


@njit(cache=True)
def forward_blocks(n1, m_max, itemsize, nthreads, n_in):
    """The shape of ``minibatch_part``'s buffer HB for nthreads threads (a first hidden layer of n1 neurons from
    n_in inputs): one row per claim of the forward pass, holding that chunk's activations as a contiguous
    (m, chunk) block, each row a whole number of cache lines."""
    chunk = forward_chunk(n1, m_max, nthreads, n_in, itemsize)
    line = 64 // itemsize
    return (n1 + chunk - 1) // chunk, (m_max * chunk + line - 1) // line * line


@njit(cache=True, inline="always")
def _forward_block(HB, c, m, rows):
    """Claim c's activations in HB, an (m, rows) C-contiguous block."""
    return view2d(HB[c], 0, m, rows)


@njit(cache=True, nogil=True)
def minibatch_part(tid, nthreads, sync, Xs, HB, S, params, velocity, w_off, b_off, sizes, hidden, output, cost,
                   X, Y, order, batch_size, rule, hyper):
    """Thread tid's share of a synchronous mini-batch epoch (see the module docstring).

    Shared work buffers, 64-byte aligned so that no cache line holds two threads' parts (but S's, below):
    Xs (2, batch_size, sizes[0]) the gathered batch, on even and odd batches (unused, and may have no rows,
    where batches of up to PRIVATE_ROWS examples are gathered by each thread for itself);
    HB (``forward_blocks``) the first hidden layer's activations, a block per claim of the forward pass.
    A block of its own, rather than columns of one (batch, neurons) array or rows of its transpose: the
    register-blocked loops of ``linear`` ran the forward pass 15-20% slower writing into such strided
    views (one thread, [784,300,10] batch 100: 38.8 ms an epoch into the transpose, 33.0 ms into a
    contiguous block). Two threads went from 1.50x to 1.71x over one at that shape (medians of 12
    paired epochs of 5,000 examples).

    Denormals are flushed to zero in this thread while it runs (``kernels.denormals``).

    S (``shared_blocks``) the whole batch's activations and deltas of the layers above the first, each thread
    writing its own rows in phase 3 (where two threads' rows meet inside a block, they may share a line).

    Returns the summed cost of this thread's rows of every batch: the threads' returns add up to
    ``sgd.minibatch_epoch``'s, up to round-off (the sum so far if another thread failed).
    """
    check_rule(rule)
    check_training_codes(hidden, output, cost)
    m_max = min(batch_size, max(len(order), 1))  # the largest batch
    claims, length = forward_blocks(sizes[1], m_max, X.itemsize, nthreads, sizes[0])
    if HB.shape[0] < claims or HB.shape[1] < length:  # the claims would write past its rows
        raise ValueError("HB is smaller than forward_blocks gives for this layer, batch and number of threads")
    rows, length = shared_blocks(sizes, m_max)
    if S.shape[0] < rows or S.shape[1] < length:
        raise ValueError("S is smaller than shared_blocks gives for these layers and batch")
    state = flush_denormals()
    loss = _minibatch_part(tid, nthreads, sync, Xs, HB, S, params, velocity, w_off, b_off, sizes, hidden, output, cost,
                           X, Y, order, batch_size, m_max, rule, hyper)
    restore_denormals(state)
    return loss


@njit(cache=True)
def _minibatch_part(tid, nthreads, sync, Xs, HB, S, params, velocity, w_off, b_off, sizes, hidden, output, cost,
                    X, Y, order, batch_size, m_max, rule, hyper):
    """minibatch_part's work, its codes and buffers checked for batches of up to m_max examples."""
    L = len(sizes) - 1
    own_max = (m_max + nthreads - 1) // nthreads  # the most rows own_rows gives a thread
    acts, a_off = alloc_acts(sizes, own_max, X)  # this thread's rows' activations
    deltas, _ = alloc_acts(sizes, own_max, X)  # and deltas, same layout
    s_off, _ = act_offsets(sizes, m_max, np.int64(0))
    SA, SD = S[0], S[1]  # the whole batch's activations and deltas, layers 1 and up (shared_blocks)
    Yb = np.empty((m_max, Y.shape[1]), dtype=Y.dtype)
    G = gradient_scratch(sizes, rule, X)  # for the rules that need the gradient itself
    n1 = sizes[1]
    W0 = weights(params, w_off, sizes, 0)
    b0 = biases(params, b_off, sizes, 0)
    fwd_chunk = forward_chunk(n1, m_max, nthreads, sizes[0], X.itemsize)
    n_fwd = (n1 + fwd_chunk - 1) // fwd_chunk
    upd_chunk = UPDATE_CHUNK
    share = (n1 + nthreads - 1) // nthreads
    if add_outer_takes_tiles(m_max, share, sizes[0], X.itemsize):
        # a share per thread in register tiles, which read each strip of Xm once per block of examples
        # for all their rows; chunks of 6 rows would read the whole batch again for every chunk
        upd_chunk = share
    elif add_outer_takes_blas(m_max, share, sizes[0], X.itemsize):
        # a share per thread, each one product in BLAS: 1.65x over one thread at [784,1000,10] with
        # batch 100 where chunks of 6 rows gave 1.53x; chunks of BLAS size gave 1.39x (each packs Xm again)
        upd_chunk = (share + 5) // 6 * 6
    n_upd = (n1 + upd_chunk - 1) // upd_chunk
    k = 0  # barriers passed
    batch = 0
    loss = new_loss()
    # [base, taken] of the phases GATHER, FORWARD, UPDATE, for next_chunk
    gathered, forwarded, updated = np.zeros(2, np.int64), np.zeros(2, np.int64), np.zeros(2, np.int64)
    private = m_max <= PRIVATE_ROWS  # each thread gathers the whole batch into Xp, its own copy
    Xp = np.empty((m_max if private else 0, X.shape[1]), dtype=X.dtype)
    for start in range(0, len(order), batch_size):
        m = min(batch_size, len(order) - start)
        if private:
            Xm = gather_rows(X, order, start, m, Xp)
            prefetch_rows(X, order, start + m, min(batch_size, len(order) - start - m))
        else:
            # 1. rows of the batch, a chunk at a time; 2. neurons of the first hidden layer, likewise
            Xm = Xs[batch % 2, :m]
            n_rows = (m + GATHER_CHUNK - 1) // GATHER_CHUNK
            c = next_chunk(sync, GATHER, gathered, n_rows, tid, nthreads)
            while c >= 0:
                lo, hi = c * GATHER_CHUNK, min(m, (c + 1) * GATHER_CHUNK)
                gather_rows(X, order, start, hi, Xm, lo)
                # the same rows of the next batch, likely this thread's again
                prefetch_rows(X, order, start + batch_size, min(hi, len(order) - start - batch_size), lo)
                c = next_chunk(sync, GATHER, gathered, n_rows, tid, nthreads)
        Ym = gather_rows(Y, order, start, m, Yb)
        k += 1
        if not barrier(sync, nthreads, k):
            return loss_value(loss)
        c = next_chunk(sync, FORWARD, forwarded, n_fwd, tid, nthreads)
        while c >= 0:
            lo, hi = c * fwd_chunk, min(n1, (c + 1) * fwd_chunk)
            Hc = _forward_block(HB, c, m, hi - lo)
            linear(W0[lo:hi], b0[lo:hi], Xm, Hc, acts[:0])  # an empty scratch: a chunk stays off the tiles
            activate(Hc, hidden)
            c = next_chunk(sync, FORWARD, forwarded, n_fwd, tid, nthreads)
        k += 1
        if not barrier(sync, nthreads, k):
            return loss_value(loss)
        # 3. the layers above the first, forward and backward, each thread on its own rows of the batch, whose
        # activations and deltas it then copies into the whole batch's blocks in S
        r0, r1 = own_rows(m, tid, nthreads)
        mt = r1 - r0
        if mt > 0:
            H = block(acts, a_off, sizes, 1, mt)
            for c in range(n_fwd):
                lo, hi = c * fwd_chunk, min(n1, (c + 1) * fwd_chunk)
                H[:, lo:hi] = _forward_block(HB, c, m, hi - lo)[r0:r1]
            Yt = Ym[r0:r1]
            backward(params, w_off, b_off, sizes, hidden, output, cost, H, Yt, acts, a_off, deltas, np.int64(1))
            block_loss(block(acts, a_off, sizes, L, mt), Yt, cost, loss)
            for l in range(1, L + 1):
                _copy_rows(block(deltas, a_off, sizes, l, mt), block(SD, s_off, sizes, l, m), r0)
                if l < L:
                    _copy_rows(block(acts, a_off, sizes, l, mt), block(SA, s_off, sizes, l, m), r0)
        k += 1
        if not barrier(sync, nthreads, k):
            return loss_value(loss)
        # 4. rows of the first layer a chunk at a time, and this thread's rows of the layers above
        c = next_chunk(sync, UPDATE, updated, n_upd, tid, nthreads)
        while c >= 0:
            _update_layer_rows(rule, hyper, params, velocity, w_off, b_off, sizes, 0, c * upd_chunk,
                               min(n1, (c + 1) * upd_chunk), block(SD, s_off, sizes, 1, m), Xm, G)
            c = next_chunk(sync, UPDATE, updated, n_upd, tid, nthreads)
        for l in range(1, L):
            lo, hi = own_rows(sizes[l + 1], tid, nthreads)
            if hi > lo:
                _update_layer_rows(rule, hyper, params, velocity, w_off, b_off, sizes, l, lo, hi,
                                   block(SD, s_off, sizes, l + 1, m), block(SA, s_off, sizes, l, m), G)
        batch += 1
    return loss_value(loss)
