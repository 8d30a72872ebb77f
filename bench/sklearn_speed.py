"""Run bench/test_sklearn_speed.py and write the table of fastnn.sklearn against scikit-learn's MLPClassifier.

    python bench/sklearn_speed.py --out bench/SKLEARN.md

pytest-benchmark times ROUNDS fits of each implementation at batch 1, 20 and 200; the table gives
each one's median and range of seconds per fit and the ratio of the medians. bench/report.py puts
the same section into bench/RESULTS.md (``python bench/report.py --sklearn-only`` for this part alone,
which also rewrites SKLEARN.md from the same run).
"""
import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def table(results):
    """Markdown rows from pytest-benchmark's JSON: one per batch size."""
    from test_sklearn_speed import BATCHES, IMPLEMENTATIONS
    stats = {(b["extra_info"]["batch_size"], b["extra_info"]["implementation"]): b["stats"]
             for b in results["benchmarks"]}
    ours, theirs = IMPLEMENTATIONS
    rows = ["| batch size | fastnn, s per fit | scikit-learn, s per fit | scikit-learn / fastnn (medians) |",
            "|---|---|---|---|"]
    for batch in BATCHES:
        a, b = stats[(batch, ours)], stats[(batch, theirs)]
        rows.append(f"| {batch} | {a['median']:.3f} ({a['min']:.3f}-{a['max']:.3f}) | "
                    f"{b['median']:.3f} ({b['min']:.3f}-{b['max']:.3f}) | {b['median'] / a['median']:.1f}x |")
    return rows


def run(json_path):
    """Time bench/test_sklearn_speed.py with pytest-benchmark into json_path; returns the command, as a string."""
    subprocess.run([sys.executable, "-m", "pytest", str(HERE / "test_sklearn_speed.py"), "-q", "--benchmark-only",
                    "-p", "no:cacheprovider", f"--benchmark-json={json_path}"], check=True)
    return "pytest bench/test_sklearn_speed.py --benchmark-only"


def section(results, command):
    """The description, the table and the versions, as markdown lines, from pytest-benchmark's JSON of
    bench/test_sklearn_speed.py (bench/report.py puts them into RESULTS.md, main into SKLEARN.md)."""
    from test_sklearn_speed import EPOCHS, ROUNDS
    if not results.get("benchmarks"):
        return ["Not measured: bench/test_sklearn_speed.py skipped (it needs scikit-learn and "
                "$FASTNN_DATA/mnist/t10k-*-ubyte.gz).", ""]
    import numba
    import sklearn
    n = results["benchmarks"][0]["extra_info"]["n_examples"]
    info = results.get("commit_info", {})
    commit = (info.get("id") or "unknown")[:7] + (" with uncommitted changes" if info.get("dirty") else "")
    return [
        f"Made by `{command}` (pytest-benchmark over bench/test_sklearn_speed.py; run of "
        f"{results.get('datetime', '?')[:16].replace('T', ' ')} UTC, commit {commit}). One fit: [784, 100, 10], "
        f"relu, softmax output, Nesterov momentum 0.9, alpha 1e-4, learning rate 0.01, {EPOCHS} shuffled epochs "
        f"over the {n:,} MNIST test digits in float32; {ROUNDS} fits of each, from fresh clones, after a warm-up "
        f"fit. Seconds per fit, median (range). Both get their loss_curve_ during the epoch, from the costs of the "
        f"examples as they are seen.", "",
        *table(results), "",
        f"scikit-learn {sklearn.__version__}, numba {numba.__version__}, Python {platform.python_version()}, "
        f"{results['machine_info'].get('cpu', {}).get('brand_raw', platform.processor())}; one thread each "
        f"(bench/conftest.py sets the BLAS and Numba thread counts to 1). The machine is shared: compare the ratios "
        f"within this run.", ""]


def document(results, command):
    """SKLEARN.md's text: a title, then ``section``."""
    return "\n".join(["# fastnn.sklearn.MLPClassifier against scikit-learn's MLPClassifier(solver=\"sgd\")", "",
                      *section(results, command)])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the markdown here (default: print it)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "sklearn.json"
        run(raw)
        results = json.loads(raw.read_text())
    command = "python bench/sklearn_speed.py" + (f" --out {args.out}" if args.out else "")
    text = document(results, command)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
