"""fastnn as scikit-learn estimators: ``MLPClassifier`` and ``MLPRegressor``.

Needs scikit-learn 1.6 or later (``pip install "fastnn[sklearn]"``); this is the only module of
fastnn that imports it. Each estimator builds a ``fastnn.Network`` (its ``network_``) and trains
it through ``fastnn.training.run``, one compiled call per epoch, with scikit-learn's parameter
names where the meaning is the same::

    from sklearn.model_selection import GridSearchCV
    from fastnn.sklearn import MLPClassifier
    search = GridSearchCV(MLPClassifier(max_iter=5), {"batch_size": [1, 20], "learning_rate_init": [0.01, 0.1]})

The class docstrings list every difference from ``sklearn.neural_network``'s estimators.

scikit-learn's ``check_estimator`` passes for both: tests/test_sklearn.py runs every check it
yields (``check_array_api_input`` in a subprocess, since SciPy reads SCIPY_ARRAY_API at import;
``check_sample_weight_equivalence_on_dense_data`` in float64, see tests/test_sklearn.py), the
sample-weight and multilabel checks included, as for scikit-learn's own MLPs. One check skips
itself: ``check_classifiers_multilabel_output_format_decision_function``, since MLPClassifier has
no decision_function (scikit-learn's neither). Sparse X is refused with scikit-learn's error, which
its checks accept.

Searches in parallel: the compiled kernels (training and inference) release the GIL, so
``GridSearchCV(..., n_jobs=2)`` can run its fits in threads of the calling process, which skips
starting joblib's worker processes (seconds: each imports scikit-learn and loads the kernels)::

    import joblib
    with joblib.parallel_config(backend="threading"):
        search.fit(X, y)

Each fit trains its own network, so the results are those of ``n_jobs=1``. The backend is the
caller's choice (scikit-learn takes it from ``joblib.parallel_config``, not from the estimator);
keep ``threads=1`` there, since the threads of one process all see every core.
bench/GRIDSEARCH.md has the measurements.
"""
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .checks import check_float, check_int, check_threads, check_weights, thread_budget
from .model import Network
from .training import Optimizer, run

__all__ = ["MLPClassifier", "MLPRegressor"]

# scikit-learn's activation names -> fastnn's, and fastnn's output activations -> out_activation_.
ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
OUT_ACTIVATIONS = {"sigmoid": "logistic", "softmax": "softmax", "identity": "identity", "tanh": "tanh", "relu": "relu"}

_PARAMETERS = """
    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Neurons per hidden layer; the input and output layers follow from the data.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Activation of the hidden layers ("logistic" is the book's sigmoid).
    batch_size : int >= 1 or "auto", default="auto"
        Examples per update; 1 is online learning. "auto" is min(200, n_samples), as in
        scikit-learn; a larger batch size is clipped to n_samples (scikit-learn also warns).
    learning_rate_init : float > 0, default=0.001
        The learning rate eta, constant for the whole run (scikit-learn's
        ``learning_rate="constant"``; there are no schedules).
    momentum : float in [0, 1), default=0.9
        Momentum coefficient; 0 is the book's plain SGD.
    nesterovs_momentum : bool, default=True
        Nesterov's momentum, in the same form as scikit-learn's (Sutskever et al. 2013).
    alpha : float >= 0, default=0.0001
        L2 penalty, with the meaning it has for scikit-learn's "sgd" solver: every update
        adds alpha * w / batch_size to the gradient of the weights (not the biases), i.e. it
        minimises the mean cost plus 0.5 * alpha * ||w||^2 / batch_size. The book's L2 term is
        0.5 * (lmbda / n) * ||w||^2 on the mean cost over the n training examples, so the
        network trains with ``lmbda = alpha * n / batch_size``. One difference remains:
        scikit-learn divides by the size of each mini-batch, so its last, smaller batch of an
        epoch decays the weights more; fastnn decays every batch by
        learning_rate_init * alpha / batch_size.
    max_iter : int >= 1, default=200
        The most epochs ``fit`` runs (each visits every training example once).
    shuffle : bool, default=True
        Visit the examples in a new random order every epoch (``fit`` and ``partial_fit``).
    random_state : int, RandomState instance or None, default=None
        One seed for all the randomness. An int seeds the network: its initial weights and,
        through a stream derived from it, its shuffles (see ``fastnn.Network``); a
        RandomState or None gives the network a seed drawn from it. The early-stopping
        validation split comes from ``check_random_state(random_state)``, as in scikit-learn.
        With an int, two fits give identical networks. The shuffles continue across
        ``partial_fit`` calls (scikit-learn's restart at the same order in every call).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified for the classifier),
        stop when its score stops improving (see ``tol``), and end with the weights of the
        epoch that scored best. ``partial_fit`` refuses it, as scikit-learn's does.
    validation_fraction : float in (0, 1), default=0.1
        The held-out fraction for early stopping.
    n_iter_no_change : int >= 1, default=10
        See ``tol``.
    tol : float >= 0, default=1e-4
        As in scikit-learn with a constant learning rate: an epoch counts as an improvement
        when the training loss fell below the best so far minus tol (with early stopping: when
        the validation score rose to at least the best so far plus tol); ``fit`` stops after
        more than n_iter_no_change consecutive epochs without one. If it runs max_iter epochs
        instead, it warns with a ``ConvergenceWarning``.
    verbose : bool, default=False
        Print the loss (and the validation score) after every epoch.
    warm_start : bool, default=False
        ``fit`` continues from the current weights (the velocity restarts from zero, as in
        scikit-learn). The layer sizes, activation, cost and dtype must not have changed.
    cost : str or None, default=None
        fastnn's cost function (``fastnn.registry.COSTS``), which also sets the output layer.
        None: %(default_cost)s
    dtype : {"float32", "float64"}, default="float32"
        The precision the network trains and predicts in, whatever the dtype of X
        (scikit-learn computes in X's dtype).
    threads : int >= 1, default=1
        Threads per epoch (``fastnn.Network.fit``); needs batch_size > 1 to use more than one.
        Capped at NUMBA_NUM_THREADS, which joblib sets to cores // n_jobs in the worker processes
        of ``GridSearchCV(n_jobs=...)``: there, more threads than cores wait on each other's
        spin barriers (threads=2 in two workers on 2 cores took 15x as long).
"""

