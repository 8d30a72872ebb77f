"""The study's statistics: intervals, verdicts, steps to a target, the critical batch size, the noise scale.

Everything here is plain NumPy on the numbers the runs recorded, so it can be tested on
synthetic runs with known answers.

- ``bootstrap``: a statistic (default the median) of a sample with a percentile bootstrap
  interval.
- ``compare``: the ratio of two groups' medians with a bootstrap interval, and the verdict it
  allows: a difference is claimed only when the interval excludes 1. A run that missed a target
  counts as infinitely slow (+inf), so misses widen the interval instead of dropping out; groups
  measured on the same seeds are resampled by seed (``paired``).
- ``difference``: the same for a difference of medians (for quantities that can be negative).
- ``crossing``: when a run first reached a target, interpolated between evaluations.
- ``fit_critical_batch``: McCandlish et al. (2018)'s trade-off between steps S and examples
  E = B S to reach a target, (S/S_min - 1)(E/E_min - 1) = 1, i.e. S(B) = S_min (1 + B_crit/B)
  with B_crit = E_min/S_min, fitted to steps-to-target against batch size;
  ``critical_batch_interval`` fits it to each batch size's median, with a bootstrap interval.
- ``noise_scale``: the simple gradient noise scale B_simple = tr(Sigma)/|G|^2 from squared
  norms of mini-batch gradients at two batch sizes (McCandlish et al. 2018, appendix A), its
  interval resampling the runs and then each run's mini-batches.
"""
import math
from typing import NamedTuple

import numpy as np

LEVEL = 0.95
N_BOOT = 2000


class Interval(NamedTuple):
    """A point estimate and its (lo, hi) interval."""

    value: float
    lo: float
    hi: float

    def excludes(self, x):
        return self.lo > x or self.hi < x


def quantiles(boots, level=LEVEL):
    """The (lo, hi) percentile interval of bootstrap replicates that may hold +inf (a median over runs most of
    which missed): an end that falls on or next to an infinite replicate is that replicate, not NaN (NumPy's
    interpolation computes inf - inf there). NaN replicates (inf / inf: both sides' medians infinite, which
    says nothing about their ratio) count as 0 for the lower end and +inf for the upper one, so they can only
    widen the interval."""
    boots = np.asarray(boots, np.float64)
    q = (1 - level) / 2
    ends = []
    for end, p, fill in (("lo", q, 0.0), ("hi", 1 - q, math.inf)):
        x = np.where(np.isnan(boots), fill, boots)
        with np.errstate(invalid="ignore"):
            v = float(np.quantile(x, p))
        ends.append(float(np.quantile(x, p, method="lower")) if math.isnan(v) else v)
    return tuple(ends)


def bootstrap(sample, statistic=np.median, n_boot=N_BOOT, level=LEVEL, rng=None):
    """statistic(sample) with a percentile bootstrap interval; NaN for an empty sample.

    Parameters
    ----------
    sample : 1-D array of numbers (inf allowed: the interval's end is then inf)
    statistic : callable, reducing an array along axis -1
    n_boot : int
    level : float in (0, 1)
    rng : numpy.random.Generator or None (a fixed seed: the same data give the same interval)

    Returns
    -------
    Interval
    """
    x = np.asarray(sample, dtype=np.float64)
    if x.size == 0:
        return Interval(math.nan, math.nan, math.nan)
    rng = np.random.default_rng(0) if rng is None else rng
    boots = statistic(x[rng.integers(0, len(x), size=(n_boot, len(x)))], axis=-1)
    return Interval(float(statistic(x)), *quantiles(boots, level))


class Comparison(NamedTuple):
    """a against b: the ratio of medians with its interval, and the verdict for a."""

    ratio: Interval  # or the difference, for ``difference``
    verdict: str  # "advantage", "disadvantage" or "no measurable difference"
    n_a: int
    n_b: int
    measure: str = "ratio"
    too_few: bool = False  # no verdict was possible at this level with so few runs (``decidable``)

    def sentence(self, what):
        r = self.ratio
        text = (f"{self.measure} {r.value:.4g}, {LEVEL:.0%} interval [{r.lo:.4g}, {r.hi:.4g}], "
                f"{self.n_a} against {self.n_b} runs")
        if self.too_few:
            return (f"no verdict in {what} ({text}): {min(self.n_a, self.n_b)} runs a side are too few for a "
                    f"{LEVEL:.0%} verdict (a sign test needs {runs_needed(LEVEL)})")
        if self.verdict == "no measurable difference":
            return f"no measurable difference in {what} ({text})"
        return f"{self.verdict} in {what} ({text})"


