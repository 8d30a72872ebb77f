"""Probe for issue 20: would BLAS make the large mini-batch epochs faster?

    OPENBLAS_NUM_THREADS=1 FASTNN_DATA=DIR python bench/blas_probe.py --out bench/blas-probe.md

For [784, w, 10] at each width and batch size, one epoch (float32, sigmoid, quadratic cost,
plain SGD, eta 3.0, same start weights and example order) is timed three ways, interleaved
round by round so that a slow spell on the shared host hits all three alike:

- fastnn: ``kernels.sgd.minibatch_epoch`` (products in ``kernels/gemm.py``'s register-blocked loops);
- numba+BLAS: the same epoch written here in Numba with every product an ``np.dot``, which Numba
  hands to SciPy's BLAS (OpenBLAS); the gradient goes through a temporary, as np.dot cannot add
  into W;
- NumPy: ``bench/peers/numpy_vectorised.py``, the same products through NumPy's own OpenBLAS.

Each cell is the median over rounds (and the min); ratios are of the medians.

    python bench/blas_probe.py --products

times instead the two large products of a batch, the forward Z = A W^T + b (``gemm.linear``)
and the update W += alpha D^T A (``gemm.add_outer``), against sgemm called from Numba through
``numba_xxgemm`` (SciPy's BLAS; beta = 1 adds into W with no temporary) and NumPy; GFLOP/s.
"""
import argparse
import os
import sys
import time
from pathlib import Path

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402
from numba import njit, types  # noqa: E402
from numba.np.linalg import _BLAS  # noqa: E402

import fastnn  # noqa: E402
from fastnn import kernels  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ab import data  # noqa: E402
from peers import numpy_vectorised  # noqa: E402

WIDTHS = [30, 100, 300, 1000]
BATCHES = [100, 1000]


@njit(cache=False, fastmath={"nsz", "arcp", "contract", "afn", "reassoc"})
def blas_epoch(W1, b1, W2, b2, X, Y, order, batch_size, eta):
    """fastnn's mini-batch epoch for [n0, n1, n2], sigmoid, quadratic cost, SGD, with np.dot products."""
    one = X.dtype.type(1)
    n0, n1, n2 = X.shape[1], W1.shape[0], W2.shape[0]
    m_max = min(batch_size, len(order))
    Xb = np.empty((m_max, n0), X.dtype)
    Yb = np.empty((m_max, n2), X.dtype)
    for start in range(0, len(order), batch_size):
        m = min(batch_size, len(order) - start)
        if m != m_max:  # np.dot wants its operands contiguous: a short last batch gets its own
            Xb = np.empty((m, n0), X.dtype)
            Yb = np.empty((m, n2), X.dtype)
        for i in range(m):
            r = order[start + i]
            for k in range(n0):
                Xb[i, k] = X[r, k]
            for k in range(n2):
                Yb[i, k] = Y[r, k]
        H = np.dot(Xb, W1.T)
        for i in range(m):
            for j in range(n1):
                H[i, j] = one / (one + np.exp(-(H[i, j] + b1[j])))
        A = np.dot(H, W2.T)
        for i in range(m):
            for j in range(n2):
                A[i, j] = one / (one + np.exp(-(A[i, j] + b2[j])))
        D2 = (A - Yb) * A * (one - A)
        D1 = np.dot(D2, W2)
        for i in range(m):
            for j in range(n1):
                D1[i, j] *= H[i, j] * (one - H[i, j])
        s = X.dtype.type(eta / m)
        G2 = np.dot(D2.T.copy(), H)
        G1 = np.dot(D1.T.copy(), Xb)
        W2 -= s * G2
        W1 -= s * G1
        b2 -= s * D2.sum(axis=0)
        b1 -= s * D1.sum(axis=0)


_SGEMM = _BLAS().numba_xxgemm(types.float32)


@njit(cache=False)
def sgemm_linear(W, b, A, Z):
    """Z = A W^T + b through sgemm: Z^T = W A^T in BLAS's column-major terms, Z filled with b first."""
    m, n_in = A.shape
    n_out = W.shape[0]
    for i in range(m):
        for j in range(n_out):
            Z[i, j] = b[j]
    one = np.ones(1, np.float32)
    _SGEMM(ord("s"), ord("T"), ord("N"), n_out, m, n_in, one.ctypes, W.ctypes, n_in, A.ctypes, n_in,
           one.ctypes, Z.ctypes, n_out)


@njit(cache=False)
def sgemm_add_outer(C, alpha, D, A):
    """C += alpha D^T A through sgemm (beta = 1: no temporary)."""
    m, K = A.shape
    n = C.shape[0]
    al = np.empty(1, np.float32)
    al[0] = alpha
    one = np.ones(1, np.float32)
    _SGEMM(ord("s"), ord("N"), ord("T"), K, n, m, al.ctypes, A.ctypes, K, D.ctypes, n, one.ctypes, C.ctypes, K)


