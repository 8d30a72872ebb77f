"""fastnn.sklearn: scikit-learn's estimator checks, one epoch against scikit-learn's own MLP (solver="sgd"),
the fitted attributes, bad input, and learning on real digits."""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="fastnn.sklearn needs scikit-learn (pip install 'fastnn[sklearn]')")
from sklearn import neural_network  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import fastnn  # noqa: E402
from conftest import make_learnable  # noqa: E402
from fastnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

# Short fits that stop at max_iter warn, as scikit-learn's do; the tests that care catch it themselves.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def check_name(check):
    return getattr(check, "func", check).__name__


@parametrize_with_checks([MLPClassifier(), MLPRegressor()])
def test_scikit_learn_estimator_checks(estimator, check):
    if check_name(check) == "check_sample_weight_equivalence_on_dense_data":
        # Whole-number weights against repeated rows: both fits take the whole set as one batch and run the same
        # gradient steps, summed in another order; in float32 that round-off reached 1e-7 of the probabilities
        # over 200 epochs, the check's tolerance. In float64 they agree to 1e-16.
        # test_weighted_fit_equals_repeated_rows checks float32 at its own precision.
        estimator.set_params(dtype="float64")
    if check_name(check) != "check_array_api_input":
        check(estimator)
        return
    # scikit-learn skips this check unless array API dispatch is on, and SCIPY_ARRAY_API turns it on
    # only if set before SciPy is imported: run it in a fresh process.
    code = ("from sklearn.utils.estimator_checks import estimator_checks_generator\n"
            f"from fastnn.sklearn import {type(estimator).__name__} as E\n"
            "ran = 0\n"
            "for est, check in estimator_checks_generator(E(), mark=None):\n"
            "    if getattr(check, 'func', check).__name__ == 'check_array_api_input':\n"
            "        check(est)\n"
            "        ran += 1\n"
            "print('ran', ran)\n")
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True,
                         env={**os.environ, "SCIPY_ARRAY_API": "1"})
    assert out.returncode == 0 and out.stdout.split() == ["ran", "1"], out.stderr


def regression_data(n=60, n_in=8, n_out=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, n_in))
    return X, np.sin(3 * X[:, :n_out]) + X[:, n_out:2 * n_out] ** 2


def one_epoch_each(ours_class, theirs_class, X, y, sample_weight=None, **params):
    """fastnn's and scikit-learn's estimator (solver="sgd") after one epoch from the same weights, in float64.

    Both train one epoch (warm start, max_iter=1, in order); scikit-learn's then takes fastnn's
    weights, and both train one more epoch, each with its velocity restarting from zero.
    """
    params.update(max_iter=1, shuffle=False, warm_start=True)
    ours = ours_class(dtype="float64", random_state=0, **params)
    theirs = theirs_class(solver="sgd", learning_rate="constant", **params)
    ours.fit(X, y, sample_weight=sample_weight)
    theirs.fit(X, y, sample_weight=sample_weight)
    theirs.coefs_ = [c.copy() for c in ours.coefs_]
    theirs.intercepts_ = [b.copy() for b in ours.intercepts_]
    ours.fit(X, y, sample_weight=sample_weight)
    theirs.fit(X, y, sample_weight=sample_weight)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    assert ours.out_activation_ == theirs.out_activation_
    return ours, theirs


SGD_CASES = [(1, 0.0, 0.0, False), (10, 0.01, 0.0, False), (10, 0.01, 0.9, False), (20, 0.5, 0.9, True)]


@pytest.mark.parametrize("batch_size,alpha,momentum,nesterov", SGD_CASES)
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic"])
def test_regressor_epoch_equals_scikit_learns_sgd_epoch(activation, batch_size, alpha, momentum, nesterov):
    # n = 60 is a multiple of every batch size: scikit-learn's last, smaller batch would decay differently.
    X, y = regression_data()
    ours, theirs = one_epoch_each(MLPRegressor, neural_network.MLPRegressor, X, y, hidden_layer_sizes=(7, 5),
                                  activation=activation, batch_size=batch_size, learning_rate_init=0.05, alpha=alpha,
                                  momentum=momentum, nesterovs_momentum=nesterov)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=0, atol=1e-10)
    assert ours.out_activation_ == "identity"
    if alpha == 0.0:  # the loss of the same epoch, counted as it went; scikit-learn's averages over the 2 outputs
        assert ours.loss_curve_[-1] == pytest.approx(2 * theirs.loss_curve_[-1], rel=1e-10)


