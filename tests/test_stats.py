"""The study's statistics on synthetic runs with known answers."""
import math

import numpy as np
import pytest

import fastnn
from conftest import make_learnable
from fastnn.study import stats
from fastnn.study.run import gradient_sq_norms


def test_bootstrap_interval_of_the_median_covers_the_truth_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    covered = 0
    for i in range(200):
        ci = stats.bootstrap(rng.normal(5.0, 1.0, 40), n_boot=400, rng=np.random.default_rng(i))
        assert ci.lo <= ci.value <= ci.hi
        covered += ci.lo <= 5.0 <= ci.hi
    assert 0.88 <= covered / 200 <= 0.99


def test_a_twofold_difference_is_an_advantage_and_no_difference_is_not_claimed():
    rng = np.random.default_rng(2)
    a = np.exp(rng.normal(math.log(100), 0.2, 10))
    b = np.exp(rng.normal(math.log(200), 0.2, 10))
    c = stats.compare(a, b)
    assert c.verdict == "advantage" and c.ratio.hi < 1 and 0.4 < c.ratio.value < 0.6
    assert stats.compare(b, a).verdict == "disadvantage"
    assert stats.compare(a, b, lower_is_better=False).verdict == "disadvantage"  # e.g. accuracy
    assert "advantage in examples to target (ratio 0." in c.sentence("examples to target")
    # two samples of one distribution: a claim would be a false positive; expect about 5% of them
    claims = sum(stats.compare(np.exp(rng.normal(0, 0.3, 10)), np.exp(rng.normal(0, 0.3, 10)), n_boot=400,
                               rng=np.random.default_rng(i)).verdict != "no measurable difference"
                 for i in range(100))
    assert claims <= 15
    same = stats.compare([1.0, 2.0, 3.0] * 2, [1.0, 2.0, 3.0] * 2)
    assert same.verdict == "no measurable difference" and "no measurable difference in x (ratio 1" in same.sentence("x")


def test_the_target_crossing_is_interpolated_between_evaluations():
    x = [0, 100, 200, 400]
    y = [0.1, 0.5, 0.7, 0.9]
    assert stats.crossing(x, y, 0.6) == pytest.approx(150.0)
    assert stats.crossing(x, y, 0.9) == pytest.approx(400.0)
    assert stats.crossing(x, y, 0.05) == 0.0
    assert math.isnan(stats.crossing(x, y, 0.95))
    assert stats.crossing([0, 10, 20], [0.2, 0.8, 0.5], 0.7) == pytest.approx(10 * 0.5 / 0.6)  # the first crossing


def test_the_fit_recovers_a_planted_critical_batch_size():
    B = np.array([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000], float)
    steps = 1000 * (1 + 50 / B)
    fit = stats.fit_critical_batch(B, steps)
    assert fit.b_crit == pytest.approx(50, rel=1e-4) and fit.s_min == pytest.approx(1000, rel=1e-4)
    assert fit.e_min == pytest.approx(50_000, rel=1e-4) and fit.rms_log_error < 1e-6
    # with 10 noisy runs per batch size the interval holds the truth and excludes a 4x error
    rng = np.random.default_rng(3)
    runs = {b: s * np.exp(rng.normal(0, 0.15, 10)) for b, s in zip(B, steps)}
    runs[1000][3] = math.nan  # a run that missed the target counts as infinitely slow
    best, ci, fitted = stats.critical_batch_interval(runs, n_boot=300)
    assert ci.lo < 50 < ci.hi and ci.lo > 12.5 and ci.hi < 200 and fitted == list(B)
    assert stats.fit_critical_batch([10, 10], [5, 6]) is None
    # Censoring: at batch 500 and 1000 the slowest 4 of 10 runs miss. Fitting the runs that reached the
    # target would pull those batch sizes down to their fast runs (B_crit 54.4, 9% high); their medians
    # (a missed run is slower than any) are right.
    runs = {b: s * np.exp(np.linspace(-0.3, 0.3, 10)) for b, s in zip(B, steps)}
    runs[500][6:] = runs[1000][6:] = math.nan
    best, ci, fitted = stats.critical_batch_interval(runs, n_boot=300)
    assert best.b_crit == pytest.approx(50, rel=0.01) and 1000 in fitted
    runs[1000][4:] = math.nan  # more than half missed: no finite median, left out of the fit
    assert 1000 not in stats.critical_batch_interval(runs, n_boot=300)[2]
    assert stats.critical_batch_interval({1: [5.0, math.nan, math.nan], 2: [3.0]}) == (None, None, [])


def test_noise_scale_estimators_match_the_exact_trace_and_gradient_norm():
    X, y = make_learnable(200, 6, 3, seed=5)
    net = fastnn.Network([6, 5, 3], dtype="float64", seed=1)
    d = net.check_data(X, y)
    per_example = np.array([net.gradient_sum(d, idx=[i]) for i in range(len(X))])
    G = per_example.mean(axis=0)
    trace = per_example.var(axis=0).sum()  # the population covariance: batches are drawn with replacement
    rng = np.random.default_rng(7)
    small = gradient_sq_norms(net, d, 2, 20_000, rng)
    big = gradient_sq_norms(net, d, 40, 4_000, rng)
    # each |g_B|^2 is right on its own: E|g_B|^2 = |G|^2 + tr(Sigma)/B
    assert small.mean() == pytest.approx(G @ G + trace / 2, rel=0.03)
    ns = stats.noise_scale(small, big, 2, 40, n_boot=500)
    assert ns.g2 == pytest.approx(G @ G, rel=0.15)
    assert ns.trace == pytest.approx(trace, rel=0.05)
    exact = trace / (G @ G)
    assert ns.b_simple.lo < exact < ns.b_simple.hi
    assert ns.b_simple.value == pytest.approx(exact, rel=0.2)


def test_a_scale_with_its_own_uncertainty_multiplies_the_ratio_and_widens_its_interval():
    rng = np.random.default_rng(3)
    a = np.exp(rng.normal(math.log(100), 0.1, 10))
    b = np.exp(rng.normal(math.log(100), 0.1, 10))
    steady = stats.compare(a, b, scale_a=[2.0] * 5, scale_b=[1.0] * 5)
    plain = stats.compare(a, b)
    assert steady.ratio.value == pytest.approx(2 * plain.ratio.value)
    assert steady.ratio.lo == pytest.approx(2 * plain.ratio.lo) and steady.verdict == "disadvantage"
    noisy = stats.compare(a, b, scale_a=[1.0, 3.0, 1.5, 2.5, 2.0], scale_b=[1.0] * 5)
    assert noisy.ratio.value == pytest.approx(steady.ratio.value)
    assert noisy.ratio.hi - noisy.ratio.lo > 2 * (steady.ratio.hi - steady.ratio.lo)


def test_a_difference_of_medians_can_be_negative_and_says_so():
    d = stats.difference([0.01, 0.02, 0.015, 0.012, 0.011, 0.018], [0.05, 0.06, 0.055, 0.052, 0.058, 0.051])
    assert d.verdict == "advantage" and d.ratio.hi < 0 and d.measure == "difference"
    assert "difference -0.04" in d.sentence("generalisation gap")
    assert stats.difference([0.01, 0.05] * 3, [0.02, 0.04] * 3).verdict == "no measurable difference"
