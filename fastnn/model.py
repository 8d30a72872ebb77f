"""fastnn.Network: a fully-connected feedforward network trained by compiled SGD epochs.

The weights and biases live in one flat buffer (see ``kernels.layout``);
``net.weights`` and ``net.biases`` are lists of views into it. Training runs through
``fastnn.training.run``: one compiled call per epoch (or per segment of one),
``kernels.sgd.online_epoch`` for batch size 1, ``kernels.sgd.minibatch_epoch`` otherwise,
with the update rule of ``kernels.update``.
"""
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from os import PathLike
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import health, kernels, serialization
from .blas import blas_threads, may_use_blas
from .checks import (as_features, as_targets, as_weights, check_float, check_int, check_seed, check_sizes,
                     check_threads)
from .kernels.layout import aligned_zeros, param_offsets
from .registry import ACTIVATIONS, COSTS, DTYPES, INITS, MONITORS, activation_name, lookup
from .threads import hogwild_epoch, minibatch_epoch_parallel
from .training import DivergenceError, Optimizer, Position, diverged, run

__all__ = ["Network", "History", "Data", "DivergenceError", "load"]


class Data(NamedTuple):
    """Arrays checked once for a network (``Network.check_data``): X (n, n_in) and targets Y
    (n, n_out) C-contiguous in the network's dtype, and the integer class labels (n,). Weighted
    examples (``check_data``'s sample_weight) add a column to Y: each row's weight, with mean 1."""

    X: np.ndarray
    Y: np.ndarray
    labels: np.ndarray
    multilabel = False  # a class attribute, not a field: Data unpacks as (X, Y, labels)


class LabelSets(Data):
    """Data whose rows of Y are label sets (``Network.check_data``'s multilabel), whose labels are not classes."""

    __slots__ = ()
    multilabel = True


class ParamList(list):
    """A list of views into the parameter buffer; ``lst[i] = array`` copies into the buffer."""

    def __setitem__(self, i, value):
        if not isinstance(i, (int, np.integer)):
            raise TypeError("assign one layer at a time (net.weights[i] = w) or the whole list (net.weights = [...])")
        view = self[i]
        value = np.asarray(value)
        if value.shape != view.shape:
            raise ValueError(f"layer {i} has shape {view.shape}, got an array of shape {value.shape}")
        with np.errstate(over="ignore", invalid="ignore"):
            value = value.astype(view.dtype)  # checked after the cast: 1e300 is finite, but inf in float32
        if not np.isfinite(value).all():
            raise ValueError(f"layer {i}: the new values contain NaN or inf, or values beyond the range of "
                             f"{view.dtype.name}")
        view[...] = value

    def _refuse(self, *args, **kwargs):
        raise TypeError("the number of layers is fixed; build a new Network to change it")

    append = extend = insert = pop = remove = clear = __delitem__ = __iadd__ = _refuse


@dataclass
class History:
    """What ``fit`` measured, one entry per epoch run (the monitored lists stay empty when not monitored).

    ``loss`` is always there, at no extra cost: each epoch's mean cost over its examples, each
    at the weights it saw before its own update (its mini-batch's), without the L2 term, as
    scikit-learn's ``loss_curve_`` and Keras's ``loss`` count it (``Network.train_epoch``).
    The monitored accuracies are fractions in [0, 1]; the monitored costs are a separate pass
    over the data at the end of the epoch and include the L2 term. ``stuck`` lists the symptoms
    of a network that stopped learning (``fastnn.health.stuck_symptoms``), found after epoch
    ``stuck_epoch`` (1-based) and announced by a ``StuckTrainingWarning``; empty when healthy.
    """

    epoch_time: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    training_cost: list = field(default_factory=list)
    training_accuracy: list = field(default_factory=list)
    validation_cost: list = field(default_factory=list)
    validation_accuracy: list = field(default_factory=list)
    stopped_early: bool = False
    best_epoch: int = None  # 0-based epoch whose weights were restored by early stopping
    stuck: list = field(default_factory=list)
    stuck_epoch: int = None

    @property
    def epochs(self):
        return len(self.epoch_time)