@pytest.mark.parametrize("batch_size,alpha,momentum,nesterov", SGD_CASES)
def test_multiclass_epoch_equals_scikit_learns_sgd_epoch(batch_size, alpha, momentum, nesterov):
    X, y = make_learnable(60, 8, 3, seed=1)
    labels = np.array(["cat", "dog", "emu"])[y]
    ours, theirs = one_epoch_each(MLPClassifier, neural_network.MLPClassifier, X, labels, hidden_layer_sizes=(6,),
                                  activation="relu", batch_size=batch_size, learning_rate_init=0.1, alpha=alpha,
                                  momentum=momentum, nesterovs_momentum=nesterov)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=0, atol=1e-10)
    assert list(ours.classes_) == list(theirs.classes_) == ["cat", "dog", "emu"]
    assert ours.out_activation_ == "softmax"
    if alpha == 0.0:  # the same epoch's loss, counted as it went (with alpha > 0 the L2 terms differ: see loss_curve_)
        assert ours.loss_curve_[-1] == pytest.approx(theirs.loss_curve_[-1], rel=1e-10)


def test_predict_proba_rows_sum_to_one_in_float64_with_sigmoid_outputs():
    X, y = make_learnable(300, 8, 4, seed=2)
    clf = MLPClassifier((10,), cost="cross_entropy", batch_size=10, learning_rate_init=0.5, max_iter=5,
                        random_state=0).fit(X, y)
    raw = clf.network_.feedforward(X)
    assert raw.dtype == np.float32 and np.abs(raw.sum(axis=1) - 1).max() > 1e-3  # sigmoid outputs: no distribution
    P = clf.predict_proba(X)
    assert P.dtype == np.float64 and np.abs(P.sum(axis=1) - 1).max() <= 4 * np.finfo(np.float64).eps
    np.testing.assert_array_equal(clf.classes_[P.argmax(axis=1)], clf.predict(X))
    np.testing.assert_allclose(P, raw / raw.sum(axis=1, keepdims=True, dtype=np.float64), rtol=1e-15)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), P, rtol=1e-13)


def test_partial_fit_trains_one_epoch_and_keeps_the_velocity():
    X, y = make_learnable(90, 8, 3, seed=3)
    clf = MLPClassifier((6,), batch_size=9, learning_rate_init=0.2, momentum=0.9, alpha=0.01, shuffle=False,
                        dtype="float64", random_state=4)
    net = fastnn.Network([8, 6, 3], activation="relu", cost="log_likelihood", dtype="float64", seed=4)
    for _ in range(3):
        clf.partial_fit(X, y, classes=[0, 1, 2])
        pos = net.partial_fit(X, y, 9, 0.2, lmbda=0.01 * 90 / 9, momentum=0.9, nesterov=True)
    np.testing.assert_array_equal(clf.network_.params, net.params)
    assert clf.n_iter_ == 1 and clf.t_ == 270 and len(clf.loss_curve_) == 3
    # the loss the epoch added up as it went, plus the L2 term on the weights at its end
    l2 = 0.5 * (0.01 / 9) * sum(np.sum(w ** 2) for w in net.weights)
    assert clf.loss_curve_[-1] == pytest.approx(pos.loss + l2, rel=1e-14)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        MLPClassifier().partial_fit(X, y)
    with pytest.raises(ValueError, match=r"y has classes \[7\] that are not in classes_"):
        clf.partial_fit(X[:3], [0, 1, 7])
    with pytest.raises(ValueError, match="differs from the classes of the first call"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])


def test_one_random_state_gives_identical_fits_and_another_differs():
    X, y = make_learnable(200, 8, 3, seed=5)
    fits = [MLPClassifier((6,), batch_size=5, learning_rate_init=0.1, max_iter=3, random_state=rs).fit(X, y)
            for rs in (7, 7, 8)]
    np.testing.assert_array_equal(fits[0].network_.params, fits[1].network_.params)
    assert not np.array_equal(fits[0].network_.params, fits[2].network_.params)
    # the int seeds the network: its initial weights and, through a derived stream, its shuffles
    assert fits[0].network_.seed == 7


