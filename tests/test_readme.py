"""README's code examples, run as written: an example that no longer runs is a broken promise."""
import contextlib
import io
import os
import re
from pathlib import Path

import numpy as np

from fastnn.datasets import to_book_data

README = Path(__file__).parent.parent / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def block_with(text):
    (block,) = [b for b in python_blocks() if text in b]
    return block


def run(code, namespace, cwd, monkeypatch):
    monkeypatch.chdir(cwd)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), namespace)
    return out.getvalue()


def test_first_example_trains_saves_and_loads(mnist_test_set, tmp_path, monkeypatch):
    folder = Path(os.environ["FASTNN_DATA"]) / "mnist"  # mnist_test_set skips when it is absent
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):  # named without a folder
        (tmp_path / name).symlink_to(folder / name)
    ns = {}
    out = run(block_with("fastnn.load_idx("), ns, tmp_path, monkeypatch)
    accuracy, predicted = re.match(r"(\S+) \[([\d ]+)\]", out).groups()
    assert float(accuracy) == ns["history"].validation_accuracy[-1]
    assert float(accuracy) > 0.88  # 10 epochs on 8,000 real digits; README reports about 0.93
    assert (tmp_path / "net.json").exists()
    # the example ends by loading what it saved: the loaded net predicts what the trained one printed
    np.testing.assert_array_equal(ns["net"].predict(ns["X"][:5]), [int(v) for v in predicted.split()])


def test_book_example_runs_unchanged(mnist_test_set, tmp_path, monkeypatch):
    X, y = mnist_test_set
    ns = dict(training_data=to_book_data(X[:2000], y[:2000], vector_labels=True),
              validation_data=to_book_data(X[2000:3000], y[2000:3000], vector_labels=False))
    out = run(block_with("network2.Network"), ns, tmp_path, monkeypatch)
    accuracy = ns["evaluation_accuracy"]
    assert len(accuracy) == 30 and len(ns["training_cost"]) == 0  # only what the call monitors
    assert accuracy[-1] > 850  # of 1,000 held-out digits after 30 epochs on 2,000
    assert out.count("Epoch") == 30
