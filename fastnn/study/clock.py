"""An honest clock: what one update costs at each batch size, measured by a protocol made for timing.

The learning runs record their own training seconds, but a run is short and shares the
machine with whatever else runs, so its seconds are a poor basis for a verdict. Here the
compiled epoch alone is timed:

- every measurement trains for at least ``min_seconds`` (a pilot segment sets the number of
  updates), so timer resolution and call overhead do not count;
- the batch sizes are interleaved, in a new random order in each of ``repeats`` rounds, so a
  slow spell of the host spreads over all of them instead of hitting one;
- the result per batch size is the median seconds per update over the rounds, with the
  range and a bootstrap interval.

Seconds to a target on this CPU are then updates to target x this cost per update.
"""
import time

import numpy as np

from ..model import Network
from ..training import Optimizer
from .stats import bootstrap


def _one_measurement(net, data, batch_size, optimizer, updates, rng):
    """Seconds for ``updates`` updates of batch_size examples (the order wraps around the data)."""
    n = len(data.X)
    order = rng.permutation(max(n, updates * batch_size))[: updates * batch_size] % n
    t0 = time.perf_counter()
    net.train_epoch(data.X, data.Y, order, batch_size, optimizer, n=n)
    return time.perf_counter() - t0


def time_updates(sizes, data, batch_sizes, etas, activation="sigmoid", cost="cross_entropy", dtype="float32",
                 min_seconds=1.0, repeats=5, seed=0, optimizer="sgd", momentum=0.9, check_stop=None):
    """Seconds per update at each batch size, interleaved and repeated (see the module docstring).

    Parameters
    ----------
    sizes : list of int
    data : fastnn.Data
        Checked training data for a network of these sizes.
    batch_sizes : list of int
    etas : dict batch size -> learning rate (the study's tuned ones: timing at the rate used)
    optimizer, momentum : the update rule's registry name and its momentum
    min_seconds : float
        Work per measurement.
    repeats : int
        Rounds; each measures every batch size once, in a new random order.
    check_stop : callable or None
        Called after every measurement, pilots included; whatever it raises stops the clock there,
        so that a Ctrl-C is taken between measurements and never inside a compiled epoch.

    Returns
    -------
    dict
        batch size -> {"seconds_per_update": median, "interval": [lo, hi] (bootstrap of the
        median), "range": [min, max], "samples": per-round seconds per update,
        "updates": updates per measurement, "seconds": seconds per measurement}.
    """
    rng = np.random.default_rng(seed)

    def measure(net, b, n_updates):
        t = _one_measurement(net, data, b, Optimizer.named(optimizer, etas[b], momentum=momentum), n_updates, rng)
        if check_stop is not None:
            check_stop()
        return t
    nets, updates = {}, {}
    for b in batch_sizes:  # compile, then size each measurement from a pilot of about 0.05 s
        net = Network(sizes, activation=activation, cost=cost, dtype=dtype, seed=seed)
        measure(net, b, 2)
        k, t = 4, 0.0
        while t < 0.05 and k < 10**8:
            k *= 4
            t = measure(net, b, k)
        updates[b] = max(1, int(np.ceil(k * min_seconds / max(t, 1e-9))))
        nets[b] = net
    samples = {b: [] for b in batch_sizes}
    seconds = {b: [] for b in batch_sizes}
    for _ in range(repeats):
        for b in rng.permutation(np.asarray(batch_sizes)):
            b = int(b)
            t = measure(nets[b], b, updates[b])
            if not np.isfinite(nets[b].params).all():  # keep timing finite arithmetic
                nets[b].initialize(seed=seed)
            seconds[b].append(t)
            samples[b].append(t / updates[b])
    out = {}
    for b in batch_sizes:
        s = np.asarray(samples[b])
        ci = bootstrap(s)
        out[b] = dict(seconds_per_update=ci.value, interval=[ci.lo, ci.hi], range=[float(s.min()), float(s.max())],
                      samples=s.tolist(), updates=updates[b], seconds=seconds[b])
    return out
