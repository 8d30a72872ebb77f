"""fastnn.Network: a fully-connected feedforward network trained by compiled SGD epochs.

The weights and biases live in one flat buffer (see ``kernels.layout``);
``net.weights`` and ``net.biases`` are lists of views into it. Training runs one
compiled call per epoch: ``kernels.online_epoch`` for batch size 1,
``kernels.minibatch_epoch`` otherwise.
"""
import time
from dataclasses import dataclass, field

import numpy as np

from . import kernels
from .kernels.layout import aligned_zeros, param_offsets

from .checks import as_features, as_targets, check_float, check_int, check_sizes, check_threads
from .registry import ACTIVATIONS, COSTS, DTYPES, INITS, MONITORS, OUTPUT_ACTIVATIONS, lookup


class DivergenceError(FloatingPointError):
    """Training produced non-finite weights or cost; the last finite weights were kept."""


class ParamList(list):
    """A list of views into the parameter buffer; ``lst[i] = array`` copies into the buffer."""

    def __setitem__(self, i, value):
        if not isinstance(i, (int, np.integer)):
            raise TypeError("assign one layer at a time (net.weights[i] = w) or the whole list (net.weights = [...])")
        view = self[i]
        value = np.asarray(value)
        if value.shape != view.shape:
            raise ValueError(f"layer {i} has shape {view.shape}, got an array of shape {value.shape}")
        if not np.isfinite(value).all():
            raise ValueError(f"layer {i}: the new values contain NaN or inf")
        view[...] = value

    def _refuse(self, *args, **kwargs):
        raise TypeError("the number of layers is fixed; build a new Network to change it")

    append = extend = insert = pop = remove = clear = __delitem__ = __iadd__ = _refuse


@dataclass
class History:
    """What ``fit`` measured, one entry per epoch run (lists stay empty when not monitored).

    Accuracies are fractions in [0, 1]; costs include the L2 term.
    """

    epoch_time: list = field(default_factory=list)
    training_cost: list = field(default_factory=list)
    training_accuracy: list = field(default_factory=list)
    validation_cost: list = field(default_factory=list)
    validation_accuracy: list = field(default_factory=list)
    stopped_early: bool = False
    best_epoch: int = None  # 0-based epoch whose weights were restored by early stopping

    @property
    def epochs(self):
        return len(self.epoch_time)