def test_coefs_are_scikit_learn_shaped_views_into_the_network():
    X, y = regression_data()
    reg = MLPRegressor((7, 5), max_iter=2, random_state=0).fit(X, y)
    assert [c.shape for c in reg.coefs_] == [(8, 7), (7, 5), (5, 2)]
    assert [b.shape for b in reg.intercepts_] == [(7,), (5,), (2,)]
    assert (reg.n_layers_, reg.n_outputs_, reg.n_features_in_) == (4, 2, 8)
    reg.coefs_[-1][...] = 0
    reg.intercepts_[-1][...] = [1.5, -2.0]
    np.testing.assert_array_equal(reg.predict(X), np.tile([1.5, -2.0], (60, 1)))
    one = MLPRegressor((7,), max_iter=2, random_state=0).fit(X, y[:, 0])
    assert one.predict(X).shape == (60,) and one.coefs_[-1].shape == (7, 1)


def test_tol_and_n_iter_no_change_stop_training_as_scikit_learn_does():
    X, y = make_learnable(100, 8, 3, seed=6)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        # only the first epoch improves (on an infinite best loss) by tol=1e9: then 4 = n_iter_no_change + 1
        # epochs without improvement, and no warning
        clf = MLPClassifier((6,), tol=1e9, n_iter_no_change=3, max_iter=50, random_state=0).fit(X, y)
    assert clf.n_iter_ == 5 and len(clf.loss_curve_) == 5 and clf.best_loss_ == min(clf.loss_curve_)
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(3\) reached"):
        clf = MLPClassifier((6,), tol=0.0, max_iter=3, random_state=0).fit(X, y)
    assert clf.n_iter_ == 3


def test_early_stopping_ends_with_the_weights_that_scored_best_on_the_held_out_data():
    X, y = make_learnable(300, 8, 3, seed=7)
    clf = MLPClassifier((10,), batch_size=10, learning_rate_init=0.3, early_stopping=True, validation_fraction=0.2,
                        n_iter_no_change=4, max_iter=100, random_state=3).fit(X, y)
    assert len(clf.validation_scores_) == len(clf.validation_loss_curve_) == len(clf.loss_curve_) == clf.n_iter_
    assert clf.best_loss_ is None and clf.best_validation_score_ == max(clf.validation_scores_)
    # the split, as the estimator drew it: RandomState(3), stratified
    _, X_val, _, y_val = train_test_split(X, y, test_size=0.2, random_state=np.random.RandomState(3), stratify=y)
    assert clf.score(X_val, y_val) == clf.best_validation_score_
    lmbda = clf.alpha * 240 / 10
    assert min(clf.validation_loss_curve_) <= clf.network_.total_cost(X_val, y_val, lmbda=lmbda) + 1e-12
    assert MLPClassifier().fit(X, y).validation_loss_curve_ is None


@pytest.mark.parametrize("params,match", [
    (dict(learning_rate_init=0.0), "learning_rate_init must be positive"),
    (dict(hidden_layer_sizes=(10, 0)), "every entry of hidden_layer_sizes must be at least 1"),
    (dict(hidden_layer_sizes="ten"), "every entry of hidden_layer_sizes must be an integer"),
    (dict(activation="softplus"), "activation must be one of 'identity', 'logistic', 'tanh', 'relu'"),
    (dict(momentum=1.0), "momentum must be below 1.0"),
    (dict(batch_size=0), "batch_size must be at least 1"),
    (dict(validation_fraction=1.0), "validation_fraction must be below 1.0"),
    (dict(shuffle="yes"), "shuffle must be True or False"),
    (dict(cost="hinge"), "unknown cost 'hinge'"),
    (dict(dtype="float16"), "unknown dtype 'float16'"),
    (dict(cost="quadratic", activation="relu"), "gives a relu output layer, whose outputs are not probabilities"),
    (dict(batch_size=1, threads=2), "online learning"),
])
def test_bad_parameters_are_named_at_fit(params, match):
    X, y = make_learnable(40, 4, 2, seed=8)
    clf = MLPClassifier(**params)  # no check in __init__, as scikit-learn requires
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)


def test_warm_start_refuses_a_changed_network():
    X, y = regression_data()
    reg = MLPRegressor((5,), max_iter=1, warm_start=True).fit(X, y)
    reg.set_params(hidden_layer_sizes=(6,))
    with pytest.raises(ValueError, match=r"warm_start and partial_fit continue network_ \(sizes \[8, 5, 2\]"):
        reg.fit(X, y)
    with pytest.raises(ValueError, match="needs at least 2 classes, got 1 class"):
        MLPClassifier().fit(X, np.zeros(60))


