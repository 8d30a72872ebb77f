"""Probe: SciPy's bundled OpenBLAS against the scipy-openblas32 wheel's, on the kernels' BLAS products.

    python bench/openblas_probe.py --out bench/openblas-probe.md

The kernels called SciPy's BLAS (through Numba's ``numba_xxgemm``) until they called the OpenBLAS of the
``scipy-openblas32`` wheel directly (``kernels.gemm._load_openblas``). Both are the same build family,
of different releases. This times each library's ``cblas_sgemm`` through ctypes, one thread, on the
two products the kernels send to BLAS: the forward product Z^T = W A^T (+ the biases already in Z) and
the update C^T += alpha A^T D, with 784 inputs, for the benchmark widths and batch sizes. The libraries
alternate round by round, so a slow spell on the shared host hits both; each cell is the median GFLOP/s.
"""
import argparse
import ctypes
import os
import time
from pathlib import Path

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402
import scipy  # noqa: E402
from threadpoolctl import ThreadpoolController  # noqa: E402

from fastnn.kernels import gemm  # noqa: E402

SHAPES = [(100, 200), (100, 1000), (300, 100), (300, 1000), (1000, 100), (1000, 1000)]  # (neurons, examples)
COL_MAJOR, NO_TRANS, TRANS = 102, 111, 112


def libraries():
    """{label: (ctypes function cblas_sgemm, version)} for SciPy's OpenBLAS and the kernels'."""
    import scipy.linalg.cython_blas  # noqa: F401  loads SciPy's own copy
    scipy_dir = Path(scipy.__file__).resolve().parent.parent / "scipy.libs"
    versions = {Path(lib.filepath).resolve(): lib.version for lib in ThreadpoolController().lib_controllers}
    found = {}
    for label, path in [(f"SciPy {scipy.__version__}'s", str(sorted(scipy_dir.glob("libscipy_openblas*"))[0])),
                        ("scipy-openblas32's (the kernels')", gemm.OPENBLAS)]:
        fn = ctypes.CDLL(path).scipy_cblas_sgemm
        fn.restype = None
        i, f, p = ctypes.c_int, ctypes.c_float, ctypes.c_void_p
        fn.argtypes = [i, i, i, i, i, i, f, p, i, p, i, f, p, i]
        found[label] = (fn, versions.get(Path(path).resolve(), "?"))
    return found


def probe(rounds):
    rng = np.random.default_rng(0)
    libs = libraries()
    rows = []
    for n, m in SHAPES:
        K = 784
        A = rng.random((m, K), dtype=np.float32)
        W = rng.random((n, K), dtype=np.float32)
        D = rng.random((m, n), dtype=np.float32)
        Z = np.zeros((m, n), np.float32)
        flops = 2.0 * m * n * K
        reps = max(1, int(3e8 // flops))
        calls = {}
        for label, (fn, _) in libs.items():
            calls[(label, "forward")] = lambda fn=fn: fn(COL_MAJOR, TRANS, NO_TRANS, n, m, K, 1.0, W.ctypes.data, K,
                                                        A.ctypes.data, K, 1.0, Z.ctypes.data, n)
            calls[(label, "update")] = lambda fn=fn: fn(COL_MAJOR, NO_TRANS, TRANS, K, n, m, -1e-6, A.ctypes.data, K,
                                                       D.ctypes.data, n, 1.0, W.ctypes.data, K)
        times = {key: [] for key in calls}
        for call in calls.values():
            call()
        for _ in range(rounds):
            for key, call in calls.items():
                t0 = time.perf_counter()
                for _ in range(reps):
                    call()
                times[key].append((time.perf_counter() - t0) / reps)
        rows.append(((n, m), {key: flops / np.median(t) / 1e9 for key, t in times.items()}))
    return libs, rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    libs, rows = probe(args.rounds)
    old, new = list(libs)
    lines = ["# OpenBLAS releases on the kernels' BLAS products", "",
             f"Made by `python bench/openblas_probe.py --rounds {args.rounds}`: float32, one thread, 784 inputs; "
             f"median GFLOP/s over the rounds, the libraries alternating. {old} OpenBLAS is {libs[old][1]}, "
             f"{new} {libs[new][1]}. forward: Z^T (n, m) = W A^T + Z^T; update: C^T (784, n) += alpha A^T D.", "",
             "| neurons n | examples m | forward, old | forward, new | new / old | update, old | update, new | new / old |",
             "|---|---|---|---|---|---|---|---|"]
    for (n, m), gf in rows:
        fo, fn, uo, un = gf[(old, "forward")], gf[(new, "forward")], gf[(old, "update")], gf[(new, "update")]
        lines.append(f"| {n} | {m} | {fo:.1f} | {fn:.1f} | {fn / fo:.2f} | {uo:.1f} | {un:.1f} | {un / uo:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
