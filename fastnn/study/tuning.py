"""Targets and learning rates, fixed before the grid runs: the pilot, and tuning on the study's own metric.

Both train on the *tuning split* of the training set (``split``: a fixed share held out, the
rest to train on) with seeds that are not the study's, and score on the held-out share,
never on the validation set the study reports.

- ``pilot``: the targets. A few learning rates train the pilot batch size for as many
  examples as a run of the study; the best held-out accuracy any of them reaches sets the
  targets at fixed fractions of the way from chance to it.
- ``tune_eta``: for one batch size, every eta of a log-spaced grid is scored by the examples
  it needs until held-out accuracy reaches the target (``examples_to_target``, interpolated
  between log-spaced evaluations); an eta that misses the target within the budget or
  diverges scores infinity. Successive halving (Jamieson and Talwalkar 2016) spends the time
  where it matters: every eta gets one seed first, the better half gets twice the seeds, and
  so on, an eta's score being the median over its seeds. An eta is stopped once it has used
  ``CAP`` times the best median so far without reaching the target: it cannot win, and it
  scores infinity (recorded as "more than" that many examples). Ties go to the smaller eta.
"""
import math

import numpy as np

from ..model import Data, Network
from ..training import DivergenceError, Optimizer, run
from .stats import crossing

CAP = 3.0


