"""Weighted examples (``Network.check_data``'s and ``fit``'s sample_weight): the checks, the weighted costs,
equal weights changing nothing, and weights steering learning on real digits. The epochs against the NumPy
reference on every kernel path: tests/test_kernels.py (test_weighted_*); the estimators: tests/test_sklearn.py."""
import numpy as np
import pytest

import fastnn
import reference as ref
from conftest import make_data, make_learnable


@pytest.mark.parametrize("weights,message", [
    (-np.ones(30), r"^sample_weight has the negative weight -1 at row 0; weights must be at least 0$"),
    (np.zeros(30), r"^sample_weight is zero for every row: at least one weight must be positive$"),
    (np.r_[np.ones(29), np.inf], r"^sample_weight contains NaN or inf \(first at row 29\)$"),
    (np.ones(29), r"^sample_weight must have shape \(30,\), one weight per row of X, got shape \(29,\)$"),
    (np.ones((30, 1)), r"must have shape \(30,\)"),
    (np.array(["a"] * 30), r"^sample_weight must hold numbers, got dtype <U1$"),
    (np.full(30, 1e308), r"sums to more than float64 holds"),
])
def test_bad_weights_are_named(weights, message):
    net = fastnn.Network([4, 3, 2], seed=0)
    X, y = make_data(30, 4, 2)
    with pytest.raises(ValueError, match=message):
        net.check_data(X, y, sample_weight=weights)
    with pytest.raises(ValueError, match=message):  # fit checks before it trains: the weights are untouched
        before = net.params.copy()
        net.fit(X, y, 1, 5, 0.1, sample_weight=weights)
    np.testing.assert_array_equal(net.params, before)


def test_weights_need_arrays_the_check_has_not_made_and_name_the_validation_set():
    net = fastnn.Network([4, 3, 2], seed=0)
    X, y = make_data(30, 4, 2)
    with pytest.raises(ValueError, match="sample_weight needs y"):
        net.check_data(X, sample_weight=np.ones(30))
    with pytest.raises(ValueError, match="not with Data that check_data has made"):
        net.check_data(net.check_data(X, y), sample_weight=np.ones(30))
    with pytest.raises(ValueError, match=r"^the sample_weight of validation X has the negative weight -2 at row 3"):
        net.check_data(X, y, name="validation X", sample_weight=np.r_[np.ones(3), -2.0, np.ones(26)])


def test_weights_ride_in_a_column_of_y_scaled_to_a_mean_of_one():
    net = fastnn.Network([4, 3, 2], dtype="float64", seed=0)
    X, y = make_data(4, 4, 2)
    d = net.check_data(X, y, sample_weight=[1, 3, 0, 4])
    assert d.Y.shape == (4, 3) and d.Y.flags.c_contiguous
    np.testing.assert_array_equal(d.Y[:, 2], [0.5, 1.5, 0.0, 2.0])
    np.testing.assert_array_equal(d.Y[:, :2], np.eye(2)[y])
    with pytest.raises(ValueError, match=r"with 2 or 3 columns"):
        net.train_epoch(d.X, np.ascontiguousarray(np.c_[d.Y, d.Y]), np.arange(4), 2, 0.1)


@pytest.mark.parametrize("batch_size", [1, 10])
def test_equal_weights_change_nothing_to_the_bit(batch_size):
    X, y = make_learnable(50, 6, 3, seed=1)
    plain = fastnn.Network([6, 5, 3], seed=2)
    weighted = fastnn.Network([6, 5, 3], seed=2)
    h1 = plain.fit(X, y, 2, batch_size, 0.5, seed=3)
    h2 = weighted.fit(X, y, 2, batch_size, 0.5, seed=3, sample_weight=np.full(50, 2.5))
    assert weighted.check_data(X, y, sample_weight=np.full(50, 2.5)).Y.shape == (50, 3)  # no weight column
    np.testing.assert_array_equal(weighted.params, plain.params)
    assert h1.loss == h2.loss


@pytest.mark.parametrize("cost", ["quadratic", "cross_entropy", "log_likelihood"])
def test_the_total_cost_is_the_weighted_mean(cost):
    net = fastnn.Network([6, 5, 3], cost=cost, dtype="float64", seed=4)
    X, y = make_data(40, 6, 3, seed=5)
    w = np.random.default_rng(6).uniform(0.0, 2.0, 40)
    W, B = [a.copy() for a in net.weights], [b.copy() for b in net.biases]
    act = net.activation
    costs = np.array([ref.cost_fn(ref.feedforward(W, B, x, act, cost), t, cost) for x, t in zip(X, np.eye(3)[y])])
    want = np.sum(w * costs) / np.sum(w) + 0.5 * (0.3 / 40) * sum(np.sum(a ** 2) for a in W)
    assert net.total_cost(net.check_data(X, y, sample_weight=w), lmbda=0.3) == pytest.approx(want, rel=1e-12)
    history = net.fit(X, y, 1, 40, 1e-300, monitor="training_cost", sample_weight=w, shuffle=False)  # a null step
    assert history.training_cost[0] == pytest.approx(np.sum(w * costs) / np.sum(w), rel=1e-12)


def test_zero_weights_leave_classes_out_of_learning_on_real_digits(mnist_test_set):
    # The first 5,000 MNIST test digits, weight 0 for the digits 5 to 9: the network learns digits 0 to 4 only
    # and calls almost every digit of the other 5,000 one of those; without weights it learns all ten.
    X, y = mnist_test_set
    X_fit, y_fit, X_new, y_new = X[:5000], y[:5000], X[5000:], y[5000:]
    w = (y_fit < 5).astype(float)
    weighted = fastnn.Network([784, 30, 10], seed=0)
    plain = fastnn.Network([784, 30, 10], seed=0)
    weighted.fit(X_fit, y_fit, 3, 10, 3.0, sample_weight=w)
    plain.fit(X_fit, y_fit, 3, 10, 3.0)
    said_low = np.mean(weighted.predict(X_new) < 5)
    low = y_new < 5
    assert said_low > 0.97, said_low
    assert np.mean(plain.predict(X_new) < 5) < 0.6
    assert weighted.accuracy(X_new[low], y_new[low]) > 0.9  # and learned those five well
    assert plain.accuracy(X_new, y_new) > 0.8