class Network:
    """A fully-connected feedforward network.

    Parameters
    ----------
    sizes : list of int
        Neurons per layer, input layer first, e.g. ``[784, 30, 10]``.
    activation : {"sigmoid", "tanh", "relu", "identity"}
        Activation of the hidden layers (and of the output layer with the quadratic cost).
    cost : {"cross_entropy", "quadratic", "quadratic_identity", "log_likelihood"}
        Cross-entropy uses a sigmoid output layer, log-likelihood a softmax output layer,
        "quadratic_identity" the quadratic cost with a linear (identity) output layer, for
        regression on targets of any range.
    init : {"default", "large"}
        "default": weights ~ N(0, 1/n_in), biases ~ N(0, 1); "large": both ~ N(0, 1).
    dtype : {"float32", "float64"}
    seed : int >= 0 or None
        The one seed of the network's randomness: the initial weights come from
        ``numpy.random.default_rng(seed)``, and the shuffles of ``fit`` (when it is given no seed
        of its own) from ``rng``, a generator derived from the same seed
        (``numpy.random.SeedSequence(seed).spawn``), so the two streams are independent and
        ``Network(sizes, seed=s).fit(X, y, ...)`` is reproducible from s alone. None: fresh
        entropy for both.

    Attributes
    ----------
    params : ndarray
        Every weight and bias in one flat buffer; ``weights`` and ``biases`` are views into it.
    velocity : ndarray or None
        The momentum rules' velocity, laid out like params; kept between ``partial_fit`` and
        ``train_epoch`` calls, reset by ``fit`` and ``reset_optimizer``.
    seed : int or None
        The seed the network was built with.
    rng : numpy.random.Generator
        The generator of the shuffles (see ``seed``); successive ``fit`` calls continue it.

    Raises
    ------
    ValueError
        For invalid sizes or an unknown activation, cost, init or dtype, or sizes whose parameters do not
        fit in this machine's memory (naming their count and bytes).
    """

    def __init__(self, sizes: Sequence[int], activation: str = "sigmoid", cost: str = "cross_entropy",
                 init: str = "default", dtype: DTypeLike = "float32", seed: int | None = None) -> None:
        self.sizes = check_sizes(sizes)
        self._hidden = lookup(ACTIVATIONS, activation, "activation")
        spec = lookup(COSTS, cost, "cost")
        self._cost = spec.code
        self._output = self._hidden if spec.output is None else spec.output
        self.activation = activation
        self.cost = cost
        self.dtype = lookup(DTYPES, dtype, "dtype")
        self._sizes = np.array(self.sizes, dtype=np.int64)
        self.params = _allocate_params(self.sizes, self.dtype)
        self._w_off, self._b_off, _ = param_offsets(self.sizes)
        self.velocity = None  # the update rule's state, kept between partial_fit calls (None: none yet)
        self.seed = check_seed(seed)
        self.rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
        self._lock = threading.RLock()
        self.initialize(init, seed)

    @property
    def output_activation(self) -> str:
        """The output layer's activation: "sigmoid", "softmax", "identity", or the hidden layers' own."""
        return activation_name(self._output)

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["_lock"]  # a lock cannot be pickled; a copy gets its own
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.RLock()
        # Unpickled arrays may be read-only (joblib memory-maps large ones: scikit-learn's checks, a worker's
        # inputs), and Numba compiles every kernel again for read-only arrays; nor are they cache-aligned.
        for name in ("params", "velocity"):
            old = getattr(self, name)
            if old is not None:
                setattr(self, name, aligned_zeros(len(old), old.dtype))
                getattr(self, name)[:] = old
        for name in ("_sizes", "_w_off", "_b_off"):
            if not getattr(self, name).flags.writeable:
                setattr(self, name, getattr(self, name).copy())

    @contextmanager
    def exclusive(self):
        """Hold this network for one training call: its parameters change in place, so two threads
        training it at once would mix their updates. Re-entrant in the holding thread.

        Raises
        ------
        RuntimeError
            If another thread holds the network, at once (no waiting).
        """
        if not self._lock.acquire(blocking=False):
            raise RuntimeError("this Network is already training in another thread; its weights change in place, "
                               "so train it from one thread at a time (or give each thread its own Network)")
        try:
            yield self
        finally:
            self._lock.release()

    # ----------------------------------------------------------------- parameters
    def initialize(self, init: str = "default", seed: int | None = None) -> None:
        """Draw new weights and biases from ``numpy.random.default_rng(seed)``: all biases first,
        then all weights, as the book does. ``rng`` is left as it is."""
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose one of {', '.join(map(repr, INITS))}")
        rng = np.random.default_rng(seed)
        layers = range(len(self.sizes) - 1)
        for l in layers:
            _draw_normal(rng, self.params[self._b_off[l]:self._b_off[l] + self.sizes[l + 1]])
        for l in layers:
            n_in, start = self.sizes[l], self._w_off[l]
            _draw_normal(rng, self.params[start:start + self.sizes[l + 1] * n_in],
                         np.sqrt(n_in) if init == "default" else None)

    @property
    def weights(self) -> list[np.ndarray]:
        """List of the weight matrices w^l, shape (n_out, n_in), as views into ``params``."""
        return ParamList(kernels.layout.weights(self.params, self._w_off, self._sizes, l)
                         for l in range(len(self.sizes) - 1))

    @weights.setter
    def weights(self, values: Iterable[ArrayLike]) -> None:
        self._assign(self.weights, values, "weights")

    @property
    def biases(self) -> list[np.ndarray]:
        """List of the bias vectors b^l, shape (n_out,), as views into ``params``."""
        return ParamList(kernels.layout.biases(self.params, self._b_off, self._sizes, l)
                         for l in range(len(self.sizes) - 1))

    @biases.setter
    def biases(self, values: Iterable[ArrayLike]) -> None:
        self._assign(self.biases, values, "biases")

    @staticmethod
    def _assign(views, values, name):
        values = list(values)
        if len(values) != len(views):
            raise ValueError(f"{name} needs {len(views)} arrays, one per layer, got {len(values)}")
        for i, v in enumerate(values):
            v = np.asarray(v)
            if v.size == views[i].size and v.shape != views[i].shape and name == "biases":
                v = v.reshape(views[i].shape)  # accept the book's (n, 1) column biases
            try:
                views[i] = v
            except ValueError as e:
                raise ValueError(f"{name}: {e}") from None

    # ----------------------------------------------------------------- data
    def check_data(self, X: ArrayLike | Data, y: ArrayLike | None = None, name: str = "X",
                   sample_weight: ArrayLike | None = None, multilabel: bool = False) -> Data | np.ndarray:
        """Check and convert (X, y) once for this network; the result can be passed wherever X, y go.

        Parameters
        ----------
        X : array (n, sizes[0])
        y : array (n,) of integer labels, (n, sizes[-1]) of targets, or None
        name : str
            How error messages call X; y's name follows it ("validation_data X": "validation_data y").
        sample_weight : array (n,) of weights >= 0, not all 0, or None
            Each example's cost is multiplied by its weight, scaled so that the weights' mean is 1:
            training then follows the gradient of sum_i w_i C_i / sum_i w_i, at every batch size (an
            example of weight 2 counts as two copies of it; of weight 0, as none). The weights ride in
            one more column of Y (``kernels.costs``). Equal weights change nothing.
        multilabel : bool
            y (n, sizes[-1]) holds label sets: rows of 0s and 1s with any number of 1s (otherwise such a row
            must be one-hot). Needs the cross-entropy cost, whose sigmoid outputs are independent. ``accuracy``
            (and the accuracy monitors) of such Data is the subset accuracy: the share of rows whose every
            output is on the right side of 0.5.

        Returns
        -------
        Data
            (X, Y, labels); with y None, X alone as a C-contiguous array of the network's dtype.
            Read-only arrays (memory-mapped files, joblib's worker inputs) are copied: the
            kernels would otherwise compile again for them.

        Raises
        ------
        ValueError
            Naming the problem: wrong shape, non-finite values, labels out of range, a row of 0s and 1s
            that is not one-hot, targets outside [0, 1] for the cross-entropy cost, rows that are
            not probability distributions for the log-likelihood cost, or bad weights (``checks.as_weights``).
        """
        if isinstance(X, Data):
            if sample_weight is not None:
                raise ValueError("pass sample_weight with the arrays, not with Data that check_data has made")
            return X
        X = as_features(X, self.sizes[0], self.dtype, name)
        if y is None:
            if sample_weight is not None:
                raise ValueError("sample_weight needs y: weights scale each example's cost")
            return X
        y_name = name[:-1] + "y" if name[-1:] in ("X", "x") else f"the labels of {name}"  # "test_data x": "... y"
        Y, labels = as_targets(y, len(X), self.sizes[-1], self.dtype, y_name, self.cost, multilabel)
        w_name = "sample_weight" if name == "X" else f"the sample_weight of {name}"
        weights = None if sample_weight is None else as_weights(sample_weight, len(X), w_name)
        if weights is not None:
            Y = np.concatenate([Y, weights.astype(self.dtype)[:, None]], axis=1)
        return (LabelSets if multilabel else Data)(X, Y, labels)

    def kernel_args(self) -> tuple:
        """(params, w_off, b_off, sizes, hidden, output, cost): the network as the kernels take it.

        For code that calls ``fastnn.kernels`` directly (benchmarks, the study's gradient noise).
        """
        return (self.params, self._w_off, self._b_off, self._sizes, self._hidden, self._output, self._cost)

    # ----------------------------------------------------------------- inference
    def feedforward(self, X: ArrayLike) -> np.ndarray:
        """Output activations for every row of X, shape (n, sizes[-1])."""
        X = self.check_data(X)
        out = np.empty((len(X), self.sizes[-1]), dtype=self.dtype)
        kernels.feedforward(*self.kernel_args()[:-1], X, out)
        return out

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted class (argmax of the output) for every row of X."""
        X = self.check_data(X)
        labels = np.empty(len(X), dtype=np.int64)
        kernels.predict(*self.kernel_args()[:-1], X, labels)
        return labels

    def accuracy(self, X: ArrayLike | Data, y: ArrayLike | None = None) -> float:
        """Fraction of rows of X classified correctly; y is labels (n,) or targets (n, n_out).

        X may be a ``Data`` from ``check_data`` (then y is not given); for label sets (``check_data``'s
        multilabel) the fraction of rows whose every label is right, an output above 0.5 meaning "on".
        """
        d = self.check_data(X, y)
        if d.multilabel:
            on = d.Y[:, :self.sizes[-1]] == 1
            return float(np.mean(np.all((self.feedforward(d.X) > 0.5) == on, axis=1)))
        return kernels.accuracy(*self.kernel_args()[:-1], d.X, d.labels) / len(d.X)

    def total_cost(self, X: ArrayLike | Data, y: ArrayLike | None = None, lmbda: float = 0.0) -> float:
        """Mean cost over (X, y) plus the L2 term 0.5 (lmbda/n) sum w^2 (X may be a ``Data``)."""
        lmbda = check_float(lmbda, "lmbda", minimum=0.0)
        d = self.check_data(X, y)
        return kernels.total_cost(*self.kernel_args(), d.X, d.Y, lmbda)  # blocks too small for BLAS

    def squared_weights(self) -> float:
        """sum w^2 over every weight (not the biases), in float64: the L2 term is 0.5 (lmbda/n) times this."""
        return kernels.squared_weights(self.params, self._w_off, self._sizes)

    def gradient_sum(self, X: ArrayLike | Data, y: ArrayLike | None = None,
                     idx: ArrayLike | None = None) -> np.ndarray:
        """The cost's gradient (no L2 term) summed over the examples idx (default all), as a flat
        array laid out like params (see ``split``)."""
        d = self.check_data(X, y)
        idx = np.arange(len(d.X), dtype=np.int64) if idx is None else self._checked_order(idx, len(d.X), "idx")
        grad = np.zeros_like(self.params)
        with blas_threads(1, needed=may_use_blas(self.sizes, kernels.forward.CHUNK, len(idx), self.dtype)):
            kernels.accumulate_gradient(*self.kernel_args(), d.X, d.Y, idx, grad)
        return grad

    def gradient(self, X: ArrayLike | Data, y: ArrayLike | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Gradient of the mean cost over (X, y), without the L2 term, as (nabla_b, nabla_w) lists."""
        d = self.check_data(X, y)
        return self.split(self.gradient_sum(d) / len(d.X))

    def backprop(self, x: ArrayLike, y: ArrayLike) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Gradient of the cost for one example x (shape (n_in,) or (n_in, 1)), as (nabla_b, nabla_w).

        y is a class label or a target vector.
        """
        x = np.asarray(x)
        if x.size != self.sizes[0] or x.ndim > 2:
            raise ValueError(f"x must hold {self.sizes[0]} inputs, got shape {x.shape}")
        y = np.asarray(y)
        return self.gradient(x.reshape(1, -1), y.reshape(1, -1) if y.ndim else y.reshape(1))

    def split(self, flat: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(biases, weights) lists of views into a flat buffer laid out like params.

        Raises
        ------
        ValueError
            If flat is not a 1-D C-contiguous float array of len(params) numbers.
        """
        if not (isinstance(flat, np.ndarray) and flat.ndim == 1 and len(flat) == len(self.params)
                and flat.dtype.kind == "f" and flat.flags.c_contiguous):
            raise ValueError(f"split needs a 1-D C-contiguous float array of {len(self.params)} numbers laid out like "
                             f"params, got {getattr(flat, 'shape', type(flat).__name__)}")
        L = range(len(self.sizes) - 1)
        return ([kernels.layout.biases(flat, self._b_off, self._sizes, l) for l in L],
                [kernels.layout.weights(flat, self._w_off, self._sizes, l) for l in L])

    # ----------------------------------------------------------------- training
    def shuffle_generator(self, seed: int | None = None) -> np.random.Generator:
        """The generator that shuffles the examples: ``numpy.random.default_rng(seed)``, or with
        seed None the network's own ``rng`` (derived from the seed it was built with)."""
        return self.rng if seed is None else np.random.default_rng(check_seed(seed))

    def reset_optimizer(self) -> None:
        """Forget the update rule's state (the velocity): the next update starts from rest."""
        self.velocity = None

    def _checked_order(self, order, n, name="order"):
        order = np.asarray(order)
        if order.ndim != 1 or order.dtype.kind not in "iu":
            raise ValueError(f"{name} must be a 1-D array of integer example indices, got shape {order.shape} "
                             f"and dtype {order.dtype}")
        if len(order) and (order.min() < 0 or order.max() >= n):
            bad = int(np.argmax((order < 0) | (order >= n)))
            raise ValueError(f"{name}[{bad}] = {order[bad]} is not an example index: X has {n} rows")
        return np.ascontiguousarray(order, dtype=np.int64)

    def train_epoch(self, X: np.ndarray, Y: np.ndarray, order: ArrayLike, batch_size: int, optimizer: Optimizer | float,
                    n: int | None = None, threads: int = 1, hogwild: bool = False) -> float:
        """One compiled epoch over X[order], keeping the optimizer's state (velocity) for the next call.

        The low-level step under ``fit``, ``partial_fit`` and ``fastnn.training.run``: no shuffling,
        no history, no divergence check. The arrays are checked cheaply, not converted.

        Parameters
        ----------
        X, Y : arrays (N, sizes[0]) and (N, sizes[-1]), C-contiguous, of the network's dtype
            (``check_data`` makes them); Y may carry a column of weights (N, sizes[-1] + 1).
        order : 1-D integer array
            The example indices in the order they are visited (may repeat or leave some out).
        batch_size : int >= 1
        optimizer : fastnn.training.Optimizer or float
            The update rule; a number is the learning rate eta of plain SGD.
        n : int or None
            Training-set size for the L2 term (default len(X)).
        threads, hogwild
            As in ``fit`` (checked there, not here).

        Returns
        -------
        float
            The epoch's loss, for free: the sum over the visited examples of the cost C(a(x), y(x))
            (no L2 term) at the weights x saw, before its own update (before its mini-batch's), in
            float64, as scikit-learn's ``loss_curve_`` counts it. Divide by len(order) for the mean.
            The log costs clip a to [eps, 1 - eps] (see ``kernels.costs.block_loss``).

        Raises
        ------
        ValueError
            For arrays of the wrong dtype, shape or layout, or an index outside X.
        """
        if not isinstance(optimizer, Optimizer):
            optimizer = Optimizer(optimizer)
        for name, A, widths in (("X", X, (self.sizes[0],)), ("Y", Y, (self.sizes[-1], self.sizes[-1] + 1))):
            if not (isinstance(A, np.ndarray) and A.dtype == self.dtype and A.ndim == 2 and A.shape[1] in widths
                    and A.flags.c_contiguous):
                raise ValueError(f"train_epoch needs {name} as a C-contiguous {self.dtype} array with "
                                 f"{' or '.join(map(str, widths))} columns (use check_data), "
                                 f"got {getattr(A, 'shape', type(A))}")
        if len(Y) != len(X):
            raise ValueError(f"Y has {len(Y)} rows but X has {len(X)}")
        order = self._checked_order(order, len(X))
        batch_size = check_int(batch_size, "batch_size", 1)
        hyper = optimizer.hyper(len(X) if n is None else n, self.dtype)
        rule = optimizer.rule
        with self.exclusive():
            if rule != kernels.SGD and (self.velocity is None or self.velocity.dtype != self.dtype):
                self.velocity = aligned_zeros(len(self.params), self.dtype)
            # Plain SGD never reads the velocity, so params stands in for it.
            velocity = self.params if rule == kernels.SGD else self.velocity
            args = self.kernel_args()
            args = (args[0], velocity) + args[1:] + (X, Y, order)
            if hogwild:
                loss = hogwild_epoch(*args, batch_size, rule, hyper, threads)
            elif threads > 1 and batch_size > 1:
                loss = minibatch_epoch_parallel(*args, batch_size, rule, hyper, threads)
            else:
                # one thread means one core, BLAS included (fastnn.blas)
                with blas_threads(1, needed=may_use_blas(self.sizes, batch_size, len(order), self.dtype)):
                    if batch_size == 1:
                        loss = kernels.online_epoch(*args, rule, hyper)
                    else:
                        loss = kernels.minibatch_epoch(*args, batch_size, rule, hyper)
        return float(loss)

    def partial_fit(self, X: ArrayLike | Data, y: ArrayLike | None, batch_size: int, eta: float, lmbda: float = 0.0,
                    momentum: float = 0.0, nesterov: bool = False, order: ArrayLike | None = None,
                    n: int | None = None, threads: int = 1, hogwild: bool = False,
                    sample_weight: ArrayLike | None = None) -> Position:
        """One epoch over (X, y), keeping the optimizer's state (velocity) between calls.

        Parameters
        ----------
        X, y, batch_size, eta, lmbda, momentum, nesterov, threads, hogwild
            As in ``fit``.
        sample_weight : array (n,) or None
            As in ``fit``; scaled to a mean of 1 over this call's examples.
        order : 1-D integer array or None
            The example indices in the order to visit them (default: 0 .. n-1, as given).
        n : int or None
            Training-set size for the L2 term (default len(X)): pass the whole set's size when
            (X, y) is one part of it.

        Returns
        -------
        fastnn.training.Position
            Examples, updates and training seconds of the epoch.

        Raises
        ------
        ValueError
            For invalid data or arguments.
        DivergenceError
            When the epoch produces non-finite weights; the weights from before it are kept.
        """
        d = self.check_data(X, y, sample_weight=sample_weight)
        optimizer = Optimizer(eta, lmbda, momentum, nesterov)
        batch_size = check_int(batch_size, "batch_size", 1)
        threads = check_threads(threads, batch_size, hogwild)
        if order is not None:
            order = self._checked_order(order, len(d.X))
        return run(self, d, 1, batch_size, optimizer, n=n, order=None if order is None else (lambda epoch: order),
                   threads=threads, hogwild=hogwild)

    def fit(self, X: ArrayLike | Data, y: ArrayLike | None, epochs: int, batch_size: int, eta: float,
            lmbda: float = 0.0, momentum: float = 0.0, validation_data: tuple[ArrayLike, ArrayLike] | None = None,
            shuffle: bool = True, seed: int | None = None, monitor: str | Iterable[str] | None = None,
            early_stopping: int | None = None, verbose: bool = False, threads: int = 1, hogwild: bool = False,
            nesterov: bool = False, callback: Callable[[History], bool | None] | None = None,
            sample_weight: ArrayLike | None = None) -> History:
        """Train by stochastic gradient descent.

        Parameters
        ----------
        X : array (n, sizes[0])
        y : array (n,) of integer labels, or (n, sizes[-1]) of targets
        epochs : int >= 0
        batch_size : int >= 1
            1 runs online learning (the weights change after every example).
        eta : float > 0
            Learning rate.
        lmbda : float >= 0
            L2 regularisation; the weights decay by a factor (1 - eta*lmbda/n) per update.
        momentum : float in [0, 1)
            Momentum coefficient mu (0: plain SGD). The velocity starts at zero in every call
            of fit (``partial_fit`` keeps it).
        validation_data : (X_val, y_val) or None
        shuffle : bool
            Visit the examples in a new random order each epoch; False keeps the given order.
        seed : int >= 0 or None
            Seed of the shuffling (``numpy.random.default_rng``). None: the network's own
            generator ``rng``, derived from the seed it was built with, so one seed drives both
            the initial weights and the shuffles; successive calls continue it. A network built
            without a seed shuffles from fresh entropy.
        monitor : str, iterable of str, or None
            One or more of "training_cost", "training_accuracy", "validation_cost", "validation_accuracy".
            Default: "validation_accuracy" when validation_data is given.
        early_stopping : int or None
            Patience in epochs: stop when validation accuracy has not improved for that many
            epochs, and restore the weights of the best epoch. Needs validation_data.
        verbose : bool
            Show a progress bar over epochs (tqdm when installed, else one line per epoch).
        threads : int >= 1
            Threads per epoch, at most the cores this process may use. With batch_size > 1 the
            work of every mini-batch is split by neurons: the same result as one thread, up to
            round-off. The first weight layer is split; the layers above it run on every thread,
            so deep nets of narrow layers gain little or nothing; so can small mini-batches
            (20), whose three barriers per batch wait whenever the host slows one core. A net
            without hidden layers runs on one thread (bench/RESULTS.md has the measured
            speed-ups). Online learning (batch_size=1) is sequential by definition and needs
            hogwild=True to use more than one thread.
        hogwild : bool
            Lock-free parallel SGD (needs threads >= 2): each thread trains on its share of the
            examples and updates the shared weights without locks. Faster, not reproducible,
            and an approximation of serial SGD; see bench/RESULTS.md for its measured cost.
        nesterov : bool
            With momentum > 0, Nesterov's momentum (Sutskever et al. 2013, scikit-learn's
            ``nesterovs_momentum``) instead of classical momentum; see ``fastnn.kernels.update``.
        callback : callable or None
            callback(history), called after each epoch once its measurements are in ``history``
            (to print them as they come, or keep a copy of the weights); a true result stops training.
        sample_weight : array (n,) of weights >= 0, or None
            Weigh each example's cost (``check_data``): an example of weight 2 counts as two copies of
            it, of weight 0 as none, at every batch size. The loss and "training_cost" are weighted means;
            the accuracies count every example once. lmbda's n stays the number of examples: for the L2
            strength of the data with every row repeated w_i times, pass lmbda * n / sum(w).

        Returns
        -------
        History

        Raises
        ------
        ValueError
            For invalid data or arguments.
        DivergenceError
            When an epoch produces non-finite weights or cost; the weights from the end
            of the previous epoch are kept.
        RuntimeError
            If another thread is training this network.

        Warns
        -----
        StuckTrainingWarning
            Once, after the first epoch at whose end the network shows a symptom of having
            stopped learning (``fastnn.health.stuck_symptoms`` on at most 1,000 training
            examples): the warning names the symptoms and the fix; ``History.stuck`` lists them.
        """
        d = self.check_data(X, y, sample_weight=sample_weight)
        epochs = check_int(epochs, "epochs", 0)
        batch_size = check_int(batch_size, "batch_size", 1)
        optimizer = Optimizer(eta, lmbda, momentum, nesterov)
        threads = check_threads(threads, batch_size, hogwild)
        val = None
        if validation_data is not None:
            try:
                X_val, y_val = validation_data
            except (TypeError, ValueError):
                raise ValueError("validation_data must be a pair (X_val, y_val)") from None
            val = self.check_data(X_val, y_val, name="validation_data X")
        if monitor is None:
            monitor = ("validation_accuracy",) if validation_data is not None else ()
        monitor = (monitor,) if isinstance(monitor, str) else tuple(monitor)  # one name, not its letters
        for m in monitor:
            if m not in MONITORS:
                raise ValueError(f"unknown monitor {m!r}; choose from {', '.join(map(repr, MONITORS))}")
            if m.startswith("validation") and validation_data is None:
                raise ValueError(f"monitor {m!r} needs validation_data")
        if early_stopping is not None:
            early_stopping = check_int(early_stopping, "early_stopping", 1)
            if validation_data is None:
                raise ValueError("early_stopping needs validation_data")
            if "validation_accuracy" not in monitor:
                monitor += ("validation_accuracy",)

        if callback is not None and not callable(callback):
            raise ValueError(f"callback must be a function of the History, got {callback!r}")

        with self.exclusive():
            return self._fit(d, epochs, batch_size, optimizer, val, shuffle, seed, monitor, early_stopping, verbose,
                             threads, hogwild, callback)

    def _fit(self, d, epochs, batch_size, optimizer, val, shuffle, seed, monitor, early_stopping, verbose, threads,
             hogwild, callback):
        n = len(d.X)
        eta, lmbda = optimizer.eta, optimizer.lmbda
        rng = self.shuffle_generator(seed)
        self.reset_optimizer()
        history = History()
        watch = health.Watch(self, d)
        best = dict(acc=-1.0, params=None, since=0)
        measures = {"training_cost": lambda: self.total_cost(d, lmbda=lmbda),
                    "training_accuracy": lambda: self.accuracy(d),
                    "validation_cost": lambda: self.total_cost(val, lmbda=lmbda),
                    "validation_accuracy": lambda: self.accuracy(val)}
        progress = _Progress(epochs, verbose)

        def after_epoch(pos):
            history.epoch_time.append(pos.epoch_seconds)
            history.loss.append(pos.loss)
            for name in MONITORS:
                if name in monitor:
                    getattr(history, name).append(measures[name]())
            for costs in (history.training_cost, history.validation_cost):
                if costs and not np.isfinite(costs[-1]):
                    self.params[:] = last_good
                    raise diverged(pos.epoch, "a non-finite cost", optimizer, n)
            last_good[:] = self.params
            if not history.stuck:
                history.stuck = watch.check()
                if history.stuck:
                    history.stuck_epoch = pos.epoch
                    health.warn_stuck(history.stuck, pos.epoch, eta, lmbda, n, stacklevel=6)
            progress.update(history)
            if callback is not None and callback(history):
                return True
            if early_stopping is None:
                return False
            acc = history.validation_accuracy[-1]
            if acc > best["acc"]:
                best.update(acc=acc, params=self.params.copy(), since=0)
                history.best_epoch = pos.epoch - 1
                return False
            best["since"] += 1
            if best["since"] >= early_stopping:
                self.params[:] = best["params"]
                history.stopped_early = True
                return True
            return False

        last_good = self.params.copy()
        try:
            run(self, d, epochs, batch_size, optimizer, order=(lambda e: rng.permutation(n)) if shuffle else None,
                on_epoch=after_epoch, threads=threads, hogwild=hogwild)
        finally:
            progress.close()
        return history

    # ----------------------------------------------------------------- files
    def save(self, path: str | PathLike) -> None:
        """Save to ``path``: ``.json`` (readable by the book's network2.load) or ``.npz``; see fastnn.load."""
        serialization.save(self, path)

    def __repr__(self):
        return (f"Network({self.sizes}, activation={self.activation!r}, cost={self.cost!r}, "
                f"dtype={self.dtype.name!r})")