def runs_needed(level):
    """The fewest runs a side for which a two-sided sign test can reach ``level``: 2 (1/2)^n <= 1 - level.

    A percentile bootstrap of a median cannot reach past the sample's extremes, so with a handful of runs it
    is far too sure of itself: with 5 seeds and no true difference, a 99% interval excluded 1 about 5% of the
    time, with 3 seeds about 25%. A distribution-free test cannot do better than the sign test's 2 (1/2)^n
    (every pair on one side), so below this many runs the study gives no verdict at all."""
    return math.ceil(math.log2(2 / (1 - level)) - 1e-12)


def _verdict(iv, null, lower_is_better, n, level):
    """(verdict, too_few) for an interval of a's ratio (null 1) or difference (null 0) to b."""
    if n < runs_needed(level):
        return "no measurable difference", True
    if not iv.excludes(null):
        return "no measurable difference", False
    return ("advantage" if (iv.hi < null) == lower_is_better else "disadvantage"), False


def compare(a, b, lower_is_better=True, n_boot=N_BOOT, level=LEVEL, rng=None, scale_a=None, scale_b=None,
            paired=False):
    """Median(a) / median(b) with a bootstrap interval.

    The verdict names a's standing: with lower_is_better (steps, seconds) a ratio whose whole
    interval lies below 1 is an "advantage", above 1 a "disadvantage"; an interval that holds
    1 is "no measurable difference". Values must be positive; +inf stands for a run that never
    got there (it counts as the slowest of its group, so a group most of whose resamples are
    infinite gives an infinite end, never a claim for it).

    paired: a[i] and b[i] were measured on the same seed (the same initial weights and example
    order), so the seeds are resampled, each taking both of its values; otherwise each group is
    resampled on its own.

    scale_a, scale_b, if given, are samples of a factor each side is multiplied by (e.g. the
    clock's seconds per update): the ratio is then median(a) median(scale_a) / (median(b)
    median(scale_b)), and the scales are resampled too (on their own: the clock is not paired
    with the runs), so their uncertainty widens the interval.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) == 0 or len(b) == 0:
        return Comparison(Interval(math.nan, math.nan, math.nan), "no measurable difference", len(a), len(b))
    if not ((a > 0).all() and (b > 0).all()):
        raise ValueError("compare needs positive values (a ratio of medians; +inf for a run that never got there)")
    if paired and len(a) != len(b):
        raise ValueError(f"paired samples need one value per seed on each side, got {len(a)} and {len(b)}")
    rng = np.random.default_rng(0) if rng is None else rng

    def draw(n):
        return rng.integers(0, n, size=(n_boot, n))
    ia = draw(len(a))
    ib = ia if paired else draw(len(b))
    va, vb = np.median(a), np.median(b)
    ma, mb = np.median(a[ia], axis=1), np.median(b[ib], axis=1)
    if scale_a is not None:
        sa, sb = np.asarray(scale_a, np.float64), np.asarray(scale_b, np.float64)
        va, vb = va * np.median(sa), vb * np.median(sb)
        ma, mb = ma * np.median(sa[draw(len(sa))], axis=1), mb * np.median(sb[draw(len(sb))], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = ma / mb
        value = va / vb
    r = Interval(float(value), *quantiles(ratios, level))
    verdict, too_few = _verdict(r, 1.0, lower_is_better, min(len(a), len(b)), level)
    return Comparison(r, verdict, len(a), len(b), too_few=too_few)


def difference(a, b, n_boot=N_BOOT, level=LEVEL, rng=None, paired=False):
    """median(a) - median(b) with a bootstrap interval, as a Comparison whose 'ratio' is the difference
    (verdict: 'advantage' when the whole interval is below 0, i.e. a smaller gap); paired as in ``compare``."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if paired and len(a) != len(b):
        raise ValueError(f"paired samples need one value per seed on each side, got {len(a)} and {len(b)}")
    rng = np.random.default_rng(0) if rng is None else rng
    ia = rng.integers(0, len(a), size=(n_boot, len(a)))
    ib = ia if paired else rng.integers(0, len(b), size=(n_boot, len(b)))
    d = np.median(a[ia], axis=1) - np.median(b[ib], axis=1)
    iv = Interval(float(np.median(a) - np.median(b)), *quantiles(d, level))
    verdict, too_few = _verdict(iv, 0.0, True, min(len(a), len(b)), level)
    return Comparison(iv, verdict, len(a), len(b), "difference", too_few)