_ATTRIBUTES = """
    Attributes
    ----------
    network_ : fastnn.Network
        The trained network (save it with ``network_.save``).
    coefs_ : list of ndarray
        Weight matrices, one per layer, of shape (n_in, n_out) as scikit-learn's: transposed
        views into ``network_``'s parameters (writing into them changes the network).
    intercepts_ : list of ndarray
        Bias vectors, one per layer, of shape (n_out,): views into ``network_``'s parameters.
    loss_ : float
        The last entry of loss_curve_.
    loss_curve_ : list of float
        The training loss of each epoch, counted as scikit-learn counts it: the mean over the
        epoch's examples of the cost of each at the weights it saw, before its mini-batch's
        update, which the compiled epoch adds up as it goes (no extra pass over the data; see
        ``fastnn.Network.train_epoch``), plus the L2 term 0.5 * alpha * ||w||^2 / batch_size.
        One difference: the L2 term is taken on the weights at the end of the epoch
        (scikit-learn adds each mini-batch's, on the weights before its update). The costs
        are the book's: the quadratic cost sums 0.5 (a - y)^2 over the outputs (scikit-learn's
        squared error averages over them), the cross-entropy and log-likelihood equal
        scikit-learn's log loss (a clipped to [eps, 1 - eps] as there, eps of the dtype).
    validation_loss_curve_ : list of float or None
        With early_stopping, the loss on the held-out data after each epoch, a pass over them
        with the weights at the end of the epoch (``network_.total_cost``, with the same L2
        term; asked for in scikit-learn's issue 18507); None without.
    validation_scores_ : list of float or None
        With early_stopping, the score on the held-out data after each epoch (%(score)s);
        None without.
    best_validation_score_ : float or None
        The best of validation_scores_ (None without early_stopping).
    best_loss_ : float or None
        The lowest training loss (None with early_stopping, as in scikit-learn).
    n_iter_ : int
        Epochs run by the last ``fit`` or ``partial_fit`` call.
    t_ : int
        Training examples seen, over all calls.
    n_features_in_ : int
        Number of features seen in fit.
    feature_names_in_ : ndarray of str
        Names of the features seen in fit, when X has string column names.
    n_layers_ : int
        Layers, input and output included.
    n_outputs_ : int
        Output neurons.
    out_activation_ : str
        The output layer's activation, in scikit-learn's names ("softmax", "logistic",
        "identity", ...).
"""

