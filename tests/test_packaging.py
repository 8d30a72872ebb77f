"""The installed package: one top-level name, ``fastnn``, with the kernels inside it; its metadata and extras."""
import ast
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import fastnn

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_holds_only_the_fastnn_package(tmp_path):
    pytest.importorskip("setuptools", minversion="77")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    for folder in ("fastnn", "kernels"):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "dist"), str(src)], check=True, capture_output=True)
    [wheel] = (tmp_path / "dist").glob("fastnn-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert top == {"fastnn", wheel.name.split("-py")[0] + ".dist-info"}, top
    assert "fastnn/kernels/sgd.py" in names and "fastnn/kernels/__init__.py" in names
    assert "fastnn/study/__init__.py" in names and "fastnn/study/driver.py" in names
    assert not any(n.startswith("kernels/") for n in names)
    dist_info = next(t for t in top if t.endswith(".dist-info"))
    assert zipfile.ZipFile(wheel).read(f"{dist_info}/top_level.txt").decode().split() == ["fastnn"]
    # PEP 561: the type hints ship; the version has one source, fastnn.__version__
    assert "fastnn/py.typed" in names
    metadata = zipfile.ZipFile(wheel).read(f"{dist_info}/METADATA").decode()
    assert f"Version: {fastnn.__version__}\n" in metadata and wheel.name.startswith(f"fastnn-{fastnn.__version__}-")
    assert "Typing :: Typed" in metadata and "License-Expression: MIT" in metadata
    assert "\nClassifier: License ::" not in metadata  # the SPDX expression replaces license classifiers
    extras = {line.split(": ")[1] for line in metadata.splitlines() if line.startswith("Provides-Extra: ")}
    assert extras == {"study", "distributed", "sklearn", "test"}


def test_the_test_extra_holds_every_package_the_tests_import():
    # `pip install .[test]` alone must run the whole suite: every third-party module a test or a
    # benchmark imports comes with the test extra (through the other extras it names).
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    test = extras["test"]
    named = {d for d in test if not d.startswith("fastnn[")}
    for group in next(d for d in test if d.startswith("fastnn["))[len("fastnn["):-1].split(","):
        named |= set(extras[group])
    distributions = {re.split(r"[<>=\[ ;]", d)[0].lower() for d in [*named, *project["dependencies"]]}
    module_of = {"scikit-learn": "sklearn", "pytest-benchmark": "pytest_benchmark"}
    provided = {module_of.get(d, d) for d in distributions}
    imported = set()
    for path in [*ROOT.glob("tests/*.py"), *ROOT.glob("bench/test_*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level:
                imported.add(node.module.split(".")[0])
            elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "importorskip"
                  and isinstance(node.args[0], ast.Constant)):
                imported.add(node.args[0].value.split(".")[0])
    local = {p.stem for p in [*ROOT.glob("tests/*.py"), *ROOT.glob("bench/*.py")]} | {"book", "peers", "fastnn"}
    third_party = {m for m in imported - local - set(sys.stdlib_module_names)}
    optional_peers = {"torch", "jax", "jaxlib"}  # bench/ compares against them when installed, never required
    through_fastnn = {"tqdm"}  # test_network checks fastnn's tqdm progress bar without importing tqdm
    missing = ((third_party - optional_peers) | through_fastnn) - provided
    assert not missing, f"the test extra lacks {sorted(missing)}"


def test_a_kernels_module_in_the_working_folder_does_not_affect_fastnn(tmp_path):
    # A user's own kernels.py (or another distribution's top-level ``kernels``) must not be picked up.
    (tmp_path / "kernels.py").write_text("raise ImportError('this is the user own kernels.py')\n")
    code = ("import numpy as np, fastnn; net = fastnn.Network([3, 2], seed=0); "
            "print(net.predict(np.ones((1, 3)))[0] in (0, 1)); import fastnn.kernels as k; print(k.__name__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "fastnn.kernels"]
    # and nothing called plain ``kernels`` comes with fastnn
    out = subprocess.run([sys.executable, "-c", "import fastnn, sys; print('kernels' in sys.modules)"],
                         cwd=tmp_path.parent, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
