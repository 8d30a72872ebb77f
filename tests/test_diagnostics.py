"""Chapter 5: per-layer gradient norms, the one-neuron chains, and the vanishing gradient on real digits."""
import numpy as np
import pytest

import fastnn
from conftest import make_data, make_learnable
from fastnn import diagnostics as D
import reference as ref


@pytest.mark.parametrize("activation,cost", [("sigmoid", "cross_entropy"), ("relu", "quadratic"),
                                             ("tanh", "log_likelihood")])
def test_norms_match_the_reference_per_example_backprop(activation, cost):
    X, y = make_learnable(120, 9, 4, seed=1)
    net = fastnn.Network([9, 7, 6, 4], activation=activation, cost=cost, dtype="float64", seed=2)
    bias, weight = D.layer_gradient_norms(net, X, y)
    sums_b = [np.zeros_like(b) for b in net.biases]
    sums_w = [np.zeros_like(w) for w in net.weights]
    for x, t in zip(X, np.eye(4)[y]):
        nb, nw = ref.backprop(net.weights, net.biases, x, t, activation, cost)
        sums_b = [a + b for a, b in zip(sums_b, nb)]
        sums_w = [a + b for a, b in zip(sums_w, nw)]
    np.testing.assert_allclose(bias, [np.linalg.norm(b / 120) for b in sums_b], rtol=1e-10)
    np.testing.assert_allclose(weight, [np.linalg.norm(w / 120) for w in sums_w], rtol=1e-10)
    assert bias.dtype == np.float64 and len(bias) == 3
    np.testing.assert_allclose(D.layer_gradient_norms(net, X, np.eye(4)[y])[0], bias, rtol=1e-12)


def test_exploding_chain_has_factors_of_25_and_grows_25x_per_layer():
    c = D.exploding_chain(6)
    assert np.all(c.z == 0.0)
    assert np.array_equal(c.factors, np.full(5, 25.0))
    np.testing.assert_allclose(c.bias_gradients[:-1] / c.bias_gradients[1:], 25.0, rtol=1e-12)
    # dC/db_1 = sigma'(z_1) * prod(factors) * dC/da_L = 1/4 * 25^5 * (a_L - y)
    assert c.bias_gradients[0] == pytest.approx(0.25 * 25.0 ** 5 * (c.a[-1] - c.y), rel=1e-12)


def test_vanishing_chain_shrinks_on_average():
    ratios, factors = [], []
    for seed in range(200):
        c = D.vanishing_chain(5, seed=seed)
        # the kernel's gradients agree with the product of factors
        np.testing.assert_allclose(c.bias_gradients[:-1], c.a[:-1] * (1 - c.a[:-1]) / (c.a[1:] * (1 - c.a[1:]))
                                   * c.factors * c.bias_gradients[1:], rtol=1e-9)
        ratios.append(np.log(abs(c.bias_gradients[0] / c.bias_gradients[-1])))
        factors += list(np.abs(c.factors))
        assert np.all(np.abs(c.factors) <= 0.25 * np.abs(c.weights[1:]) + 1e-15)
    assert np.mean(ratios) < np.log(0.1)  # the first layer's gradient is on average >10x smaller than the last's
    assert np.median(factors) < 0.25


def test_training_loop_records_norms_and_trains_like_fit():
    X, y = make_learnable(200, 10, 3, seed=3)
    a = fastnn.Network([10, 8, 8, 3], dtype="float64", seed=4)
    b = fastnn.Network([10, 8, 8, 3], dtype="float64", seed=4)
    h = D.train_recording_norms(a, X, y, 6, 200, 0.5, lmbda=1.0, every=2)
    b.fit(X, y, 6, 200, 0.5, lmbda=1.0, shuffle=False)
    np.testing.assert_allclose(a.params, b.params, rtol=0, atol=1e-12)
    assert h.epochs == [0, 2, 4, 6]
    np.testing.assert_allclose(h.bias_norms[-1], D.layer_gradient_norms(a, X, y)[0], rtol=1e-12)
    c = fastnn.Network([10, 8, 8, 3], dtype="float64", seed=4)
    hm = D.train_recording_norms(c, X, y, 3, 10, 0.5, seed=0)
    assert hm.epochs == [0, 1, 2, 3] and np.array(hm.bias_norms).shape == (4, 3)
    assert hm.diverged_at is None


def test_training_loop_marks_divergence():
    # The set-up of test_network's divergence test, known to overflow to inf.
    X, y = make_data(50, 8, 3, seed=2)
    net = fastnn.Network([8, 30, 30, 3], activation="relu", cost="quadratic", init="large", seed=0)
    h = D.train_recording_norms(net, X, y, 50, 1, 1e6, seed=0)
    assert h.diverged_at is not None and len(h.epochs) < 51


def test_earlier_sigmoid_layers_learn_slower_on_real_digits(mnist_test_set):
    X, y = mnist_test_set
    for depth in (2, 3, 4):
        norms = D.initial_norms(X[:1000], y[:1000], depth, "sigmoid", seeds=range(5)).mean(axis=0)[:-1]
        assert np.all(np.diff(norms) > 0), (depth, norms)  # each hidden layer learns faster than the one before
        assert norms[-1] / norms[0] > 3


def test_gradients_command_writes_figures_and_table(tmp_path, mnist_test_set, capsys):
    from fastnn.cli import main
    out = tmp_path / "g"
    assert main(["gradients", "--data", "mnist-test", "--no-download", "--examples", "200", "--epochs", "5",
                 "--seeds", "2", "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert "| sigmoid | 4 |" in text and "0.003, 0.017, 0.07, 0.285" in text
    # the report names the command that made it, so a number quoted from it can be traced
    assert ("\nCommand: `fastnn gradients --data mnist-test --no-download --examples 200 "
            f"--epochs 5 --seeds 2 --out {out}`; one run, ") in text
    for act in ("sigmoid", "relu", "tanh"):
        assert (out / f"speed_of_learning_{act}.png").stat().st_size > 0
        assert (out / f"initial_norms_{act}.png").stat().st_size > 0
