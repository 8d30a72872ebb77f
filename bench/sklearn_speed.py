"""Run bench/test_sklearn_speed.py and write the table of fastnn.sklearn against scikit-learn's MLPClassifier.

    python bench/sklearn_speed.py --out bench/SKLEARN.md

pytest-benchmark times ROUNDS fits of each implementation at batch 1, 20 and 200; the table gives
each one's median and range of seconds per fit and the ratio of the medians.
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the markdown here (default: print it)")
    args = parser.parse_args()
    from test_sklearn_speed import EPOCHS, ROUNDS
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "sklearn.json"
        subprocess.run([sys.executable, "-m", "pytest", str(HERE / "test_sklearn_speed.py"), "-q", "--benchmark-only",
                        f"--benchmark-json={raw}"], check=True)
        results = json.loads(raw.read_text())
    import numba
    import sklearn
    n = results["benchmarks"][0]["extra_info"]["n_examples"]
    text = "\n".join([
        "# fastnn.sklearn.MLPClassifier against scikit-learn's MLPClassifier(solver=\"sgd\")", "",
        f"Made by `python bench/sklearn_speed.py --out bench/SKLEARN.md` (pytest-benchmark over "
        f"bench/test_sklearn_speed.py). One fit: [784, 100, 10], relu, softmax output, Nesterov momentum 0.9, "
        f"alpha 1e-4, learning rate 0.01, {EPOCHS} shuffled epochs over the {n:,} MNIST test digits in float32; "
        f"{ROUNDS} fits of each, from fresh clones, after a warm-up fit. Seconds per fit, median (range). fastnn's fit "
        f"includes a pass over the data per epoch for loss_curve_; scikit-learn's gets its loss during the epoch.", "",
        *table(results), "",
        f"scikit-learn {sklearn.__version__}, numba {numba.__version__}, Python {platform.python_version()}, "
        f"{results['machine_info'].get('cpu', {}).get('brand_raw', platform.processor())}; one thread each "
        f"(bench/conftest.py sets the BLAS and Numba thread counts to 1). The machine is shared: compare the ratios "
        f"within this run.", ""])
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
