"""The training loop, written once: order the examples, run compiled segments, check, call hooks.

``fastnn.Network.fit``, the book's ``SGD``, the study's runs and learning-rate search and the
gradient diagnostics all train through ``run``. Per epoch it takes the example order (a fresh
permutation, the book's ``random.shuffle``, or the given order), runs the compiled epoch in
segments that end at chosen example counts, checks the weights after each segment, and calls
the caller's hooks: ``on_point`` after each segment (evaluate, record, report progress),
``on_epoch`` after each epoch. A hook returns True to stop training.

The update rule and its hyper-parameters travel together as an ``Optimizer``.
"""
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import DTypeLike

from .checks import check_float
from .registry import OPTIMIZERS, lookup
from .kernels.codes import DECAY, ETA, MOMENTUM, MU, N_HYPER, NESTEROV, SGD


class DivergenceError(FloatingPointError):
    """Training produced non-finite weights or cost; the last finite weights were kept."""


@dataclass(frozen=True)
class Optimizer:
    """An update rule and its hyper-parameters (see ``fastnn.kernels.update``).

    Parameters
    ----------
    eta : float > 0
        Learning rate.
    lmbda : float >= 0
        L2 regularisation: the weights decay by a factor (1 - eta*lmbda/n) per update, n the
        training-set size.
    momentum : float in [0, 1)
        Momentum coefficient mu; 0 is the book's plain SGD.
    nesterov : bool
        With momentum > 0: Nesterov's momentum instead of classical momentum.

    Raises
    ------
    ValueError
        For a hyper-parameter out of its range, naming it.
    """

    eta: float
    lmbda: float = 0.0
    momentum: float = 0.0
    nesterov: bool = False

    def __post_init__(self):
        object.__setattr__(self, "eta", check_float(self.eta, "eta", positive=True))
        object.__setattr__(self, "lmbda", check_float(self.lmbda, "lmbda", minimum=0.0))
        object.__setattr__(self, "momentum", check_float(self.momentum, "momentum", minimum=0.0, below=1.0))
        if self.nesterov not in (True, False):
            raise ValueError(f"nesterov must be True or False, got {self.nesterov!r}")

    @classmethod
    def named(cls, name: str, eta: float, lmbda: float = 0.0, momentum: float = 0.9) -> "Optimizer":
        """The optimizer of a registry name ("sgd", "momentum", "nesterov"); momentum is ignored by "sgd"."""
        rule = lookup(OPTIMIZERS, name, "optimizer")
        return cls(eta, lmbda, 0.0 if rule == SGD else momentum, rule == NESTEROV)

    @property
    def name(self) -> str:
        return "sgd" if self.rule == SGD else ("nesterov" if self.rule == NESTEROV else "momentum")

    @property
    def rule(self) -> int:
        """The kernels' code of the update rule (momentum 0 is plain SGD, whatever nesterov says)."""
        if self.momentum == 0.0:
            return SGD
        return NESTEROV if self.nesterov else MOMENTUM

    def hyper(self, n: int, dtype: DTypeLike) -> np.ndarray:
        """The kernels' hyper-parameter array for a training set of n examples.

        decay = eta*lmbda/n is computed in the parameters' dtype, as the kernels did.
        """
        dt = np.dtype(dtype).type
        h = np.empty(N_HYPER, dtype=dtype)
        h[ETA] = dt(self.eta)
        h[DECAY] = dt(self.eta) * dt(self.lmbda) / dt(n)
        h[MU] = dt(self.momentum)
        return h

    def divergence_hint(self, n: int) -> str:
        """A sentence naming the likely cause of divergence, a too-large eta or a too-large lmbda, and the fix.

        Every update multiplies the weights by 1 - eta*lmbda/n before the gradient step; from
        eta*lmbda/n >= 1 on, that factor is zero or negative, so the L2 term alone flips the
        weights' sign on every update (and grows them beyond 2), whatever the learning rate does.
        """
        decay = self.eta * self.lmbda / n
        if decay >= 1.0:
            return (f"lmbda is too large for this eta: eta*lmbda/n = {self.eta:g}*{self.lmbda:g}/{n:,} = {decay:.3g} "
                    f">= 1, so every update multiplies the weights by {1 - decay:.3g} and flips their sign; "
                    f"try lmbda <= {0.1 * n / self.eta:.3g} (eta*lmbda/n <= 0.1)")
        return f"the learning rate is likely too large: try a smaller learning rate, e.g. eta={self.eta / 10:g}"


def diverged(epoch, what, optimizer, n):
    """The DivergenceError for epoch (1-based) that ended in ``what``, naming the likely cause; the
    caller has restored the weights from the end of the epoch before."""
    kept = "before training" if epoch == 1 else f"the end of epoch {epoch - 1}"
    return DivergenceError(f"training diverged in epoch {epoch} ({what}) with eta={optimizer.eta:g}, "
                           f"lmbda={optimizer.lmbda:g}: {optimizer.divergence_hint(n)}. The weights from {kept} "
                           f"were kept.")