@pytest.mark.parametrize("budget", [1, 2])
def test_threads_stay_within_the_thread_budget_joblib_gives_a_worker(budget):
    # joblib's workers get NUMBA_NUM_THREADS = cores // n_jobs; more threads would spin against each other.
    if budget > fastnn.checks.usable_cores():
        pytest.skip(f"needs {budget} cores")
    code = ("import threading, numpy as np\n"
            "from fastnn.sklearn import MLPClassifier\n"
            "names = []\n"
            "start = threading.Thread.start\n"
            "threading.Thread.start = lambda self: (names.append(self.name), start(self))\n"
            "X = np.random.default_rng(0).random((60, 8)); y = np.arange(60) % 3\n"
            "MLPClassifier((6,), batch_size=10, threads=2, max_iter=1).fit(X, y)\n"
            "print(sum(n.startswith('fastnn-') for n in names))\n")
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True,
                         env={**os.environ, "NUMBA_NUM_THREADS": str(budget)})
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == budget - 1  # one epoch: a second thread with a budget of 2, none with 1


def test_learns_real_digits(mnist_test_set):
    X, y = mnist_test_set
    clf = MLPClassifier((30,), batch_size=10, learning_rate_init=0.1, momentum=0.0, max_iter=10, random_state=0)
    clf.fit(X[:3000], y[:3000])
    assert clf.score(X[8000:], y[8000:]) > 0.87  # 3,000 real training digits, 2,000 held out; 0.89 when written
    assert clf.loss_curve_[-1] < clf.loss_curve_[0] / 2


def test_grid_search_on_joblib_threads_gives_the_fits_of_one_job():
    # The epoch kernels release the GIL, so n_jobs=2 on joblib's threading backend runs two fits at once in
    # one process, without starting worker processes; each fit has its own network, so the results are n_jobs=1's.
    import joblib
    from sklearn.model_selection import GridSearchCV
    X, y = make_learnable(300, 8, 3, seed=9)
    grid = {"batch_size": [1, 10], "learning_rate_init": [0.05, 0.2]}
    estimator = MLPClassifier((10,), max_iter=3, random_state=0)
    one = GridSearchCV(estimator, grid, cv=3, n_jobs=1).fit(X, y)
    with joblib.parallel_config(backend="threading"):
        two = GridSearchCV(estimator, grid, cv=3, n_jobs=2).fit(X, y)
    for key in ("mean_test_score", "split0_test_score", "split2_test_score"):
        np.testing.assert_array_equal(two.cv_results_[key], one.cv_results_[key])
    np.testing.assert_array_equal(two.best_estimator_.network_.params, one.best_estimator_.network_.params)


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_an_unknown_fit_parameter_is_a_type_error_naming_the_public_class(Estimator, method):
    X, y = make_learnable(20, 4, 2, seed=0)
    extra = {"classes": [0, 1]} if Estimator is MLPClassifier and method == "partial_fit" else {}
    with pytest.raises(TypeError, match=rf"^{Estimator.__name__}\.{method}\(\) got an unexpected keyword argument "
                                        r"'weights'"):
        getattr(Estimator(max_iter=1), method)(X, y, weights=np.ones(20), **extra)


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("momentum,alpha", [(0.0, 0.0), (0.9, 0.01)])
def test_weighted_full_batch_epochs_match_scikit_learn(Estimator, momentum, alpha):
    # Where a batch holds the whole training set, fastnn's weights (scaled to a mean of 1 over the set) and
    # scikit-learn's (each batch's gradient over its sum of weights) give the same step, the L2 term included.
    X, y = make_learnable(40, 6, 3, seed=2)
    if Estimator is MLPRegressor:
        y = regression_data(40, 6, 2, seed=2)[1]
    w = np.random.default_rng(4).uniform(0.0, 3.0, 40)
    theirs_class = neural_network.MLPClassifier if Estimator is MLPClassifier else neural_network.MLPRegressor
    params = dict(hidden_layer_sizes=(7,), activation="tanh", batch_size=40, learning_rate_init=0.1,
                  momentum=momentum, alpha=alpha)
    ours, theirs = one_epoch_each(Estimator, theirs_class, X, y, sample_weight=w, **params)
    if alpha == 0:  # (with alpha, fastnn's loss takes the L2 term at the epoch's end: see its docstring)
        outputs = y.shape[1] if y.ndim == 2 else 1  # the quadratic cost sums over the outputs, scikit-learn's averages
        assert ours.loss_ == pytest.approx(theirs.loss_ * outputs, rel=1e-9)
    unweighted, _ = one_epoch_each(Estimator, theirs_class, X, y, **params)
    assert np.abs(ours.coefs_[0] - unweighted.coefs_[0]).max() > 1e-4  # the weights changed the step