DRAW_CHUNK = 1 << 20  # values drawn at a time in float64 for a float32 network: 8 MB, however large the layer


def _draw_normal(rng, out, divisor=None):
    """Fill the 1-D view out with rng.standard_normal() / divisor, drawn in float64 and rounded to out's dtype.

    The values are those of ``rng.standard_normal(len(out)) / divisor`` cast to out's dtype, bit for bit (the
    generator fills its output in order, so drawing in chunks continues the same stream), without the
    float64 copies of the whole layer: float64 is drawn straight into out, float32 through a chunk buffer.
    """
    if out.dtype == np.float64:
        parts, buffer = [out], None
    else:
        buffer = np.empty(min(len(out), DRAW_CHUNK))
        parts = [out[i:i + DRAW_CHUNK] for i in range(0, len(out), DRAW_CHUNK)]
    for part in parts:
        drawn = part if buffer is None else buffer[:len(part)]
        rng.standard_normal(out=drawn)
        if divisor is not None:
            drawn /= divisor
        if buffer is not None:
            part[:] = drawn


def _allocate_params(sizes, dtype):
    """The zeroed parameter buffer for sizes, or a ValueError naming the parameters and bytes it would need."""
    total = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))  # Python ints: no overflow
    nbytes = total * dtype.itemsize
    problem = f"sizes {_short_sizes(sizes)} describe {total:,} parameters, {nbytes:,} bytes in {dtype.name}"
    if nbytes >= 2**62:  # beyond what any array (and param_offsets' int64 offsets) can hold
        raise ValueError(f"{problem}: more than any machine can address")
    try:
        return aligned_zeros(total, dtype)
    except MemoryError:
        raise ValueError(f"{problem}: more than this machine's memory can give; use smaller layers") from None