_DIFFERENCES = """
    The solver is stochastic gradient descent with momentum (scikit-learn's
    ``solver="sgd"``, ``learning_rate="constant"``): there is no adam or lbfgs, so no
    ``solver``, ``learning_rate``, ``power_t``, ``beta_1``, ``beta_2``, ``epsilon`` or
    ``max_fun``. Also missing: sparse X. The defaults of the shared parameters are
    scikit-learn's; since scikit-learn's default solver is adam, a model tuned there usually
    wants a larger learning_rate_init here.

    ``sample_weight`` scales each example's cost by its weight over the mean weight of the
    training set (of the call, for ``partial_fit``): every update follows the weighted gradient,
    and an epoch's mean gradient is sum_i w_i g_i / sum_i w_i, at every batch size.
    scikit-learn divides each mini-batch's weighted gradient by that batch's own sum of weights,
    so the two agree where a batch holds the whole training set (the tests check one epoch to
    1e-10 there) but not for smaller batches, and at batch_size=1 scikit-learn's weights cancel
    out (an example of weight 3 makes the same step as one of weight 1); here they do not. The L2
    term divides by the weights' sum where it divided by the number of examples: alpha * w /
    (batch_size * mean weight), as scikit-learn's alpha * w / (the batch's sum of weights).
    Weights must be at least 0, not all 0. Early stopping splits them with the data, and the
    validation score and loss are weighted, as in scikit-learn.

    Initial weights: fastnn's "default" initialisation, w ~ N(0, 1/n_in) and b ~ N(0, 1)
    (the book's), not scikit-learn's Glorot uniform. See the parameters for alpha, batch_size,
    tol, n_iter_no_change and random_state, and the attributes for loss_curve_.
"""


def _doc(text, **values):
    """text with %(name)s replaced by values: the shared sections of the two estimators' docstrings."""
    return text % dict(values, parameters=_PARAMETERS % values, attributes=_ATTRIBUTES % values,
                       differences=_DIFFERENCES)


def _refuse_fit_params(estimator, method, params):
    """A TypeError for unknown fit parameters, naming the public class (Python's own names _MLP.fit())."""
    if params:
        raise TypeError(f"{type(estimator).__name__}.{method}() got an unexpected keyword argument "
                        f"{next(iter(params))!r}")


