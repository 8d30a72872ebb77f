"""Is training stuck? Symptoms of a network that has stopped learning, cheap enough to check every epoch.

A network trained with far too large a learning rate rarely produces NaN: more often its
sigmoid neurons saturate or its ReLU units die, and it settles on one answer for every input
while the cost stops falling. ``stuck_symptoms`` looks for these signs on at most a few
thousand training examples:

- every unit of a ReLU layer is dead: z <= 0, so its output and its gradient are zero, on
  every example; no later update can revive it;
- its output is the same for every input (the output neurons saturated): it predicts one
  class whatever it is shown;
- its weights grew by two orders of magnitude or more while its cost did not fall (since
  the start) or stopped changing (since the previous check);
- it predicts one class for (nearly) every example, a class the data do not mostly hold,
  or its accuracy is at chance level, while its cost has not fallen and has stopped
  changing although the weights moved. A network on its first plateau, which will still
  learn, does not show this: its cost keeps falling.

The comparisons use snapshots of the network (``snapshot``) before training and at the
previous check; ``Watch`` keeps them for one run. ``fit`` checks after every epoch and warns
once with a ``StuckTrainingWarning``; the study can mark runs stuck with the same function.
"""
import warnings
from typing import NamedTuple

import numpy as np

from .registry import COSTS

PROBE_SIZE = 1000  # examples the symptoms are measured on
MIN_EXAMPLES = 100  # fewer examples are no evidence either way
CONSTANT = 1e-3  # outputs whose spread (std over the examples) is below this, relative to their size, are constant
ONE_CLASS_SHARE = 0.95  # "predicts one class" = that share of the predictions or more ...
ONE_CLASS_TRUE_SHARE = 0.5  # ... for a class that holds less than this share of the labels
CHANCE_MARGIN = 0.05  # accuracy within this of the largest class's share is chance level
MOVED = 0.1  # the weights moved: ||w - w0|| / ||w0|| at least this
GREW = 100.0  # the weights grew: ||w|| / ||w0|| at least this
COST_FELL = 0.8  # the cost fell: below this fraction of the cost before training
COST_FLAT = 0.01  # the cost stopped changing: it moved by less than this fraction since the previous check


class StuckTrainingWarning(UserWarning):
    """Training goes on, but the network has stopped learning (see ``fastnn.health``)."""


class Snapshot(NamedTuple):
    """The network at one moment, as ``stuck_symptoms`` compares with it."""

    params: np.ndarray  # a float64 copy of the parameters
    cost: float  # mean cost without the L2 term, on the probe


def probe(data, size=PROBE_SIZE):
    """At most ``size`` evenly spaced examples of ``data`` (a ``fastnn.Data``), the same ones every time."""
    n = len(data.X)
    if n <= size:
        return data
    idx = np.linspace(0, n - 1, size).astype(np.int64)
    return type(data)(data.X[idx], data.Y[idx], data.labels[idx])


def snapshot(net, data):
    """Record the network now, on the examples ``stuck_symptoms`` sees (``probe(data)``)."""
    return Snapshot(net.params.astype(np.float64), float(net.total_cost(probe(data))))


def _relu_inputs(net, X):
    """z^l = w^l a^{l-1} + b^l of every layer of a ReLU network (the probe is small: NumPy will do)."""
    a, zs = X, []
    for w, b in zip(net.weights, net.biases):
        zs.append(a @ w.T + b)
        a = np.maximum(zs[-1], 0.0)  # an output layer that is not ReLU is last: its a is not used
    return zs


def _norm(a):
    """||a||, without BLAS: its threads can take milliseconds to wake for a vector of 24,000."""
    return float(np.sqrt(np.square(a).sum()))


def _relu_layers(net):
    """Indices of the layers of weights whose neurons are ReLU units (the output layer only with the quadratic cost)."""
    if net.activation != "relu":
        return []
    last = len(net.sizes) - 2
    return [l for l in range(last + 1) if l < last or COSTS[net.cost].output is None]


def stuck_symptoms(net, data, start=None, previous=None):
    """The signs that net has stopped learning, as sentences; an empty list for a healthy network.

    Parameters
    ----------
    net : fastnn.Network
    data : fastnn.Data
        Training data (``net.check_data``); at most ``PROBE_SIZE`` evenly spaced examples are used.
    start, previous : Snapshot or None
        The network before training and at the previous check (``snapshot``). Without start,
        only dead ReLU layers and a constant output are looked for; without previous, the
        one-class and chance-level symptoms are not (a network on its first plateau shows them too).

    Returns
    -------
    list of str
        One sentence per symptom found, naming it with its numbers.
    """
    d = probe(data)
    return _symptoms(net, d, start, previous, None if start is None else snapshot(net, d))