def crossing(x, y, target):
    """The first x at which y reaches target, linearly interpolated between the evaluations
    around it; x[0] if y[0] already does; NaN if y never does.

    x increasing (examples, updates or seconds at each evaluation), y the accuracy there.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    hit = np.nonzero(y >= target)[0]
    if hit.size == 0:
        return math.nan
    i = int(hit[0])
    if i == 0:
        return float(x[0])
    x0, x1, y0, y1 = x[i - 1], x[i], y[i - 1], y[i]
    return float(x0 + (target - y0) * (x1 - x0) / (y1 - y0))


class CriticalBatch(NamedTuple):
    """The fitted S(B) = S_min (1 + B_crit / B): S_min steps, E_min = S_min B_crit examples."""

    s_min: float
    b_crit: float
    e_min: float
    rms_log_error: float  # of the fit, in natural-log units of S

    def steps(self, b):
        return self.s_min * (1 + self.b_crit / np.asarray(b, np.float64))


def fit_critical_batch(batch_sizes, steps):
    """Least-squares fit of log S = log S_min + log(1 + B_crit/B) to steps-to-target.

    Parameters
    ----------
    batch_sizes, steps : 1-D arrays of the same length (one entry per run, or per batch size);
        entries with non-finite or non-positive steps are ignored.

    Returns
    -------
    CriticalBatch, or None with fewer than 2 distinct batch sizes.

    For a given B_crit the best log S_min is the mean of log S - log(1 + B_crit/B), so the fit
    is a 1-D search over log B_crit: a grid, then a finer grid around its best point (each
    evaluated in one array operation). B_crit is kept within [min(B)/1000, max(B)*1000]:
    outside it the data cannot tell it apart from 0 or inf.
    """
    b = np.asarray(batch_sizes, np.float64)
    s = np.asarray(steps, np.float64)
    keep = np.isfinite(s) & (s > 0) & np.isfinite(b) & (b > 0)
    b, s = b[keep], s[keep]
    if len(np.unique(b)) < 2:
        return None
    log_s = np.log(s)

    def sse(log_bc):  # for an array of log B_crit
        resid = log_s[None, :] - np.log1p(np.exp(log_bc)[:, None] / b[None, :])
        return np.sum((resid - resid.mean(axis=1, keepdims=True)) ** 2, axis=1)

    grid = np.linspace(math.log(b.min() / 1000), math.log(b.max() * 1000), 241)
    step = grid[1] - grid[0]
    for _ in range(3):  # each pass narrows the step 100-fold around the best point
        k = int(np.argmin(sse(grid)))
        grid = np.linspace(grid[k] - step, grid[k] + step, 201)
        step = grid[1] - grid[0]
    log_bc = float(grid[int(np.argmin(sse(grid)))])
    b_crit = math.exp(log_bc)
    resid = log_s - np.log1p(b_crit / b)
    s_min = math.exp(resid.mean())
    return CriticalBatch(s_min, b_crit, s_min * b_crit, float(np.sqrt(np.mean((resid - resid.mean()) ** 2))))


def critical_batch_interval(runs, n_boot=N_BOOT, level=LEVEL, rng=None):
    """B_crit fitted to the median steps-to-target of each batch size, with a bootstrap interval.

    runs : dict batch size -> array of steps-to-target of its runs (NaN or inf for runs that
        missed the target).

    A run that missed counts as infinitely slow, so a batch size's median is finite only
    while more than half of its runs reached the target; only those batch sizes enter the fit.
    Fitting medians, not the runs that happened to reach it, keeps the censored runs from
    biasing a batch size towards its fast runs. The interval resamples the runs of each batch
    size on its own, takes the medians again (a batch size whose resampled median is infinite
    drops out of that fit) and refits; all resamples are fitted at once on a fine grid of
    log B_crit.

    Returns (CriticalBatch fitted to the medians, Interval of B_crit, the batch sizes fitted),
    or (None, None, []) with fewer than 2 batch sizes whose median is finite.
    """
    sizes = sorted(runs)
    data = {B: np.where(np.isfinite(np.asarray(runs[B], np.float64)), np.asarray(runs[B], np.float64), np.inf)
            for B in sizes if len(runs[B])}
    sizes = [B for B in sizes if B in data]
    medians = np.array([np.median(data[B]) for B in sizes])
    fitted = [B for B, m in zip(sizes, medians) if np.isfinite(m) and m > 0]
    best = fit_critical_batch(fitted, [m for m in medians if np.isfinite(m) and m > 0]) if len(fitted) >= 2 else None
    if best is None:
        return None, None, []
    rng = np.random.default_rng(0) if rng is None else rng
    boot = np.stack([np.median(data[B][rng.integers(0, len(data[B]), size=(n_boot, len(data[B])))], axis=1)
                     for B in sizes], axis=1)  # (n_boot, batch sizes)
    w = (np.isfinite(boot) & (boot > 0)).astype(np.float64)
    log_s = np.where(w > 0, np.log(np.where(w > 0, boot, 1.0)), 0.0)
    b = np.asarray(sizes, np.float64)
    grid = np.linspace(math.log(b.min() / 1000), math.log(b.max() * 1000), 4001)
    L = np.log1p(np.exp(grid)[:, None] / b[None, :])  # (grid, batch sizes)
    n = w.sum(axis=1, keepdims=True)
    # the weighted sum over batch sizes of (log_s - L - mean)^2, for every resample and grid point
    sse = ((w * log_s ** 2).sum(1, keepdims=True) - 2 * (w * log_s) @ L.T + w @ (L ** 2).T
           - ((w * log_s).sum(1, keepdims=True) - w @ L.T) ** 2 / np.maximum(n, 1))
    usable = (w > 0).sum(axis=1) >= 2
    boots = np.exp(grid[np.argmin(sse[usable], axis=1)])
    return best, Interval(best.b_crit, *quantiles(boots, level)), fitted


class NoiseScale(NamedTuple):
    """Estimates of |G|^2, tr(Sigma) and B_simple = tr(Sigma)/|G|^2, with B_simple's interval."""

    g2: float
    trace: float
    b_simple: Interval