class _MLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share; see their docstrings."""

    _default_cost = None  # the subclass's cost when cost=None

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, batch_size="auto", learning_rate_init=0.001,
                 momentum=0.9, nesterovs_momentum=True, alpha=0.0001, max_iter=200, shuffle=True, random_state=None,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=10, tol=1e-4, verbose=False,
                 warm_start=False, cost=None, dtype="float32", threads=1):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.alpha = alpha
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.cost = cost
        self.dtype = dtype
        self.threads = threads

    # ------------------------------------------------------------------ the network
    @property
    def coefs_(self):
        """Weight matrices of shape (n_in, n_out): transposed views of network_'s weights."""
        return [w.T for w in self.network_.weights]

    @property
    def intercepts_(self):
        """Bias vectors of shape (n_out,): views of network_'s biases."""
        return list(self.network_.biases)

    def _hidden_sizes(self):
        h = self.hidden_layer_sizes
        try:
            h = [h] if isinstance(h, numbers.Integral) else list(h)
        except TypeError:
            raise ValueError(f"hidden_layer_sizes must be an int or a sequence of ints, got {h!r}") from None
        return [check_int(v, "every entry of hidden_layer_sizes", 1) for v in h]

    def _spec(self, n_features, n_outputs):
        """(sizes, activation, cost, dtype) of the network these parameters ask for."""
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(map(repr, ACTIVATIONS))}, got {self.activation!r}")
        cost = self._default_cost if self.cost is None else self.cost
        return [n_features, *self._hidden_sizes(), n_outputs], ACTIVATIONS[self.activation], cost, self.dtype

    def _check_options(self):
        """The training options, checked; a ValueError names the first bad one."""
        for name in ("shuffle", "nesterovs_momentum", "early_stopping", "warm_start"):
            if getattr(self, name) not in (True, False):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            check_int(self.batch_size, "batch_size", 1)
        check_float(self.learning_rate_init, "learning_rate_init", positive=True)
        check_float(self.momentum, "momentum", minimum=0.0, below=1.0)
        check_float(self.alpha, "alpha", minimum=0.0)
        check_int(self.max_iter, "max_iter", 1)
        check_int(self.n_iter_no_change, "n_iter_no_change", 1)
        check_float(self.tol, "tol", minimum=0.0)
        check_float(self.validation_fraction, "validation_fraction", positive=True, below=1.0)

    def _network(self, n_features, n_outputs, first, rng):
        """A new network (first call), or the current one after checking that it fits the parameters."""
        sizes, activation, cost, dtype = self._spec(n_features, n_outputs)
        if not first:
            net = self.network_
            if (net.sizes, net.activation, net.cost) != (sizes, activation, cost) or net.dtype != np.dtype(dtype):
                raise ValueError(
                    f"warm_start and partial_fit continue network_ (sizes {net.sizes}, activation {net.activation!r}, "
                    f"cost {net.cost!r}, {net.dtype}), but the data and parameters now ask for sizes {sizes}, "
                    f"activation {activation!r}, cost {cost!r}, {dtype}; fit with warm_start=False to start anew")
            return net
        seed = self.random_state if isinstance(self.random_state, numbers.Integral) else int(rng.randint(2**31 - 1))
        return Network(sizes, activation=activation, cost=cost, dtype=dtype, seed=seed)

    def _checked_X(self, X):
        """X of a fitted estimator for prediction, as the network takes it."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return self.network_.check_data(X)

    def _outputs(self, X):
        """The network's outputs for X, (n_samples, n_outputs), in float64."""
        X = self._checked_X(X)
        return self.network_.feedforward(X).astype(np.float64)

    # ------------------------------------------------------------------ training
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Train a new network (or, with warm_start, continue the current one) on (X, y).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), or (n_samples, n_outputs) for MLPRegressor
            Class labels (MLPClassifier) or targets (MLPRegressor).
        sample_weight : array-like of shape (n_samples,) or None
            Each example's weight, at least 0 (see Notes for how it differs from scikit-learn's).
        **fit_params
            None other is supported: a TypeError names it.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            For bad parameters or data, naming the problem.
        TypeError
            For a fit parameter other than sample_weight.
        fastnn.DivergenceError
            When training produced non-finite weights (the last finite ones are kept).
        """
        _refuse_fit_params(self, "fit", fit_params)
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    def partial_fit(self, X, y, sample_weight=None, **fit_params):
        """One epoch over (X, y), keeping the weights and the optimizer's velocity between calls.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,) or None
            As in ``fit``, scaled over this call's examples.
        **fit_params
            None other is supported (see ``fit``).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            For bad parameters or data, naming the problem.
        TypeError
            For a fit parameter other than sample_weight.
        """
        _refuse_fit_params(self, "partial_fit", fit_params)
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def _fit(self, X, y, incremental, classes=None, sample_weight=None):
        before = dict(self.__dict__)
        try:
            net, data, val, w_val, batch_size, lmbda = self._prepare(X, y, incremental, classes, sample_weight)
            threads = min(check_threads(self.threads, batch_size, False), thread_budget())
        except BaseException:  # a fit that cannot start leaves the estimator as it was
            self.__dict__.clear()
            self.__dict__.update(before)
            raise
        n = len(data.X)
        optimizer = Optimizer(self.learning_rate_init, lmbda, self.momentum, self.nesterovs_momentum)
        if not incremental:
            net.reset_optimizer()
        self.n_iter_ = 0

        def after_epoch(pos):
            self.n_iter_ += 1
            self.t_ += n
            l2 = 0.5 * (lmbda / n) * net.squared_weights()  # see loss_curve_; the validation loss's too
            self.loss_ = pos.loss + l2
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
            if not self.early_stopping:
                improved = not self.loss_ > self.best_loss_ - self.tol
                self.best_loss_ = min(self.best_loss_, self.loss_)
            else:
                # the training loss's L2 term (total_cost's own would divide by the held-out part's size)
                self.validation_loss_curve_.append(net.total_cost(val) + l2)
                score = self._validation_score(val, w_val)
                self.validation_scores_.append(score)
                if self.verbose:
                    print(f"Validation score: {score:f}")
                improved = not score < self.best_validation_score_ + self.tol
                if score > self.best_validation_score_:
                    self.best_validation_score_ = score
                    self._best_params = net.params.copy()
            self._no_improvement_count = 0 if improved else self._no_improvement_count + 1
            return not incremental and self._no_improvement_count > self.n_iter_no_change

        pos = run(net, data, 1 if incremental else self.max_iter, batch_size, optimizer, on_epoch=after_epoch,
                  order=(lambda epoch: net.rng.permutation(n)) if self.shuffle else None, threads=threads)
        if not incremental and not pos.stopped:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the optimization "
                          f"hasn't converged yet.", ConvergenceWarning)
        if self.early_stopping:
            net.params[:] = self._best_params
        return self

    def _prepare(self, X, y, incremental, classes, sample_weight):
        """Check everything and set up the network: (net, data, val, w_val, batch_size, lmbda)."""
        self._check_options()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True (as in scikit-learn); use fit")
        first = not hasattr(self, "network_") or not (self.warm_start or incremental)
        X, y = validate_data(self, X, y, reset=first, dtype=(np.float64, np.float32), **self._y_checks)
        if sample_weight is not None:
            sample_weight = check_weights(sample_weight, len(X))
        targets = self._targets(y, first, incremental, classes)
        if not incremental:  # (a partial_fit call may hold one class)
            self._check_weighted_targets(targets, sample_weight)
        rng = check_random_state(self.random_state)
        net = self._network(X.shape[1], self._n_outputs(targets), first, rng)
        if first:
            self._start(net)
        val = w_val = None
        name = "X"
        if self.early_stopping:
            parts = train_test_split(X, targets, *([] if sample_weight is None else [sample_weight]),
                                     test_size=self.validation_fraction, random_state=rng,
                                     stratify=self._stratify(targets))
            X, X_val, targets, y_val = parts[:4]
            if sample_weight is not None:
                sample_weight, w_val = parts[4:]
            if len(X_val) < 2:
                raise ValueError(f"the validation set has {len(X_val)} example(s); early stopping needs at least 2: "
                                 f"increase validation_fraction or the data")
            val = net.check_data(X_val, y_val, name="early_stopping's held-out part of X", sample_weight=w_val,
                                 multilabel=self._label_sets())
            name = "early_stopping's training part of X"
        data = net.check_data(X, targets, name=name, sample_weight=sample_weight, multilabel=self._label_sets())
        n = len(data.X)
        batch_size = min(200 if self.batch_size == "auto" else self.batch_size, n)
        # see the alpha parameter; weights scale the L2 term as repeated rows would (sum of weights, not n)
        w_mean = 1.0 if sample_weight is None else float(np.mean(sample_weight))
        lmbda = self.alpha * n / (batch_size * w_mean)
        if not np.isfinite(lmbda):
            raise ValueError(f"sample_weight's mean ({w_mean:.3g}) is so small that the L2 term, alpha * w / "
                             f"(batch_size * mean weight), overflows: scale the weights up, or set alpha=0")
        return net, data, val, w_val, batch_size, lmbda

    def _check_weighted_targets(self, targets, sample_weight):
        """Raise for weights that leave nothing to learn (the classifier: fewer than 2 classes)."""

    def _label_sets(self):
        """Whether the targets are label sets (a multilabel classifier)."""
        return False

    def _start(self, net):
        """Set the fitted attributes of a new network; the curves start empty."""
        self.network_ = net
        self.n_layers_ = len(net.sizes)
        self.n_outputs_ = net.sizes[-1]
        self.out_activation_ = OUT_ACTIVATIONS[net.output_activation]
        self.t_ = 0
        self.loss_curve_ = []
        self._no_improvement_count = 0
        self._best_params = net.params.copy()
        stopping = self.early_stopping
        self.validation_scores_ = [] if stopping else None
        self.validation_loss_curve_ = [] if stopping else None
        self.best_validation_score_ = -np.inf if stopping else None
        self.best_loss_ = None if stopping else np.inf

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


class MLPClassifier(ClassifierMixin, _MLP):
    __doc__ = _doc("""A multi-layer perceptron classifier trained by fastnn's compiled SGD epochs.

    A drop-in for ``sklearn.neural_network.MLPClassifier(solver="sgd")``: the same parameter
    names and fitted attributes, differences listed under Notes. Labels may be any values
    ``numpy.unique`` can sort (ints, strings, ...).