class Watch:
    """Checks one training run for the symptoms, once per epoch: what ``fit`` does.

    Created before training (it records the start); ``check()`` after each epoch returns
    ``stuck_symptoms`` with the previous check as ``previous``.
    """

    def __init__(self, net, data):
        self.net, self.data = net, probe(data)
        self.start, self.previous = snapshot(net, self.data), None

    def check(self):
        now = snapshot(self.net, self.data)
        found = _symptoms(self.net, self.data, self.start, self.previous, now)
        self.previous = now
        return found


def _symptoms(net, d, start, previous, now):
    """stuck_symptoms on the probe d, with the network now (a Snapshot, or None without start)."""
    n = len(d.X)
    counts = np.bincount(d.labels, minlength=net.sizes[-1])
    if n < MIN_EXAMPLES or (np.count_nonzero(counts) < 2 and not d.multilabel):
        return []
    found = []
    if _relu_layers(net):
        zs = _relu_inputs(net, d.X)
        for l in _relu_layers(net):
            if not (zs[l] > 0).any():
                where = "output layer" if l == len(net.sizes) - 2 else f"hidden layer {l + 1}"
                found.append(f"every ReLU unit of the {where} ({net.sizes[l + 1]} units) is dead: none is "
                             f"active on any of {n:,} training examples, so none gets a gradient")
    out = net.feedforward(d.X).astype(np.float64)
    predicted = np.argmax(out, axis=1)  # as net.predict
    top = int(np.argmax(np.bincount(predicted, minlength=net.sizes[-1])))
    share, true_share = np.mean(predicted == top), counts[top] / n
    spread = float(out.std(axis=0).max())
    if not found and spread < CONSTANT * max(1.0, float(np.abs(out).max())):
        found.append(f"its output is the same for every input (spread {spread:.2g} over {n:,} training examples): "
                     f"the output neurons have saturated" + ("" if d.multilabel else
                                                             f", and it predicts class {top} for {share:.0%} of them"))
    if start is None:
        return found
    w0 = _norm(start.params)
    grew = _norm(now.params) / w0 if w0 > 0 else np.inf
    moved = _norm(now.params - start.params) / w0 if w0 > 0 else np.inf
    fell = now.cost < COST_FELL * start.cost
    flat = previous is not None and abs(now.cost - previous.cost) <= COST_FLAT * abs(previous.cost)
    cost = (f"the cost has not changed since the last check ({now.cost:.3g}; {start.cost:.3g} before training)"
            if flat else f"the cost has not fallen ({now.cost:.3g}, from {start.cost:.3g} before training)")
    if grew >= GREW and (flat or not fell):
        found.append(f"the weights grew {grew:,.0f}-fold and {cost}")
    if found or fell or not flat or moved < MOVED or d.multilabel:  # (the rest is about classes)
        return found
    moved = f"although the weights moved (||w - w0|| = {moved:.3g} ||w0||)"
    accuracy, chance = float(np.mean(predicted == d.labels)), counts.max() / n
    if share >= ONE_CLASS_SHARE and true_share < ONE_CLASS_TRUE_SHARE:
        found.append(f"it predicts class {top} for {share:.0%} of {n:,} training examples, which are "
                     f"{true_share:.0%} class {top}, and {cost}, {moved}")
    elif accuracy <= chance + CHANCE_MARGIN:
        found.append(f"training accuracy {accuracy:.1%} is at chance level ({chance:.1%}, the largest class) "
                     f"and {cost}, {moved}")
    return found


def advice(eta, lmbda, n, flags=False):
    """What to try when training is stuck: a sentence naming the hyper-parameters to change.

    flags=True names them as the command line's flags (--eta) instead of Python's arguments.
    """
    smaller = f"--eta {eta / 10:g}" if flags else f"eta={eta / 10:g}"
    fix = (f"Try a smaller learning rate (e.g. {smaller}) or another initialisation "
           f"({'--init or --seed' if flags else 'init or seed'})")
    decay = eta * lmbda / n
    if decay >= 0.1:
        fix += (f"; {'--lmbda' if flags else 'lmbda'} may be too large too (eta*lmbda/n = {decay:.3g}: every update "
                f"shrinks the weights by that fraction)")
    return fix


def stuck_message(symptoms, epoch, eta, lmbda, n, flags=False):
    """The sentence that reports stuck training: when, the symptoms, and the fix (see ``advice``)."""
    return f"training looks stuck after epoch {epoch}: {'; '.join(symptoms)}. {advice(eta, lmbda, n, flags)}."


def warn_stuck(symptoms, epoch, eta, lmbda, n, stacklevel=3):
    """Emit a StuckTrainingWarning naming the symptoms and the fix."""
    warnings.warn(stuck_message(symptoms, epoch, eta, lmbda, n), StuckTrainingWarning, stacklevel=stacklevel)
