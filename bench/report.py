"""Run the epoch benchmarks once and write bench/RESULTS.md: s per 50,000 examples and ratios to fastnn.

    python bench/report.py            (or: make bench-report)

Times come from pytest-benchmark (minimum over rounds) in one run, so the
ratios compare implementations under the same machine load.
"""
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).parent
PER_EPOCH = 50_000


def run_benchmarks(json_path):
    cmd = [sys.executable, "-m", "pytest", str(HERE / "test_epoch.py"), "--benchmark-only", "-q",
           f"--benchmark-json={json_path}"]
    subprocess.run(cmd, check=True)
    return " ".join(["pytest", "bench/test_epoch.py", "--benchmark-only"])


def table(results, n_examples):
    groups = defaultdict(dict)
    for b in results["benchmarks"]:
        batch = b["params"]["batch_size"]
        name = b["name"].split("[")[0].replace("test_", "")
        dtype = b["params"].get("dtype", "float64")
        groups[batch][f"{name} ({dtype})"] = b["stats"]["min"] * PER_EPOCH / n_examples
    lines = ["| implementation | " + " | ".join(f"batch {k}: s/epoch | vs fastnn float32" for k in sorted(groups))
             + " |", "|---" * (1 + 2 * len(groups)) + "|"]
    names = sorted({n for g in groups.values() for n in g}, key=lambda n: groups[1].get(n, 0))
    for name in names:
        cells = []
        for k in sorted(groups):
            t = groups[k].get(name)
            ref = groups[k]["fastnn (float32)"]
            cells += [f"{t:.3f}", f"{t / ref:.1f}x"] if t is not None else ["-", "-"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        json_path = Path(tmp) / "bench.json"
        command = run_benchmarks(json_path)
        results = json.loads(json_path.read_text())
    sys.path.insert(0, str(HERE))
    from conftest import N_EXAMPLES
    import numba
    import numpy
    machine = results.get("machine_info", {})
    data = "Fashion-MNIST training images" if os.environ.get("FASTNN_DATA") else "uniform noise of MNIST shape"
    text = (f"# Epoch times, [784,30,10], sigmoid, quadratic cost, one thread\n\n"
            f"Seconds per epoch of {PER_EPOCH:,} examples (the minimum over rounds of an epoch of {N_EXAMPLES:,} "
            f"{data}, scaled), and each time as a multiple of fastnn float32.\n\n"
            f"{table(results, N_EXAMPLES)}\n\n"
            f"Machine: {machine.get('cpu', {}).get('brand_raw', platform.processor() or platform.machine())}, "
            f"{os.cpu_count()} cores; Python {platform.python_version()}, NumPy {numpy.__version__}, "
            f"Numba {numba.__version__}. Command: `{command}` (via `python bench/report.py`).\n")
    (HERE / "RESULTS.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