class Network:
    """A fully-connected feedforward network.

    Parameters
    ----------
    sizes : list of int
        Neurons per layer, input layer first, e.g. ``[784, 30, 10]``.
    activation : {"sigmoid", "tanh", "relu"}
        Activation of the hidden layers (and of the output layer with the quadratic cost).
    cost : {"cross_entropy", "quadratic", "log_likelihood"}
        Cross-entropy uses a sigmoid output layer, log-likelihood a softmax output layer.
    init : {"default", "large"}
        "default": weights ~ N(0, 1/n_in), biases ~ N(0, 1); "large": both ~ N(0, 1).
    dtype : {"float32", "float64"}
    seed : int or None
        Seed of the initial weights (``numpy.random.default_rng``).

    Raises
    ------
    ValueError
        For invalid sizes or an unknown activation, cost, init or dtype.
    """

    def __init__(self, sizes, activation="sigmoid", cost="cross_entropy", init="default", dtype="float32",
                 seed=None):
        self.sizes = check_sizes(sizes)
        self._hidden = lookup(ACTIVATIONS, activation, "activation")
        self._cost = lookup(COSTS, cost, "cost")
        out = OUTPUT_ACTIVATIONS[cost]
        self._output = self._hidden if out is None else out
        self.activation = activation
        self.cost = cost
        self.dtype = lookup(DTYPES, dtype, "dtype")
        self._sizes = np.array(self.sizes, dtype=np.int64)
        self._w_off, self._b_off, total = param_offsets(self.sizes)
        self.params = aligned_zeros(total, self.dtype)
        self.initialize(init, seed)

    # ----------------------------------------------------------------- parameters
    def initialize(self, init="default", seed=None):
        """Draw new weights and biases: all biases first, then all weights, as the book does."""
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose one of {', '.join(map(repr, INITS))}")
        rng = np.random.default_rng(seed)
        biases = [rng.standard_normal(n) for n in self.sizes[1:]]
        weights = [rng.standard_normal((n_out, n_in)) for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:])]
        if init == "default":
            weights = [w / np.sqrt(w.shape[1]) for w in weights]
        self.weights = weights
        self.biases = biases

    @property
    def weights(self):
        """List of the weight matrices w^l, shape (n_out, n_in), as views into ``params``."""
        return ParamList(kernels.layout.weights(self.params, self._w_off, self._sizes, l)
                         for l in range(len(self.sizes) - 1))

    @weights.setter
    def weights(self, values):
        self._assign(self.weights, values, "weights")

    @property
    def biases(self):
        """List of the bias vectors b^l, shape (n_out,), as views into ``params``."""
        return ParamList(kernels.layout.biases(self.params, self._b_off, self._sizes, l)
                         for l in range(len(self.sizes) - 1))

    @biases.setter
    def biases(self, values):
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

    # ----------------------------------------------------------------- inference
    def _args(self):
        return (self.params, self._w_off, self._b_off, self._sizes, self._hidden, self._output)

    def _data(self, X, y=None, name="X"):
        X = as_features(X, self.sizes[0], self.dtype, name)
        if y is None:
            return X
        y_name = "y" if name == "X" else name.replace("X", "y")
        return (X,) + as_targets(y, len(X), self.sizes[-1], self.dtype, y_name)

    def feedforward(self, X):
        """Output activations for every row of X, shape (n, sizes[-1])."""
        X = self._data(X)
        out = np.empty((len(X), self.sizes[-1]), dtype=self.dtype)
        kernels.feedforward(*self._args(), X, out)
        return out

    def predict(self, X):
        """Predicted class (argmax of the output) for every row of X."""
        X = self._data(X)
        labels = np.empty(len(X), dtype=np.int64)
        kernels.predict(*self._args(), X, labels)
        return labels

    def accuracy(self, X, y):
        """Fraction of rows of X classified correctly; y is labels (n,) or targets (n, n_out)."""
        X, _, labels = self._data(X, y)
        return kernels.accuracy(*self._args(), X, labels) / len(X)

    def total_cost(self, X, y, lmbda=0.0):
        """Mean cost over (X, y) plus the L2 term 0.5 (lmbda/n) sum w^2."""
        lmbda = check_float(lmbda, "lmbda", minimum=0.0)
        X, Y, _ = self._data(X, y)
        return kernels.total_cost(*self._args(), self._cost, X, Y, lmbda)

    def gradient(self, X, y):
        """Gradient of the mean cost over (X, y), without the L2 term, as (nabla_b, nabla_w) lists."""
        X, Y, _ = self._data(X, y)
        grad = np.zeros_like(self.params)
        kernels.accumulate_gradient(*self._args(), self._cost, X, Y, np.arange(len(X)), grad)
        grad /= len(X)
        return self._split(grad)

    def backprop(self, x, y):
        """Gradient of the cost for one example x (shape (n_in,) or (n_in, 1)), as (nabla_b, nabla_w).

        y is a class label or a target vector.
        """
        x = np.asarray(x)
        if x.size != self.sizes[0] or x.ndim > 2:
            raise ValueError(f"x must hold {self.sizes[0]} inputs, got shape {x.shape}")
        y = np.asarray(y)
        return self.gradient(x.reshape(1, -1), y.reshape(1, -1) if y.ndim else y.reshape(1))

    def _split(self, flat):
        """(biases, weights) lists of views into a buffer with the layout of params."""
        L = range(len(self.sizes) - 1)
        return ([kernels.layout.biases(flat, self._b_off, self._sizes, l) for l in L],
                [kernels.layout.weights(flat, self._w_off, self._sizes, l) for l in L])

    # ----------------------------------------------------------------- training
    def _velocity(self, momentum):
        """A zero velocity buffer (aligned like params) for momentum > 0; without momentum the
        kernels never read it, so params itself stands in."""
        return aligned_zeros(len(self.params), self.dtype) if momentum else self.params

    def train_epoch(self, X, Y, order, batch_size, eta, lmbda=0.0, momentum=0.0, n=None, velocity=None,
                    threads=1, hogwild=False):
        """Run one compiled epoch over X[order] on already-checked arrays (no validation, no history).

        X and Y must be C-contiguous arrays of the network's dtype, order an int64 array.
        n is the training-set size for the L2 term (default len(X)). threads and hogwild
        as in ``fit`` (checked there). This is the entry point for callers that manage
        their own loop, such as the book-compatible modules.
        """
        dt = self.dtype.type
        n = len(X) if n is None else n
        if velocity is None:
            velocity = self._velocity(momentum)
        args = (self.params, velocity, self._w_off, self._b_off, self._sizes, self._hidden, self._output,
                self._cost, X, Y, order)
        if hogwild:
            kernels.hogwild_epoch(*args, batch_size, dt(eta), dt(lmbda), dt(momentum), n, threads)
        elif batch_size == 1:
            kernels.online_epoch(*args, dt(eta), dt(lmbda), dt(momentum), n)
        elif threads > 1:
            kernels.minibatch_epoch_parallel(*args, batch_size, dt(eta), dt(lmbda), dt(momentum), n, threads)
        else:
            kernels.minibatch_epoch(*args, batch_size, dt(eta), dt(lmbda), dt(momentum), n)

    def fit(self, X, y, epochs, batch_size, eta, lmbda=0.0, momentum=0.0, validation_data=None, shuffle=True,
            seed=None, monitor=None, early_stopping=None, verbose=False, threads=1, hogwild=False):
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
            Classical momentum coefficient mu (0: plain SGD). The velocity starts at zero in every call.
        validation_data : (X_val, y_val) or None
        shuffle : bool
            Visit the examples in a new random order each epoch; False keeps the given order.
        seed : int or None
            Seed of the shuffling (``numpy.random.default_rng``).
        monitor : iterable of str or None
            Any of "training_cost", "training_accuracy", "validation_cost", "validation_accuracy".
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
        """
        X, Y, labels = self._data(X, y)
        epochs = check_int(epochs, "epochs", 0)
        batch_size = check_int(batch_size, "batch_size", 1)
        eta = check_float(eta, "eta", positive=True)
        lmbda = check_float(lmbda, "lmbda", minimum=0.0)
        momentum = check_float(momentum, "momentum", minimum=0.0, below=1.0)
        threads = check_threads(threads, batch_size, hogwild)
        if validation_data is not None:
            try:
                X_val, y_val = validation_data
            except (TypeError, ValueError):
                raise ValueError("validation_data must be a pair (X_val, y_val)") from None
            X_val, Y_val, labels_val = self._data(X_val, y_val, name="validation_data X")
        if monitor is None:
            monitor = ("validation_accuracy",) if validation_data is not None else ()
        monitor = tuple(monitor)
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

        n = len(X)
        rng = np.random.default_rng(seed)
        velocity = self._velocity(momentum)
        history = History()
        last_good = self.params.copy()
        best_acc, best_params, since_best = -1.0, None, 0
        progress = _Progress(epochs, verbose)
        try:
            for epoch in range(epochs):
                order = rng.permutation(n) if shuffle else np.arange(n)
                t0 = time.perf_counter()
                self.train_epoch(X, Y, order, batch_size, eta, lmbda, momentum, n, velocity, threads, hogwild)
                history.epoch_time.append(time.perf_counter() - t0)
                if not np.isfinite(self.params).all():
                    self._diverged(epoch, eta, last_good, "non-finite weights")
                if "training_cost" in monitor:
                    history.training_cost.append(kernels.total_cost(*self._args(), self._cost, X, Y, lmbda))
                if "training_accuracy" in monitor:
                    history.training_accuracy.append(kernels.accuracy(*self._args(), X, labels) / n)
                if "validation_cost" in monitor:
                    history.validation_cost.append(
                        kernels.total_cost(*self._args(), self._cost, X_val, Y_val, lmbda))
                if "validation_accuracy" in monitor:
                    history.validation_accuracy.append(
                        kernels.accuracy(*self._args(), X_val, labels_val) / len(X_val))
                for costs in (history.training_cost, history.validation_cost):
                    if costs and not np.isfinite(costs[-1]):
                        self._diverged(epoch, eta, last_good, "a non-finite cost")
                last_good[:] = self.params
                progress.update(history)
                if early_stopping is not None:
                    acc = history.validation_accuracy[-1]
                    if acc > best_acc:
                        best_acc, best_params, since_best = acc, self.params.copy(), 0
                        history.best_epoch = epoch
                    else:
                        since_best += 1
                        if since_best >= early_stopping:
                            self.params[:] = best_params
                            history.stopped_early = True
                            break
        finally:
            progress.close()
        return history

    def _diverged(self, epoch, eta, last_good, what):
        self.params[:] = last_good
        raise DivergenceError(
            f"training diverged in epoch {epoch + 1} ({what}) with eta={eta:g}; the weights from the end of "
            f"epoch {epoch} were kept. Try a smaller learning rate, e.g. eta={eta / 10:g}.")

    # ----------------------------------------------------------------- files
    def save(self, path):
        """Save to ``path``: ``.json`` (readable by the book's network2.load) or ``.npz``; see fastnn.load."""
        from .serialization import save
        save(self, path)

    def __repr__(self):
        return (f"Network({self.sizes}, activation={self.activation!r}, cost={self.cost!r}, "
                f"dtype={self.dtype.name!r})")


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
        info = {"s/epoch": f"{history.epoch_time[-1]:.3f}"}
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
