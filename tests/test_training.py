"""The one training loop (fastnn.training.run) and Network's public training API."""
import numpy as np
import pytest

import fastnn
import reference as ref
from conftest import make_data, make_learnable
from fastnn.training import DivergenceError, Optimizer, run


@pytest.fixture
def data():
    return make_learnable(60, 8, 3, seed=4)


def test_hooks_run_at_the_chosen_example_counts_with_cumulative_counts(data):
    net = fastnn.Network([8, 6, 3], seed=0)
    d = net.check_data(*data)
    seen, epochs = [], []
    pos = run(net, d, 2, 5, Optimizer(0.5), points=lambda e: [10, 25, 60],
              on_point=lambda p: seen.append((p.epoch, p.in_epoch, p.examples, p.updates)),
              on_epoch=lambda p: epochs.append((p.epoch, p.examples)))
    assert seen == [(0, 10, 10, 2), (0, 25, 25, 5), (0, 60, 60, 12), (1, 10, 70, 14), (1, 25, 85, 17),
                    (1, 60, 120, 24)]
    assert epochs == [(1, 60), (2, 120)]
    assert pos.epochs == 2.0 and pos.seconds > 0 and not pos.stopped


def test_segments_compute_what_one_call_computes(data):
    # Splitting an epoch at multiples of the batch size gives the same updates in the same order (online
    # learning groups its first-layer updates differently, so it agrees up to round-off).
    a = fastnn.Network([8, 6, 3], dtype="float64", seed=0)
    b = fastnn.Network([8, 6, 3], dtype="float64", seed=0)
    for batch_size in (1, 5):
        for momentum in (0.0, 0.9):
            opt = Optimizer(0.5, 1.0, momentum)
            whole, parts = [], []
            run(a, a.check_data(*data), 2, batch_size, opt, on_epoch=lambda p: whole.append(p.loss))
            run(b, b.check_data(*data), 2, batch_size, opt, points=lambda e: [5, 20, 60],
                on_epoch=lambda p: parts.append(p.loss))
            np.testing.assert_allclose(a.params, b.params, rtol=0, atol=1e-12)
            np.testing.assert_allclose(parts, whole, rtol=1e-12)  # the epoch's loss, summed over its segments


def test_a_hook_that_returns_true_stops_training(data):
    net = fastnn.Network([8, 6, 3], seed=0)
    pos = run(net, net.check_data(*data), 5, 5, Optimizer(0.5), points=lambda e: [30, 60],
              on_point=lambda p: p.examples >= 90)
    assert pos.stopped and pos.examples == 90 and pos.epoch == 1


def test_divergence_restores_the_last_finished_epoch_and_names_the_cause(data):
    X, y = make_data(50, 8, 3, seed=2)
    net = fastnn.Network([8, 30, 30, 3], activation="relu", cost="quadratic", init="large", seed=0)
    d = net.check_data(X, y)
    rng = np.random.default_rng(0)
    kept = [net.params.copy()]
    with pytest.raises(DivergenceError, match=r"eta=1e\+06.*smaller learning rate"):
        run(net, d, 50, 1, Optimizer(1e6), order=lambda e: rng.permutation(50),
            on_epoch=lambda p: kept.append(net.params.copy()))
    np.testing.assert_array_equal(net.params, kept[-1])
    with pytest.raises(DivergenceError, match=r"lmbda is too large"):
        fastnn.Network([8, 6, 3], seed=0).fit(X, y, 3, 1, 1.0, lmbda=1e5)


def test_partial_fit_keeps_the_velocity_between_calls_and_fit_resets_it(data):
    X, y = data
    n = len(X)
    a = fastnn.Network([8, 6, 3], dtype="float64", seed=1)
    W, B = [w.copy() for w in a.weights], [b.copy() for b in a.biases]
    for _ in range(2):
        a.partial_fit(X, y, 4, 0.3, lmbda=0.5, momentum=0.9, nesterov=True)
    vw = vb = None
    for _ in range(2):
        W, B, vw, vb = ref.sgd_epoch(W, B, X, np.eye(3)[y], np.arange(n), 4, 0.3, "sigmoid", "cross_entropy", 0.5,
                                     0.9, vw, vb, nesterov=True)
    np.testing.assert_allclose(a.params, np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(W, B)]),
                               rtol=0, atol=1e-10)
    assert a.velocity is not None and np.abs(a.velocity).max() > 0
    # fit starts from rest: two fits of one epoch equal two fresh one-epoch runs, not one two-epoch run
    b = fastnn.Network([8, 6, 3], dtype="float64", seed=1)
    c = fastnn.Network([8, 6, 3], dtype="float64", seed=1)
    b.fit(X, y, 1, 4, 0.3, momentum=0.9, shuffle=False)
    b.fit(X, y, 1, 4, 0.3, momentum=0.9, shuffle=False)
    c.fit(X, y, 2, 4, 0.3, momentum=0.9, shuffle=False)
    assert np.abs(b.params - c.params).max() > 1e-6


def test_partial_fit_visits_the_given_order(data):
    X, y = data
    order = np.random.default_rng(3).permutation(len(X))
    a = fastnn.Network([8, 6, 3], dtype="float64", seed=1)
    b = fastnn.Network([8, 6, 3], dtype="float64", seed=1)
    a.partial_fit(X, y, 1, 0.5, order=order)
    b.partial_fit(X[order], y[order], 1, 0.5)
    np.testing.assert_array_equal(a.params, b.params)


@pytest.mark.parametrize("order,message", [
    (np.array([0, 1, 60]), r"order\[2\] = 60 is not an example index: X has 60 rows"),
    (np.array([-1]), r"order\[0\] = -1 is not an example index"),
    (np.array([0.5]), "integer example indices"),
    (np.zeros((2, 2), dtype=int), "1-D array"),
])
def test_train_epoch_refuses_bad_orders_instead_of_reading_outside_x(data, order, message):
    net = fastnn.Network([8, 6, 3], seed=0)
    d = net.check_data(*data)
    before = net.params.copy()
    with pytest.raises(ValueError, match=message):
        net.train_epoch(d.X, d.Y, order, 1, 0.5)
    np.testing.assert_array_equal(net.params, before)


def test_train_epoch_refuses_unconverted_arrays(data):
    X, y = data
    net = fastnn.Network([8, 6, 3], seed=0)  # float32
    with pytest.raises(ValueError, match="C-contiguous float32 array with 8 columns"):
        net.train_epoch(X, np.eye(3)[y], np.arange(len(X)), 1, 0.5)  # float64 data


def test_optimizer_checks_its_hyper_parameters():
    with pytest.raises(ValueError, match="eta must be positive"):
        Optimizer(0.0)
    with pytest.raises(ValueError, match="momentum must be below 1"):
        Optimizer(0.1, momentum=1.0)
    with pytest.raises(ValueError, match="nesterov must be True or False"):
        Optimizer(0.1, momentum=0.5, nesterov="yes")
    assert Optimizer(0.1, nesterov=True).name == "sgd"  # Nesterov without momentum is plain SGD
    assert Optimizer.named("nesterov", 0.1).momentum == 0.9


def test_nesterov_learns_mnist_sized_problem_faster_than_nothing():
    X, y = make_learnable(600, 20, 4, seed=2)
    net = fastnn.Network([20, 16, 4], seed=0)
    h = net.fit(X[:500], y[:500], 3, 10, 0.1, momentum=0.9, nesterov=True, validation_data=(X[500:], y[500:]))
    assert h.validation_accuracy[-1] > 0.6  # chance is 0.25