%(parameters)s
%(attributes)s    classes_ : ndarray
        The class labels, sorted.

    Notes
    -----
    The output layer has one neuron per class, also for two classes (scikit-learn uses one
    logistic neuron there), so ``coefs_[-1]`` has n_classes columns. The default cost,
    "log_likelihood", gives a softmax output and the multinomial log loss, as scikit-learn's
    multiclass output. "cross_entropy" (sigmoid outputs) and "quadratic" with
    activation="logistic" are allowed too; their outputs do not sum to 1, so
    ``predict_proba`` divides each row by its sum, in float64. Costs whose outputs are not
    in [0, 1] are refused.

    Multilabel: y may be an indicator matrix (n_samples, n_labels) of 0s and 1s, as in
    scikit-learn. The network then has one sigmoid output per label and the cross-entropy cost
    (the default for such y; other costs are refused), ``classes_`` is ``arange(n_labels)``,
    ``predict`` gives the labels whose output exceeds 0.5 (an int64 indicator matrix),
    ``predict_proba`` each label's output, and ``score`` the subset accuracy. Early stopping
    does not stratify label sets (scikit-learn neither).
%(differences)s
    Examples
    --------
    >>> from fastnn.sklearn import MLPClassifier
    >>> clf = MLPClassifier(hidden_layer_sizes=(30,), batch_size=10, learning_rate_init=0.1, random_state=0)
    >>> clf.fit(X, y).predict(X[:3])  # doctest: +SKIP
    """, default_cost='"log_likelihood" (a softmax output layer; see Notes).', score="accuracy")

    _y_checks = {"multi_output": True}  # a multilabel indicator matrix; other 2-D y is refused in _targets

    @property
    def _default_cost(self):
        return "cross_entropy" if self._label_sets() else "log_likelihood"

    def partial_fit(self, X, y, sample_weight=None, classes=None, **fit_params):
        """One epoch over (X, y), keeping the weights and the optimizer's velocity between calls.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,) or None
            As in ``fit``, scaled over this call's examples.
        classes : array-like or None
            Every class of all calls: required in the first call (np.unique(y_all)), and if
            given later, the same. After sample_weight, as in scikit-learn.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            For bad parameters or data, a first call without classes, or labels outside them.
        TypeError
            For a fit parameter other than sample_weight and classes.
        """
        _refuse_fit_params(self, "partial_fit", fit_params)
        return self._fit(X, y, incremental=True, classes=classes, sample_weight=sample_weight)

    def _label_sets(self):
        return getattr(self, "_multilabel", False)

    def _targets(self, y, first, incremental, classes):
        """The labels as integer indices into classes_ (set in the first call); label sets as 0s and 1s."""
        if hasattr(y, "toarray"):  # a sparse indicator matrix of label sets
            y = y.toarray()
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        kind = type_of_target(y)
        if y.ndim == 2 and kind != "multilabel-indicator":
            raise ValueError(f"MLPClassifier takes class labels of shape (n_samples,) or a multilabel indicator "
                             f"matrix of 0s and 1s; got y of shape {y.shape} ({kind})")
        multilabel = kind == "multilabel-indicator"
        if first:
            if incremental and classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit (e.g. np.unique(y_all))")
            self._multilabel = multilabel
        elif multilabel != self._label_sets():
            raise ValueError(f"MLPClassifier was fitted on {'label sets' if self._label_sets() else 'class labels'}, "
                             f"and y now holds {'label sets' if multilabel else 'class labels'}; fit with "
                             f"warm_start=False to start anew")
        if multilabel:
            if first:
                self.classes_ = np.arange(y.shape[1])
            elif y.shape[1] != len(self.classes_):
                raise ValueError(f"y has {y.shape[1]} labels; the first fit had {len(self.classes_)}")
            if classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
                raise ValueError(f"for label sets, classes must be the label indices 0 to {len(self.classes_) - 1} "
                                 f"(classes_ is arange(n_labels)), got {list(classes)}")
            return y.astype(np.int64)  # bool columns too
        if first:
            found = np.unique(y if classes is None or not incremental else np.asarray(classes))
            if len(found) < 2:
                raise ValueError(f"MLPClassifier needs at least 2 classes, got 1 class ({found[0]!r})")
            self.classes_ = found
        elif classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
            raise ValueError(f"classes={list(classes)} differs from the classes of the first call, "
                             f"{self.classes_.tolist()}")
        elif not incremental and not np.array_equal(np.unique(y), self.classes_):
            raise ValueError(f"warm_start needs y to have the classes of the previous fit, {self.classes_.tolist()}; "
                             f"y has {np.unique(y).tolist()}")
        unknown = np.setdiff1d(y, self.classes_)
        if len(unknown):
            raise ValueError(f"y has classes {unknown.tolist()} that are not in classes_ {self.classes_.tolist()}")
        return np.searchsorted(self.classes_, y)

    def _n_outputs(self, labels):
        return len(self.classes_)

    def _check_weighted_targets(self, labels, sample_weight):
        if sample_weight is None or self._label_sets():
            return
        kept = np.unique(labels[sample_weight > 0])
        if len(kept) == 1:  # (no class left: as_weights says that every weight is zero)
            raise ValueError(f"sample_weight is zero for every example but those of class "
                             f"{self.classes_[kept[0]].item()!r}: MLPClassifier needs examples of at least 2 classes "
                             f"with positive weight")

    def _stratify(self, labels):
        return None if self._label_sets() else labels

    def _network(self, n_features, n_outputs, first, rng):
        net = super()._network(n_features, n_outputs, first, rng)
        if net.output_activation not in ("softmax", "sigmoid"):
            raise ValueError(f"cost={net.cost!r} with activation={self.activation!r} gives a {net.output_activation} "
                             f"output layer, whose outputs are not probabilities; use cost='log_likelihood' "
                             f"(softmax) or 'cross_entropy' (sigmoid)")
        return net

    def _validation_score(self, val, weights):
        if weights is None:
            return self.network_.accuracy(val)  # for label sets, the subset accuracy, as score's
        if self._label_sets():
            truth, said = val.Y[:, :len(self.classes_)] == 1, self.network_.feedforward(val.X) > 0.5
        else:
            truth, said = val.labels, self.network_.predict(val.X)
        return accuracy_score(truth, said, sample_weight=weights)

    def predict(self, X):
        """The class of largest output for every row of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from classes_; for label sets, (n_samples, n_labels) int64 0s and 1s (the labels whose
            output exceeds 0.5), as scikit-learn's.
        """
        if self._label_sets():
            return (self._outputs(X) > 0.5).astype(np.int64)
        X = self._checked_X(X)
        return self.classes_[self.network_.predict(X)]

    def predict_proba(self, X):
        """Class probabilities: the outputs divided by their sum, row by row, in float64.

        With the softmax output (the default) that only removes the float32 rounding; with
        sigmoid outputs it turns n_classes independent probabilities into one distribution.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes), float64
            Columns in the order of classes_; every row sums to 1 up to float64 rounding. For label sets,
            each label's own probability (its sigmoid output), as scikit-learn's.
        """
        out = self._outputs(X)
        if self._label_sets():
            return out
        total = out.sum(axis=1, keepdims=True)
        none = total[:, 0] == 0  # every sigmoid output underflowed to 0: no class is preferred
        out[none] = 1.0
        total[none] = out.shape[1]
        return out / total

    def predict_log_proba(self, X):
        """The logarithm of ``predict_proba(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _MLP):
    __doc__ = _doc("""A multi-layer perceptron regressor trained by fastnn's compiled SGD epochs.

    A drop-in for ``sklearn.neural_network.MLPRegressor(solver="sgd")``: the same parameter
    names and fitted attributes, differences listed under Notes. The output layer is linear
    (the identity) and the cost quadratic, so one epoch computes what scikit-learn's does,
    up to the last mini-batch's L2 decay (see alpha). One or several outputs.
%(parameters)s
%(attributes)s
    Notes
    -----
    Predictions are float64 arrays, of shape (n_samples,) when the network has one output.
%(differences)s
    Examples
    --------
    >>> from fastnn.sklearn import MLPRegressor
    >>> reg = MLPRegressor(hidden_layer_sizes=(30,), learning_rate_init=0.01, random_state=0)
    >>> reg.fit(X, y).predict(X[:3])  # doctest: +SKIP
    """, default_cost='"quadratic_identity" (the quadratic cost with a linear output layer).', score="R^2")

    _default_cost = "quadratic_identity"
    _y_checks = {"multi_output": True, "y_numeric": True}

    def _targets(self, y, first, incremental, classes):
        """The targets as a 2-D array, one column per output."""
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return y.reshape(len(y), -1)

    def _n_outputs(self, targets):
        return targets.shape[1]

    def _stratify(self, targets):
        return None

    def _validation_score(self, val, weights):
        return r2_score(val.Y[:, :self.n_outputs_], self.network_.feedforward(val.X), sample_weight=weights)

    def predict(self, X):
        """The network's outputs for every row of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs), float64
        """
        out = self._outputs(X)
        return out.ravel() if out.shape[1] == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