def _short_sizes(sizes, limit=8):
    """sizes for a message: a list of thousands of layers is cut."""
    return str(sizes) if len(sizes) <= limit else f"[{', '.join(map(str, sizes[:limit]))}, ...] ({len(sizes)} layers)"


def load(path: str | PathLike) -> Network:
    """Load a network saved by ``Network.save`` or by the book's ``network2.save``.

    Parameters
    ----------
    path : str or Path
        A ``.json`` or ``.npz`` file.

    Returns
    -------
    Network

    Raises
    ------
    ModelFileError
        If the file is corrupt, truncated or inconsistent (a subclass of ValueError).
    """
    if serialization.file_format(path) == ".json":
        sizes, weights, biases, meta = serialization.read_json_model(path)
        net = Network(sizes, activation=meta["activation"], cost=meta["cost"], dtype=meta["dtype"])
        net.weights = weights
        net.biases = biases
        return net
    sizes, params, meta = serialization.read_npz_model(path)
    net = Network(sizes, activation=meta["activation"], cost=meta["cost"], dtype=meta["dtype"])
    net.params[:] = params
    return net


class _Progress:
    """A progress bar over epochs: tqdm when installed, otherwise one printed line per epoch."""

    def __init__(self, epochs, verbose):
        self.verbose = verbose
        self.bar = None
        if verbose:
            try:
                from tqdm.auto import tqdm
                self.bar = tqdm(total=epochs, unit="epoch")
            except ImportError:
                pass

    def update(self, history):
        if not self.verbose:
            return
        info = {"s/epoch": f"{history.epoch_time[-1]:.3f}", "loss": f"{history.loss[-1]:.4f}"}
        for name in MONITORS:
            values = getattr(history, name)
            if values:
                info[name] = f"{values[-1]:.4f}"
        if self.bar is not None:
            self.bar.set_postfix(info, refresh=False)
            self.bar.update(1)
        else:
            print(f"epoch {history.epochs}: " + ", ".join(f"{k} {v}" for k, v in info.items()), flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