def noise_scale(small_sq, big_sq, b_small, b_big, n_boot=N_BOOT, level=LEVEL, rng=None, runs=None):
    """B_simple from squared norms of mean gradients over mini-batches of two sizes.

    For a mini-batch of B examples drawn with replacement, E|G_B|^2 = |G|^2 + tr(Sigma)/B
    (Sigma the covariance of one example's gradient). The two sizes give unbiased estimates
    (McCandlish et al. 2018, appendix A):

        |G|^2    = (B_big |G_big|^2 - B_small |G_small|^2) / (B_big - B_small)
        tr(Sigma) = (|G_small|^2 - |G_big|^2) / (1/B_small - 1/B_big)

    computed from the means of small_sq and big_sq (each an array over independent batches);
    B_simple is their ratio, with a bootstrap interval.

    runs : None, or (runs_small, runs_big), the run (seed) each entry of small_sq and big_sq was measured
        in. The batches of one run share its weights, so they are not independent draws of the seed-to-seed
        variation: the interval then resamples the runs, and within each drawn run its batches (a two-stage
        bootstrap). Without it, the batches are resampled as one sample.
    """
    small, big = np.asarray(small_sq, np.float64), np.asarray(big_sq, np.float64)
    if not 0 < b_small < b_big:
        raise ValueError(f"need 0 < b_small < b_big, got {b_small} and {b_big}")

    def estimate(s, g):
        g2 = (b_big * g - b_small * s) / (b_big - b_small)
        tr = (s - g) / (1 / b_small - 1 / b_big)
        return g2, tr

    g2, tr = estimate(small.mean(), big.mean())
    rng = np.random.default_rng(0) if rng is None else rng
    if runs is None:
        s_boot = small[rng.integers(0, len(small), size=(n_boot, len(small)))].mean(axis=1)
        g_boot = big[rng.integers(0, len(big), size=(n_boot, len(big)))].mean(axis=1)
    else:
        s_boot, g_boot = _two_stage_means((small, big), [np.asarray(r) for r in runs], n_boot, rng)
    g2_b, tr_b = estimate(s_boot, g_boot)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_b = np.where(g2_b > 0, tr_b / g2_b, np.inf)
    value = tr / g2 if g2 > 0 else math.inf
    return NoiseScale(float(g2), float(tr), Interval(float(value), *quantiles(ratio_b, level)))


def _two_stage_means(samples, labels, n_boot, rng):
    """For each sample (labels: the group of each of its entries), n_boot means of a two-stage resample: the
    groups drawn with replacement (the same draw for every sample), then each drawn group's own entries."""
    groups = np.unique(np.concatenate(labels))
    picks = rng.integers(0, len(groups), size=(n_boot, len(groups)))
    out = []
    for x, lab in zip(samples, labels):
        members = [x[lab == g] for g in groups]
        sizes = np.array([len(m) for m in members])
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        pool = np.concatenate(members)
        n = sizes[picks][..., None]  # (n_boot, groups, 1): the drawn groups' sizes
        slot = np.arange(max(sizes.max(), 1))
        idx = starts[picks][..., None] + np.floor(rng.random((*picks.shape, len(slot))) * n).astype(np.int64)
        keep = slot < n
        total = np.where(keep, pool[np.where(keep, idx, 0)] if len(pool) else 0.0, 0.0).sum(axis=(1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(total / keep.sum(axis=(1, 2)))
    return out