class Trainable(Protocol):
    """What ``run`` needs of a network (``fastnn.Network`` is one): its parameters and one epoch."""

    params: np.ndarray

    def train_epoch(self, X: np.ndarray, Y: np.ndarray, order: np.ndarray, batch_size: int, optimizer: "Optimizer",
                    n: int | None = None, threads: int = 1, hogwild: bool = False) -> float: ...


class Examples(Protocol):
    """What ``run`` needs of the data (``fastnn.Data`` is one): inputs X and targets Y, checked."""

    X: np.ndarray
    Y: np.ndarray


@dataclass
class Position:
    """Where training stands, as the hooks see it (counts since the start of this ``run``)."""

    n: int  # examples per epoch
    epoch: int = 0  # epochs completed
    in_epoch: int = 0  # examples of the current epoch done (n after its last segment)
    examples: int = 0
    updates: int = 0
    seconds: float = 0.0  # training seconds: the compiled segments only
    epoch_seconds: float = 0.0  # of the current epoch
    stopped: bool = False  # a hook asked to stop
    loss_sum: float = 0.0  # of the current epoch: the costs train_epoch returned, summed

    @property
    def loss(self) -> float:
        """The current epoch's mean cost so far over its examples, each at the weights it saw before its
        update (``Network.train_epoch``'s loss over in_epoch examples); NaN before the first."""
        return self.loss_sum / self.in_epoch if self.in_epoch else math.nan

    @property
    def epochs(self) -> float:
        """Epochs done, fractional: examples / n."""
        return self.examples / self.n


def run(net: Trainable, data: Examples, epochs: int, batch_size: int, optimizer: Optimizer, *, n: int | None = None,
        order: Callable[[int], np.ndarray] | None = None, points: Callable[[int], list[int]] | None = None,
        on_point: Callable[[Position], bool | None] | None = None,
        on_epoch: Callable[[Position], bool | None] | None = None, threads: int = 1, hogwild: bool = False) -> Position:
    """Train net on data for up to ``epochs`` epochs; returns the final Position.

    Parameters
    ----------
    net : fastnn.Network
    data : fastnn.model.Data
        Checked training arrays (``net.check_data``).
    epochs : int
    batch_size : int
    optimizer : Optimizer
    n : int or None
        Training-set size for the L2 term (default len(data.X)).
    order : callable or None
        order(epoch) -> int64 array of example indices for that epoch; default 0 .. n-1.
    points : callable or None
        points(epoch) -> increasing example counts within the epoch at which a compiled segment
        ends and on_point runs; the last must be the epoch's length. Default: the epoch's end.
    on_point, on_epoch : callable or None
        Hooks called with the Position after each segment and after each epoch; a true result
        stops training.
    threads, hogwild
        As in ``Network.fit`` (checked there).

    Raises
    ------
    DivergenceError
        When a segment leaves non-finite weights; the weights from the end of the last
        finished epoch are restored first.
    ValueError
        For an order or points outside the epoch.
    RuntimeError
        If another thread is training net (``Network.exclusive``).
    """
    with net.exclusive():
        return _run(net, data, epochs, batch_size, optimizer, n, order, points, on_point, on_epoch, threads, hogwild)


def _run(net, data, epochs, batch_size, optimizer, n, order, points, on_point, on_epoch, threads, hogwild):
    N = len(data.X)
    n = N if n is None else n
    pos = Position(n=N)
    last_good = net.params.copy()
    for epoch in range(epochs):
        idx = np.arange(N, dtype=np.int64) if order is None else np.asarray(order(epoch))
        ends = [len(idx)] if points is None else _checked_points(points(epoch), len(idx), epoch)
        start = 0
        pos.epoch_seconds = 0.0
        pos.loss_sum = 0.0
        for end in ends:
            t0 = time.perf_counter()
            pos.loss_sum += net.train_epoch(data.X, data.Y, idx[start:end], batch_size, optimizer, n=n,
                                            threads=threads, hogwild=hogwild)
            dt = time.perf_counter() - t0
            pos.seconds += dt
            pos.epoch_seconds += dt
            pos.updates += math.ceil((end - start) / batch_size)
            pos.examples += end - start
            pos.in_epoch = end
            start = end
            if not np.isfinite(net.params).all():
                net.params[:] = last_good
                raise diverged(epoch + 1, f"non-finite weights after {end:,} of its examples", optimizer, n)
            if on_point is not None and on_point(pos):
                pos.stopped = True
                return pos
        pos.epoch += 1
        last_good[:] = net.params
        if on_epoch is not None and on_epoch(pos):
            pos.stopped = True
            break
    return pos


def _checked_points(ends, length, epoch):
    """The segment ends points(epoch) returned, or a ValueError: they must rise and end at the epoch's length."""
    ends = [int(e) for e in ends]
    if not ends or ends[-1] != length or any(b <= a for a, b in zip([0] + ends, ends)):
        raise ValueError(f"points({epoch}) must give increasing example counts in 1 .. {length} ending at {length} "
                         f"(the epoch's length), got {ends[:10]}{' ...' if len(ends) > 10 else ''}")
    return ends
