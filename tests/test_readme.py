"""README's code examples, run as written: an example that no longer runs is a broken promise."""
import contextlib
import io
import os
import re
from pathlib import Path

import numpy as np
import pytest

from fastnn.datasets import to_book_data

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"


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


def link_mnist_test_files(folder):
    """The MNIST test-set files in folder, as the examples name them (without a folder)."""
    source = Path(os.environ["FASTNN_DATA"]) / "mnist"  # the mnist_test_set fixture skips when it is absent
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (folder / name).symlink_to(source / name)


def test_first_example_trains_saves_and_loads(mnist_test_set, tmp_path, monkeypatch):
    link_mnist_test_files(tmp_path)
    ns = {}
    out = run(block_with("net.save("), ns, tmp_path, monkeypatch)
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


def test_scikit_learn_example_searches_a_pipeline(mnist_test_set, tmp_path, monkeypatch):
    pytest.importorskip("sklearn", reason="the example needs scikit-learn (pip install 'fastnn[sklearn]')")
    link_mnist_test_files(tmp_path)
    ns = {}
    out = run(block_with("GridSearchCV("), ns, tmp_path, monkeypatch)
    search = ns["search"]
    assert len(search.cv_results_["params"]) == 4 and search.n_splits_ == 3
    assert out.startswith(str(search.best_params_))
    score = float(out.split()[-1])
    assert score == search.score(ns["X"][8000:], ns["y"][8000:])
    assert score > 0.9  # 6,000 real training digits, 2,000 held out; 0.9215 when written
    assert not np.isnan(search.cv_results_["mean_test_score"]).any()  # no fit failed (diverged)


def project_urls():
    """The URLs of pyproject.toml's [project.urls] (read as text: tomllib is Python 3.11+)."""
    text = (ROOT / "pyproject.toml").read_text()
    section = re.search(r"^\[project\.urls\]\n(.*?)(?=^\[|\Z)", text, flags=re.S | re.M).group(1)
    return re.findall(r'^\s*"?[^"=#]+"?\s*=\s*"([^"]+)"', section, flags=re.M)


def repository_path(target):
    """The file in this repository that a README link points at, or None for a link elsewhere.

    A relative link is a path in the repository; an absolute one is too when it points into the
    repository at one of the project's URLs ({url}/blob/<ref>/<path>, raw or tree), as README's
    links must for PyPI, where relative links do not resolve.
    """
    if "://" not in target:
        return target
    for url in project_urls():
        m = re.match(re.escape(url.rstrip("/")) + r"/(?:blob|raw|tree)/[^/]+/(.+)", target)
        if m:
            return m.group(1)
    return None


def heading_anchors():
    """The anchors GitHub and PyPI give README's headings: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", README.read_text(), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_readme_links_resolve_to_files_in_the_repository():
    targets = re.findall(r"\]\(([^)\s]+)\)", README.read_text())
    assert targets
    missing = []
    for target in targets:
        if target.startswith("#"):
            if target[1:] not in heading_anchors():
                missing.append(target)
            continue
        path = repository_path(target.split("#")[0])
        if path is not None and not (ROOT / path).exists():
            missing.append(target)
    assert not missing, f"README links to files that do not exist: {missing}"
