"""The installed package: one top-level name, ``fastnn``, with the kernels inside it."""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

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