def products(rounds, out):
    """GFLOP/s of the two large products of a [784, w, 10] batch, fastnn's loops against sgemm and NumPy."""
    rng = np.random.default_rng(0)
    lines = [f"`python bench/blas_probe.py --products --rounds {rounds}` (OPENBLAS_NUM_THREADS=1): GFLOP/s of "
             f"one product, float32, median of {rounds} interleaved rounds (each round times a loop of >= 20 ms).",
             "", "| w | batch | linear: gemm.py | linear: sgemm | linear: NumPy | add_outer: gemm.py | "
             "add_outer: sgemm | add_outer: NumPy (temporary) |", "|---|---|---|---|---|---|---|---|"]
    for w in WIDTHS:
        for m in [10, 20, 50, 100, 1000]:
            A = rng.random((m, 784), dtype=np.float32)
            W = rng.standard_normal((w, 784), dtype=np.float32)
            b = rng.standard_normal(w, dtype=np.float32)
            Z = np.empty((m, w), np.float32)
            D = rng.standard_normal((m, w), dtype=np.float32) * np.float32(1e-3)
            alpha = np.float32(-1e-3)

            def np_linear():
                np.add(np.dot(A, W.T), b, out=Z)

            def np_outer():
                W.__isub__(np.float32(1e-3) * np.dot(D.T, A))

            fns = {"linear: gemm.py": lambda: kernels.gemm.linear(W, b, A, Z),
                   "linear: sgemm": lambda: sgemm_linear(W, b, A, Z),
                   "linear: NumPy": np_linear,
                   "add_outer: gemm.py": lambda: kernels.gemm.add_outer(W, alpha, D, A),
                   "add_outer: sgemm": lambda: sgemm_add_outer(W, alpha, D, A),
                   "add_outer: NumPy": np_outer}
            ref = A @ W.T + b
            for name in ("linear: gemm.py", "linear: sgemm"):
                fns[name]()
                np.testing.assert_allclose(Z, ref, rtol=1e-4, atol=1e-3)
            reps = max(1, int(20e6 / (2 * m * 784 * w)) * 10)
            t = {k: [] for k in fns}
            for _ in range(rounds):
                for name, f in fns.items():
                    f()
                    t0 = time.perf_counter()
                    for _ in range(reps):
                        f()
                    t[name].append((time.perf_counter() - t0) / reps)
            gf = {k: 2 * m * 784 * w / np.median(v) / 1e9 for k, v in t.items()}
            lines.append(f"| {w} | {m} | " + " | ".join(f"{gf[k]:.1f}" for k in fns) + " |")
            print(lines[-1], flush=True)
    if out:
        Path(out).write_text("\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="examples per timed epoch")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds per shape")
    parser.add_argument("--products", action="store_true", help="time the two large products instead of epochs")
    parser.add_argument("--out", help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    if args.products:
        return products(args.rounds, args.out)
    X0, y0, what = data(args.n)
    lines = [f"`{' '.join(['python bench/blas_probe.py'] + (argv if argv is not None else sys.argv[1:]))}`"
             f" (OPENBLAS_NUM_THREADS=1): one epoch of {args.n:,} {what}, float32, seconds, median of "
             f"{args.rounds} interleaved rounds (min in brackets).", "",
             "| network | batch | fastnn | numba+BLAS | NumPy | numba+BLAS / fastnn | NumPy / fastnn |",
             "|---|---|---|---|---|---|---|"]
    for w in WIDTHS:
        for b in BATCHES:
            sizes = [784, w, 10]
            net = fastnn.Network(sizes, cost="quadratic", init="large", dtype="float32", seed=0)
            X, Y, _ = net.check_data(X0, y0)
            order = np.random.default_rng(1).permutation(len(X))
            start = net.params.copy()
            args_k = net.kernel_args()[1:]
            opt = fastnn.Optimizer(3.0)
            hyper = opt.hyper(len(X), net.dtype)

            def run_fastnn(order=order):
                net.params[:] = start
                kernels.sgd.minibatch_epoch(net.params, net.params, *args_k, X, Y, order, b, opt.rule, hyper)
                return net.params.copy()

            def layers():
                net.params[:] = start
                return [w.copy() for w in net.weights], [v.copy() for v in net.biases]

            def run_blas(order=order):
                (W1, W2), (b1, b2) = layers()
                blas_epoch(W1, b1, W2, b2, X, Y, order, b, np.float32(3.0))
                return W1

            def run_numpy(order=order):
                ws, bs = layers()
                numpy_vectorised.epoch(ws, bs, X, Y, order, b, 3.0)
                return ws[0]

            # warm up (compile) and check the three compute the same first steps
            ref = run_fastnn(order[:64])
            W1_ref = ref[:w * 784].reshape(w, 784)
            for f in (run_blas, run_numpy):
                np.testing.assert_allclose(f(order[:64]), W1_ref, atol=1e-4)
            t = {"fastnn": [], "blas": [], "numpy": []}
            fns = {"fastnn": run_fastnn, "blas": run_blas, "numpy": run_numpy}
            for r in range(args.rounds):
                names = list(fns)[r % 3:] + list(fns)[:r % 3]
                for name in names:
                    t0 = time.perf_counter()
                    fns[name]()
                    t[name].append(time.perf_counter() - t0)
            med = {k: float(np.median(v)) for k, v in t.items()}
            mn = {k: min(v) for k, v in t.items()}
            lines.append(f"| {sizes} | {b} | {med['fastnn']:.4f} ({mn['fastnn']:.4f}) | {med['blas']:.4f} "
                         f"({mn['blas']:.4f}) | {med['numpy']:.4f} ({mn['numpy']:.4f}) | "
                         f"{med['blas'] / med['fastnn']:.2f} | {med['numpy'] / med['fastnn']:.2f} |")
            print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