@pytest.mark.parametrize("dtype,tol", [("float32", 1e-5), ("float64", 1e-12)])
@pytest.mark.parametrize("batch_size", ["auto", 1])
def test_weighted_fit_equals_repeated_rows(dtype, tol, batch_size):
    # Whole-number weights, zeros included, against the rows repeated (and left out): equal up to round-off where
    # each epoch is one batch of the whole set. Online, the order of the steps differs (a row of weight 3 is one
    # step of 3 eta, not three of eta): the weighted fit learns the same task, to about the same accuracy.
    X, y = make_learnable(60, 5, 3, seed=6)
    w = np.random.default_rng(7).integers(0, 4, 60)
    params = dict(hidden_layer_sizes=(8,), learning_rate_init=0.2 if batch_size == "auto" else 0.01, max_iter=30,
                  random_state=0, dtype=dtype, batch_size=batch_size)
    weighted = MLPClassifier(**params).fit(X, y, sample_weight=w)
    repeated = MLPClassifier(**params).fit(X.repeat(w, axis=0), y.repeat(w))
    if batch_size == "auto":
        np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), rtol=0, atol=tol)
        assert weighted.loss_curve_ == pytest.approx(repeated.loss_curve_, rel=tol * 10)
    else:
        kept = w > 0
        scores = [m.score(X[kept], y[kept]) for m in (weighted, repeated)]
        assert min(scores) > 0.8 and abs(scores[0] - scores[1]) < 0.1, scores


def test_bad_sample_weights_are_named():
    X, y = make_learnable(20, 4, 2, seed=0)
    clf = MLPClassifier(max_iter=1)
    for w, message in [(-np.ones(20), r"negative weight -1 at row 0"), (np.zeros(20), r"zero for every row"),
                       (np.r_[np.nan, np.ones(19)], r"sample_weight contains NaN or inf \(first at row 0\)"),
                       (np.ones(19), r"sample_weight"), (np.where(y == 1, 1.0, 0.0), r"but those of class 1")]:
        with pytest.raises(ValueError, match=message):
            clf.fit(X, y, sample_weight=w)
    with pytest.raises(ValueError, match=r"zero for every row"):
        MLPRegressor(max_iter=1).fit(X, y.astype(float), sample_weight=np.zeros(20))


def test_early_stopping_splits_the_weights_and_scores_the_held_out_part_with_them():
    # The held-out tenth is split with its weights (as scikit-learn's train_test_split of X, y and sample_weight
    # with the estimator's random_state), and its score is the weighted accuracy of the fitted network.
    X, y = make_learnable(200, 5, 3, seed=8)
    w = np.random.default_rng(9).uniform(0.0, 2.0, 200)
    clf = MLPClassifier((8,), learning_rate_init=0.2, early_stopping=True, max_iter=3, n_iter_no_change=50,
                        random_state=0).fit(X, y, sample_weight=w)
    _, X_val, _, y_val, _, w_val = train_test_split(X, y, w, test_size=0.1, random_state=np.random.RandomState(0),
                                                    stratify=y)
    # the fit ends with the weights of the epoch that scored best; their weighted accuracy is that score
    assert clf.best_validation_score_ == pytest.approx(clf.score(X_val, y_val, sample_weight=w_val), abs=1e-12)
    assert clf.best_validation_score_ != pytest.approx(clf.score(X_val, y_val), abs=1e-3)

