"""Every name in the registries works on every kernel path it can reach; unknown codes are errors."""
import json

import numpy as np
import pytest

import fastnn
import reference as ref
from conftest import make_data
from fastnn import kernels
from fastnn.kernels.activations import scale_by_derivative
from fastnn.registry import ACTIVATIONS, COSTS, OPTIMIZERS

PAIRS = [(a, c) for a in ACTIVATIONS for c in COSTS]


def _reference_epoch(net, X, y, batch_size, eta, lmbda, optimizer, W, B):
    mu = 0.0 if optimizer == "sgd" else 0.5
    W, B, _, _ = ref.sgd_epoch(W, B, X, np.eye(net.sizes[-1])[y], np.arange(len(X)), batch_size, eta, net.activation,
                               net.cost, lmbda, mu, nesterov=(optimizer == "nesterov"))
    return np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(W, B)])


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("activation,cost", PAIRS)
def test_every_registered_name_trains_and_evaluates_as_the_reference(activation, cost, optimizer):
    X, y = make_data(23, 6, 4, seed=1)
    for batch_size in (1, 4):
        net = fastnn.Network([6, 5, 4], activation=activation, cost=cost, dtype="float64", seed=2)
        eta = 0.1 if net.output_activation == "identity" else 0.3  # a linear output diverges at 0.3 here
        W, B = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
        opt = fastnn.Optimizer.named(optimizer, eta, lmbda=1.0, momentum=0.5)
        net.partial_fit(X, y, batch_size, opt.eta, opt.lmbda, opt.momentum, opt.nesterov)
        want = _reference_epoch(net, X, y, batch_size, eta, 1.0, optimizer, W, B)
        np.testing.assert_allclose(net.params, want, rtol=0, atol=1e-10)
    assert net.output_activation == ref.output_activation(activation, cost)
    out = np.array([ref.feedforward(net.weights, net.biases, x, activation, cost) for x in X])
    np.testing.assert_allclose(net.feedforward(X), out, rtol=0, atol=1e-12)
    assert net.total_cost(X, y, 1.0) == pytest.approx(
        ref.total_cost(net.weights, net.biases, X, np.eye(4)[y], activation, cost, 1.0), rel=1e-9)
    assert net.accuracy(X, y) == np.mean(np.argmax(out, axis=1) == y)
    assert np.isfinite(net.gradient_sum(X, y)).all()


def _net_and_data():
    net = fastnn.Network([6, 5, 4], dtype="float64", seed=2)
    X, y = make_data(8, 6, 4)
    return net, net.check_data(X, y)


def test_an_unknown_activation_code_is_an_error_in_the_kernels():
    net, d = _net_and_data()
    params, w_off, b_off, sizes, _, _, cost = net.kernel_args()
    with pytest.raises(ValueError, match="unknown activation code"):
        kernels.feedforward(params, w_off, b_off, sizes, 99, kernels.SIGMOID, d.X, np.empty((8, 4)))
    with pytest.raises(ValueError, match="unknown activation code"):
        kernels.accuracy(params, w_off, b_off, sizes, kernels.SIGMOID, 99, d.X, d.labels)
    with pytest.raises(ValueError, match="no elementwise derivative"):
        scale_by_derivative(np.ones((2, 3)), np.ones((2, 3)), kernels.SOFTMAX)


def test_an_unknown_cost_code_is_an_error_in_the_kernels():
    net, d = _net_and_data()
    params, w_off, b_off, sizes, hidden, output, _ = net.kernel_args()
    with pytest.raises(ValueError, match="unknown cost code"):
        kernels.total_cost(params, w_off, b_off, sizes, hidden, output, 99, d.X, d.Y, 0.0)
    grad = np.zeros_like(params)
    with pytest.raises(ValueError, match="unknown cost code"):
        kernels.accumulate_gradient(params, w_off, b_off, sizes, hidden, output, 99, d.X, d.Y, np.arange(8), grad)


@pytest.mark.parametrize("batch_size", [1, 3])
def test_an_unknown_update_rule_code_is_an_error_before_any_update(batch_size):
    net, d = _net_and_data()
    args = net.kernel_args()
    before = net.params.copy()
    hyper = fastnn.Optimizer(0.5).hyper(8, net.dtype)
    with pytest.raises(ValueError, match="unknown update rule code"):
        if batch_size == 1:
            kernels.online_epoch(args[0], np.zeros_like(args[0]), *args[1:], d.X, d.Y, np.arange(8), 99, hyper)
        else:
            kernels.minibatch_epoch(args[0], np.zeros_like(args[0]), *args[1:], d.X, d.Y, np.arange(8), batch_size,
                                    99, hyper)
    np.testing.assert_array_equal(net.params, before)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError,
                       match="unknown activation 'softplus'; choose one of 'sigmoid', 'tanh', 'relu', 'identity'"):
        fastnn.Network([2, 2], activation="softplus")
    with pytest.raises(ValueError, match="unknown optimizer 'adam'; choose one of 'sgd', 'momentum', 'nesterov'"):
        fastnn.Optimizer.named("adam", 0.1)


def test_cost_names_in_model_files_come_from_the_registry(tmp_path):
    for cost, spec in COSTS.items():
        net = fastnn.Network([3, 2], cost=cost, seed=0)
        net.save(tmp_path / "m.json")
        assert json.loads((tmp_path / "m.json").read_text())["cost"] == spec.book_name
        assert fastnn.load(tmp_path / "m.json").cost == cost
