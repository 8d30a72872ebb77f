"""Learning rates tuned on the study's own metric: examples to a target, by successive halving.

For one batch size, every eta of a log-spaced grid trains on the tuning part of the training
set and is scored by the examples it needs until accuracy on a held-out part (never the
reported validation set) reaches the target, interpolated between log-spaced evaluations
(``examples_to_target``); an eta that misses the target within the budget, diverges or gets
stuck scores infinity. Successive halving (Jamieson and Talwalkar 2016) spends the tuning
time where it matters: every eta gets one seed first, the better half gets twice the seeds,
and so on, the score of an eta being the median over its seeds. Ties go to the smaller eta.
The seeds of tuning are not the study's seeds.
"""
import math

import numpy as np

from ..model import Network
from ..training import DivergenceError, Optimizer, run
from .stats import crossing


def log_points(n, batch_size, count, start=None):
    """About ``count`` example counts from ``start`` (default a 1000th of n, at least one batch)
    to n, spaced evenly in log, each a multiple of batch_size (n itself ends the list)."""
    start = max(batch_size, n // 1000 if start is None else start)
    raw = np.geomspace(start, n, count)
    points = sorted({min(n, max(batch_size, int(round(p / batch_size)) * batch_size)) for p in raw} | {n})
    return points


def examples_to_target(net, train, held_out, batch_size, optimizer, target, budget, seed, evals=24):
    """Examples of training (from net's current weights) until accuracy on held_out reaches target.

    Evaluates at log-spaced example counts (``evals`` per epoch of train, fewer later: the
    same points each epoch) and interpolates between them; stops at the target. Returns inf
    when the budget (examples) runs out, training diverges, or the network is stuck at chance.
    """
    n = len(train.X)
    rng = np.random.default_rng(seed)
    points = log_points(n, batch_size, evals)
    xs, ys = [0], [net.accuracy(held_out)]

    def evaluate(pos):
        xs.append(pos.examples)
        ys.append(net.accuracy(held_out))
        return ys[-1] >= target or pos.examples >= budget

    epochs = math.ceil(budget / n)
    try:
        run(net, train, epochs, batch_size, optimizer, order=lambda e: rng.permutation(n),
            points=lambda e: points if e == 0 else points[len(points) // 2:], on_point=evaluate)
    except DivergenceError:
        return math.inf
    reached = crossing(xs, ys, target)
    return reached if math.isfinite(reached) else math.inf


def tune_eta(train, held_out, sizes, batch_size, etas, target, budget, seeds=(1000, 1001, 1002, 1003),
             activation="sigmoid", cost="cross_entropy", dtype="float32", lmbda=0.0, evals=24):
    """The eta of ``etas`` with the fewest median examples to target, by successive halving.

    Returns (best eta, {eta: [examples to target per seed tried]}); the best is None when no
    eta reached the target.
    """
    scores = {float(e): [] for e in sorted(etas)}
    alive = list(scores)
    for rung in range(len(seeds)):
        want = min(len(seeds), 2 ** rung)
        for eta in alive:
            for seed in seeds[len(scores[eta]):want]:
                net = Network(sizes, activation=activation, cost=cost, dtype=dtype, seed=seed)
                scores[eta].append(examples_to_target(net, train, held_out, batch_size, Optimizer(eta, lmbda),
                                                      target, budget, seed, evals))
        if want >= len(seeds) or len(alive) == 1:
            break
        ranked = sorted(alive, key=lambda e: (np.median(scores[e]), e))
        alive = [e for e in ranked[:max(1, math.ceil(len(ranked) / 2))] if math.isfinite(np.median(scores[e]))] \
            or ranked[:1]
    finite = [e for e in scores if scores[e] and math.isfinite(np.median(scores[e]))]
    if not finite:
        return None, scores
    # Only etas that made it to the last rung compete: their medians cover the most seeds.
    most = max(len(scores[e]) for e in finite)
    return min((e for e in finite if len(scores[e]) == most), key=lambda e: (np.median(scores[e]), e)), scores