def multilabel_data(n=60, n_in=6, n_labels=3, seed=0):
    """X in [0, 1) and label sets: label j is on where a fixed random linear map's j-th output is positive."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, n_in))
    return X, ((X - 0.5) @ rng.standard_normal((n_in, n_labels)) > 0).astype(np.int64)


@pytest.mark.parametrize("batch_size,momentum", [(1, 0.0), (10, 0.9), (60, 0.5)])
def test_multilabel_epochs_match_scikit_learn(batch_size, momentum):
    # An indicator matrix of label sets: one sigmoid output per label and the cross-entropy cost, as scikit-learn's
    # logistic outputs and binary log loss; one epoch from the same weights, to 1e-10.
    X, Y = multilabel_data()
    ours, theirs = one_epoch_each(MLPClassifier, neural_network.MLPClassifier, X, Y, hidden_layer_sizes=(7,),
                                  activation="tanh", batch_size=batch_size, learning_rate_init=0.1,
                                  momentum=momentum, alpha=0.0)
    assert ours.out_activation_ == "logistic" and ours.network_.cost == "cross_entropy"
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=0, atol=1e-10)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    assert ours.predict(X).dtype == Y.dtype and ours.predict(X).shape == Y.shape
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)  # both sum the labels' log losses


def test_multilabel_refusals_name_the_problem():
    X, Y = multilabel_data()
    with pytest.raises(ValueError, match=r"multilabel targets need the cross-entropy cost .*'log_likelihood'"):
        MLPClassifier(max_iter=1, cost="log_likelihood").fit(X, Y)
    with pytest.raises(ValueError, match=r"class labels of shape \(n_samples,\) or a multilabel indicator matrix"):
        MLPClassifier(max_iter=1).fit(X, Y + (X[:, :3] > 0.5))  # 0, 1 and 2: multiclass-multioutput
    with pytest.raises(ValueError, match=r"y row 0 holds a value other than 0 and 1: multilabel targets are label"):
        MLPClassifier(max_iter=1).fit(X, Y * 2)  # two values: scikit-learn takes it for an indicator matrix
    clf = MLPClassifier(max_iter=1, warm_start=True).fit(X, Y)
    with pytest.raises(ValueError, match=r"fitted on label sets, and y now holds class labels"):
        clf.fit(X, Y[:, 0])
    with pytest.raises(ValueError, match=r"y has 2 labels; the first fit had 3"):
        clf.fit(X, Y[:, :2])
    with pytest.raises(ValueError, match="classes must be passed"):
        MLPClassifier().partial_fit(X, Y)
    part = MLPClassifier().partial_fit(X, Y, classes=[0, 1, 2]).partial_fit(X, Y)
    assert part.n_iter_ == 1 and part.t_ == 120


def test_multilabel_learns_properties_of_real_digits(mnist_test_set):
    # Three properties of each of 3,000 real digits, any number of which can hold: even, at least 5, prime.
    # Hamming accuracy on 2,000 held-out digits; always answering the most common value of each scores 0.55-0.6.
    X, y = mnist_test_set
    Y = np.stack([y % 2 == 0, y >= 5, np.isin(y, [2, 3, 5, 7])], axis=1).astype(np.int64)
    clf = MLPClassifier((30,), batch_size=10, learning_rate_init=0.5, momentum=0.0, max_iter=10, random_state=0)
    clf.fit(X[:3000], Y[:3000])
    said = clf.predict(X[8000:])
    assert said.shape == (2000, 3) and set(np.unique(said)) <= {0, 1}
    hamming = np.mean(said == Y[8000:])
    assert hamming > 0.9, hamming
    assert clf.score(X[8000:], Y[8000:]) > 0.75  # all three right


def test_weighted_partial_fit_takes_batches_of_one_class():
    # The two-class rule of weighted fits is fit's: a partial_fit call may hold one class (one example, say)
    X, y = make_learnable(40, 4, 2, seed=1)
    clf = MLPClassifier((5,), random_state=0).partial_fit(X, y, classes=[0, 1])
    clf.partial_fit(X[y == 0], y[y == 0], sample_weight=np.arange(np.sum(y == 0)) + 1.0)
    clf.partial_fit(X[:1], y[:1], sample_weight=[3.0])
    assert clf.t_ == 40 + np.sum(y == 0) + 1


def test_a_fit_that_cannot_start_leaves_the_estimator_as_it_was():
    X, y = make_learnable(60, 4, 3, seed=3)
    clf = MLPClassifier((6,), max_iter=5, random_state=0, learning_rate_init=0.5).fit(X, y)
    before, attributes = clf.predict_proba(X), dict(clf.__dict__)
    labels = multilabel_data(60, 4)[1]
    for bad in [dict(y=labels, cost="log_likelihood"), dict(y=y, sample_weight=-np.ones(60)),
                dict(y=y, threads=10**6)]:
        params = {k: v for k, v in bad.items() if k in ("cost", "threads")}
        clf.set_params(**params)
        with pytest.raises(ValueError):
            clf.fit(X, bad["y"], sample_weight=bad.get("sample_weight"))
        clf.set_params(cost=None, threads=1)
        assert clf.__dict__.keys() == attributes.keys() and clf.network_ is attributes["network_"]
        np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_weights_as_scikit_learn_takes_them_and_subnormal_ones():
    X, y = make_learnable(40, 4, 2, seed=4)
    params = dict(hidden_layer_sizes=(5,), max_iter=3, random_state=0, alpha=0.0)
    plain = MLPClassifier(**params).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(MLPClassifier(**params).fit(X, y, sample_weight=2.0).predict_proba(X), plain)
    by_bool = MLPClassifier(**params).fit(X, y, sample_weight=np.arange(40) % 3 > 0).predict_proba(X)
    by_float = MLPClassifier(**params).fit(X, y, sample_weight=(np.arange(40) % 3 > 0) * 1.0).predict_proba(X)
    np.testing.assert_array_equal(by_bool, by_float)
    # weights valid up to scale, the smallest subnormal numbers: the same fit as their ratios
    tiny = np.where(np.arange(40) % 2, 5e-324, 1e-323)
    by_tiny = MLPClassifier(**params).fit(X, y, sample_weight=tiny).predict_proba(X)
    by_ratio = MLPClassifier(**params).fit(X, y, sample_weight=np.where(np.arange(40) % 2, 1.0, 2.0)).predict_proba(X)
    np.testing.assert_array_equal(by_tiny, by_ratio)
    with pytest.raises(ValueError, match=r"sample_weight's mean \([0-9.e-]+\) is so small that the L2 term"):
        MLPClassifier(**dict(params, alpha=1e-4)).fit(X, y, sample_weight=tiny)


def test_early_stopping_names_its_held_out_part_when_its_weights_are_all_zero():
    X, y = make_learnable(40, 4, 2, seed=5)
    clf = MLPClassifier((5,), max_iter=2, early_stopping=True, validation_fraction=0.25, random_state=0)
    _, _, _, _, _, held_out = train_test_split(X, y, np.arange(40), test_size=0.25, stratify=y,
                                               random_state=np.random.RandomState(0))
    w = np.ones(40)
    w[held_out] = 0.0
    with pytest.raises(ValueError, match=r"^the sample_weight of early_stopping's held-out part of X is zero for "
                                         r"every row"):
        clf.fit(X, y, sample_weight=w)


def test_the_validation_loss_has_the_training_losss_l2_term():
    X, y = make_learnable(200, 5, 3, seed=8)
    clf = MLPClassifier((5,), max_iter=1, alpha=1.0, early_stopping=True, random_state=0, dtype="float64",
                        batch_size=20).fit(X, y)
    _, X_val, _, y_val = train_test_split(X, y, test_size=0.1, random_state=np.random.RandomState(0), stratify=y)
    from sklearn.metrics import log_loss
    l2 = 0.5 * 1.0 * sum(np.sum(c ** 2) for c in clf.coefs_) / 20  # alpha ||w||^2 / (2 batch_size), as loss_'s
    assert clf.validation_loss_curve_[-1] == pytest.approx(log_loss(y_val, clf.predict_proba(X_val)) + l2, rel=1e-9)


def test_label_sets_as_bools_sparse_matrices_and_partial_fit_classes():
    import scipy.sparse
    X, Y = multilabel_data()
    params = dict(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    want = MLPClassifier(**params).fit(X, Y).predict_proba(X)
    for form in (Y.astype(bool), Y.astype(float), scipy.sparse.csr_matrix(Y)):
        clf = MLPClassifier(**params).fit(X, form)
        np.testing.assert_array_equal(clf.predict_proba(X), want)
        assert clf.predict(X).dtype == np.int64
    with pytest.raises(ValueError, match=r"for label sets, classes must be the label indices 0 to 2"):
        MLPClassifier(**params).partial_fit(X, Y, classes=[0, 1])
    MLPClassifier(**params).partial_fit(X, Y, classes=[0, 1, 2]).partial_fit(X, Y, classes=np.arange(3))