def log_points(n, batch_size, count, start=None):
    """About ``count`` example counts from ``start`` (default a 1000th of n, at least one batch)
    to n, spaced evenly in log, each a multiple of batch_size (n itself ends the list)."""
    start = max(batch_size, n // 1000 if start is None else start)
    raw = np.geomspace(start, n, count)
    points = sorted({min(n, max(batch_size, int(round(p / batch_size)) * batch_size)) for p in raw} | {n})
    return points


def split(X, Y, labels, share):
    """(train, held_out) Data: a fixed random ``share`` of the examples held out (the same for every call)."""
    perm = np.random.default_rng(12345).permutation(len(X))
    k = len(X) - math.ceil(len(X) * share)
    fit, held = np.sort(perm[:k]), np.sort(perm[k:])
    return Data(X[fit], Y[fit], labels[fit]), Data(X[held], Y[held], labels[held])


def examples_to_target(net, train, held_out, batch_size, optimizer, target, budget, seed, evals=24, best=None):
    """Examples of training (from net's current weights) until accuracy on held_out reaches target.

    Evaluates at log-spaced example counts (``evals`` per epoch of train, fewer later: the
    same points each epoch) and interpolates between them; stops at the target. Returns inf
    when the budget (examples) runs out or training diverges. best, if a list, gets the best
    held-out accuracy seen appended.
    """
    xs, ys, diverged = held_out_curve(net, train, held_out, batch_size, optimizer, math.ceil(budget / len(train.X)),
                                      seed, evals, stop=lambda examples, acc: acc >= target or examples >= budget)
    if diverged:
        if best is not None:
            best.append(0.0)  # worse than any network that trained
        return math.inf
    if best is not None:
        best.append(max(ys))
    reached = crossing(xs, ys, target)
    return reached if math.isfinite(reached) and reached <= budget else math.inf


def held_out_curve(net, train, held_out, batch_size, optimizer, epochs, seed, evals, stop=None):
    """Train net for up to ``epochs`` epochs (examples shuffled by ``seed``), evaluating accuracy on held_out
    at the start and at log-spaced example counts: ``evals`` points in the first epoch, the later half of
    them in every epoch after. stop(examples, accuracy), if given, ends training when true.

    Returns (examples, accuracies, diverged): the evaluations so far, and whether training diverged.
    """
    n = len(train.X)
    rng = np.random.default_rng(seed)
    points = log_points(n, batch_size, evals)
    xs, ys = [0], [net.accuracy(held_out)]

    def evaluate(pos):
        xs.append(pos.examples)
        ys.append(net.accuracy(held_out))
        return stop is not None and stop(xs[-1], ys[-1])

    try:
        run(net, train, epochs, batch_size, optimizer, order=lambda e: rng.permutation(n),
            points=lambda e: points if e == 0 else points[len(points) // 2:], on_point=evaluate)
    except DivergenceError:
        return xs, ys, True
    return xs, ys, False


def tune_eta(train, held_out, sizes, batch_size, etas, target, budget, seeds=(1000, 1001, 1002, 1003),
             activation="sigmoid", cost="cross_entropy", dtype="float32", lmbda=0.0, evals=24, optimizer="sgd",
             momentum=0.9, guess=None, cap=CAP):
    """The eta of ``etas`` with the fewest median examples to target, by successive halving.

    guess, if given, is the eta expected to be best: the etas are tried nearest to it first,
    so that the cap (``cap`` times the best median so far) stops hopeless ones early.

    Returns (best eta, {eta: [examples to target per seed tried, inf for a miss]}, {eta: the
    budget each seed had}, {eta: [best held-out accuracy per seed, 0 for a diverged one]});
    the best is None when no eta reached the target.
    """
    scores = {float(e): [] for e in sorted(etas)}
    budgets = {e: [] for e in scores}
    accuracy = {e: [] for e in scores}
    alive = sorted(scores, key=lambda e: (abs(math.log(e / guess)) if guess else 0.0, e))
    best = math.inf
    for rung in range(len(seeds)):
        want = min(len(seeds), 2 ** rung)
        for eta in alive:
            for seed in seeds[len(scores[eta]):want]:
                limit = min(budget, cap * best)
                net = Network(sizes, activation=activation, cost=cost, dtype=dtype, seed=seed)
                opt = Optimizer.named(optimizer, eta, lmbda, momentum)
                scores[eta].append(examples_to_target(net, train, held_out, batch_size, opt, target, limit, seed,
                                                      evals, best=accuracy[eta]))
                budgets[eta].append(limit)
            if len(scores[eta]) == want and math.isfinite(np.median(scores[eta])) and want == 1:
                best = min(best, float(np.median(scores[eta])))
        if want >= len(seeds) or len(alive) == 1:
            break
        ranked = sorted(alive, key=lambda e: (np.median(scores[e]), e))
        alive = [e for e in ranked[:max(1, math.ceil(len(ranked) / 2))] if math.isfinite(np.median(scores[e]))] \
            or ranked[:1]
        best = min((float(np.median(scores[e])) for e in alive), default=math.inf)
    finite = [e for e in scores if scores[e] and math.isfinite(np.median(scores[e]))]
    if not finite:
        return None, scores, budgets, accuracy
    # Only etas that made it to the last rung compete: their medians cover the most seeds.
    most = max(len(scores[e]) for e in finite)
    winner = min((e for e in finite if len(scores[e]) == most), key=lambda e: (np.median(scores[e]), e))
    return winner, scores, budgets, accuracy


def pilot(train, held_out, sizes, batch_size, etas, examples, fractions, seed=999, activation="sigmoid",
          cost="cross_entropy", dtype="float32", lmbda=0.0, evals=24):
    """Targets fixed before the grid: ``fractions`` of the way from chance to the best held-out accuracy.

    Each eta of ``etas`` trains batch_size for ``examples`` examples from one seed (not a study
    seed); held-out accuracy is evaluated at log-spaced points. Chance is the share of the
    held-out set's largest class.

    Returns dict(targets, best, chance, eta (the one that reached best), curves {eta: [[examples, accuracy]]}).
    """
    chance = float(np.bincount(held_out.labels).max() / len(held_out.labels))
    epochs = max(1, math.ceil(examples / len(train.X)))
    curves, best, best_eta = {}, chance, None
    for eta in etas:
        net = Network(sizes, activation=activation, cost=cost, dtype=dtype, seed=seed)
        xs, ys, _ = held_out_curve(net, train, held_out, batch_size, Optimizer(eta, lmbda), epochs, seed, evals)
        curves[float(eta)] = [[x, y] for x, y in zip(xs, ys)]
        top = max(ys)
        if top > best:
            best, best_eta = top, float(eta)
    targets = sorted(round(chance + f * (best - chance), 4) for f in fractions)
    return dict(targets=targets, best=best, chance=chance, eta=best_eta, batch_size=batch_size, seed=seed,
                examples=examples, fractions=list(fractions), curves={str(k): v for k, v in curves.items()})
