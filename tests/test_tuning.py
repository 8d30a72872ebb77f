"""The learning-rate search on the study's metric, and log-spaced evaluation points."""
import math

import numpy as np
import pytest

import fastnn
from conftest import make_learnable
from fastnn.model import Data
from fastnn.study import tuning


def test_log_points_are_multiples_of_the_batch_and_end_at_n():
    p = tuning.log_points(50_000, 20, 24)
    assert p[-1] == 50_000 and all(x % 20 == 0 for x in p) and p == sorted(set(p))
    assert 18 <= len(p) <= 25 and p[0] == 40  # starts near n/1000 (50), on a multiple of the batch
    ratios = np.diff(np.log(p))
    assert ratios.max() < 3 * ratios.mean()  # evenly spaced in log, give or take rounding
    assert tuning.log_points(100, 100, 24) == [100]


@pytest.fixture(scope="module")
def problem():
    X, y = make_learnable(1200, 10, 3, seed=3)
    d = fastnn.Network([10, 8, 3], dtype="float64").check_data(X, y)
    return Data(d.X[:900], d.Y[:900], d.labels[:900]), Data(d.X[900:], d.Y[900:], d.labels[900:])


def test_examples_to_target_is_reached_and_interpolated(problem):
    train, held = problem
    net = fastnn.Network([10, 8, 3], dtype="float64", seed=0)
    e = tuning.examples_to_target(net, train, held, 10, fastnn.Optimizer(1.0), 0.7, 20 * 900, seed=1)
    assert 0 < e < 20 * 900
    acc_after = net.accuracy(held)
    assert acc_after >= 0.7  # it stopped at the evaluation that reached the target
    slow = fastnn.Network([10, 8, 3], dtype="float64", seed=0)
    assert tuning.examples_to_target(slow, train, held, 10, fastnn.Optimizer(1e-4), 0.7, 900, seed=1) == math.inf


def test_a_diverging_eta_scores_infinity(problem, monkeypatch):
    train, held = problem

    def diverge(*args, **kwargs):
        raise fastnn.DivergenceError("non-finite weights")
    monkeypatch.setattr(tuning, "run", diverge)
    net = fastnn.Network([10, 8, 3], dtype="float64", seed=0)
    assert tuning.examples_to_target(net, train, held, 1, fastnn.Optimizer(1.0), 0.9, 5 * 900, seed=1) == math.inf


def test_successive_halving_picks_the_fastest_eta_and_spends_seeds_on_the_better_half(problem):
    train, held = problem
    etas = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
    best, scores, budgets, accuracy = tuning.tune_eta(train, held, [10, 8, 3], 10, etas, 0.7, 10 * 900,
                                                      dtype="float64", seeds=(1000, 1001, 1002, 1003), guess=1.0)
    assert best in (1.0, 3.0)  # a tiny eta cannot reach the target within the budget
    assert all(math.isinf(v) for v in scores[0.01])
    # Tried after the best (nearest the guess first), it was stopped at 3x the best median so far.
    assert max(budgets[0.01]) <= tuning.CAP * min(np.median(v) for v in scores.values() if len(v) == 1) + 1
    assert max(accuracy[0.01]) < 0.7 <= min(accuracy[best])
    assert len(scores[best]) == 4 and len(scores[0.01]) == 1  # the worse half stopped after one seed
    medians = {e: np.median(v) for e, v in scores.items() if len(v) == 4}
    assert medians[best] == min(medians.values())
