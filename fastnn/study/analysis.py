"""From a study's rows to its numbers: steps to each target, intervals, B_crit, B_simple, the two clocks.

``analyse(meta, rows)`` returns one ``Arm`` per (optimizer, network sizes) of the study;
the report draws and writes only what is here. Every run that trained counts, ``stuck`` and
``diverged`` ones too: a run that never reached a target counts as infinitely slow to it, so
a batch size's median is finite only while more than half of its runs reached it, and misses
widen intervals instead of leaving the fast runs to speak for the batch size. Batch sizes are
compared seed by seed: a seed gives the same initial weights and example order at every batch
size (``run.train_run``).
"""
import math
from dataclasses import dataclass, field

import numpy as np

from .stats import LEVEL, bootstrap, compare, crossing, critical_batch_interval, difference, noise_scale

DONE = "done"
DIVERGED = "diverged"


@dataclass
class Run:
    id: str
    batch_size: int
    seed: int
    eta: float
    status: str
    note: str
    final_val_acc: float
    final_train_acc: float
    train_seconds: float
    examples: np.ndarray  # at each evaluation
    updates: np.ndarray
    seconds: np.ndarray
    accuracy: np.ndarray
    reach: list = field(default_factory=list)  # per target: dict(examples, updates, seconds, cpu_seconds), NaN = missed

    @property
    def gap(self):
        return self.final_train_acc - self.final_val_acc


@dataclass
class Arm:
    optimizer: str
    sizes: list
    targets: list
    runs: dict  # batch size -> [Run] (every status)
    seconds_per_update: dict  # batch size -> Interval-like dict from the clock (or None)
    tuning: dict  # batch size -> tuning entry of study.json (or None for a given eta)
    etas: dict  # batch size -> eta of the runs
    # per target: (CriticalBatch or None, Interval or None, the batch sizes fitted)
    critical: list = field(default_factory=list)
    noise: list = field(default_factory=list)  # [(epoch, NoiseScale)] over training, runs of noise_batch_size

    def done(self, b):
        return [r for r in self.runs.get(b, []) if r.status == DONE]

    def trained(self, b):
        """Every run of batch b that trained to its end or stopped on its own (done, stuck, diverged)."""
        return self.runs.get(b, [])

    def counts(self, b):
        """{status: number of runs} at batch size b."""
        out = {}
        for r in self.runs.get(b, []):
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def reach(self, b, k, what, runs=None):
        """what ('examples', 'updates', 'seconds', 'cpu_seconds') to target k of each run of batch b (default:
        every run trained), +inf where the run never reached it."""
        runs = self.trained(b) if runs is None else runs
        vals = np.array([r.reach[k][what] for r in runs], np.float64)
        return np.where(np.isnan(vals), np.inf, vals)

    def to_target(self, b, k, what):
        """what of the runs of batch b that reached target k, and how many runs trained."""
        vals = self.reach(b, k, what)
        return vals[np.isfinite(vals)], len(vals)

    def median_interval(self, b, k, what):
        """Median over the runs trained with a bootstrap interval; a missed run counts as infinitely slow,
        so the median is finite only when more than half reached the target."""
        vals = self.reach(b, k, what)
        if len(vals) == 0 or np.median(vals) == np.inf:
            return None
        return bootstrap(vals)

    def paired(self, a, b):
        """The runs of batches a and b on the seeds both have, in the same seed order."""
        ra, rb = ({r.seed: r for r in self.trained(x)} for x in (a, b))
        seeds = sorted(set(ra) & set(rb))
        return [ra[s] for s in seeds], [rb[s] for s in seeds]


def analyse(meta, rows):
    """One Arm per (optimizer, sizes) with runs, in the order of the configuration."""
    config = meta["config"]
    targets = meta["targets"]
    by_run = {}
    for r in rows:
        by_run.setdefault(r["run"], []).append(r)
    arms = []
    for opt in config["optimizers"]:
        for sizes in config["sizes"]:
            arm = _arm(meta, by_run, opt, list(sizes), targets)
            if arm.runs:
                arms.append(arm)
    return arms


def _clock(meta, opt, sizes):
    for c in meta.get("clock") or []:
        if c["optimizer"] == opt and c["sizes"] == sizes:
            return {int(b): v for b, v in c["per_batch"].items()}
    return {}


def _arm(meta, by_run, opt, sizes, targets):
    clock = _clock(meta, opt, sizes)
    tuning = {t["batch_size"]: t for t in meta.get("tuning", []) if t["optimizer"] == opt and t["sizes"] == sizes}
    etas = {e["batch_size"]: e["eta"] for e in meta.get("etas", []) if e["optimizer"] == opt and e["sizes"] == sizes}
    runs, noise_rows = {}, []
    for rid, rr in by_run.items():
        final = rr[-1]
        if final["kind"] != "run" or final["optimizer"] != opt or final["sizes"] != sizes:
            continue
        ev = sorted((r for r in rr if r["kind"] == "eval"), key=lambda r: r["examples"])
        b = final["batch_size"]
        cost = clock.get(b, {}).get("seconds_per_update", math.nan)
        run = Run(rid, b, final["seed"], final["eta"], final["status"], final["note"], final["final_val_acc"],
                  final["final_train_acc"] if final["final_train_acc"] is not None else math.nan,
                  final["train_seconds"], *(np.array([r[k] for r in ev], np.float64)
                                            for k in ("examples", "updates", "train_seconds", "val_acc")))
        for t in targets:
            reach = {k: crossing(getattr(run, k), run.accuracy, t) for k in ("examples", "updates", "seconds")}
            reach["cpu_seconds"] = reach["updates"] * cost
            run.reach.append(reach)
        runs.setdefault(b, []).append(run)
        if final["status"] == DONE:
            noise_rows += [r for r in rr if r["kind"] == "noise"]
    arm = Arm(opt, sizes, targets, dict(sorted(runs.items())), clock, tuning, etas)
    for k in range(len(targets)):
        arm.critical.append(critical_batch_interval({b: arm.reach(b, k, "updates") for b in arm.runs}))
    by_epoch = {}
    for r in noise_rows:
        by_epoch.setdefault(r["epoch"], []).append(r)
    for epoch in sorted(by_epoch):
        rs = by_epoch[epoch]
        labels = tuple(np.concatenate([np.full(len(r[key]), i) for i, r in enumerate(rs)])
                       for key in ("small_sq", "big_sq"))
        arm.noise.append((epoch, noise_scale(np.concatenate([r["small_sq"] for r in rs]),
                                             np.concatenate([r["big_sq"] for r in rs]),
                                             rs[0]["b_small"], rs[0]["b_big"], runs=labels), len(rs)))
    return arm


def final_accuracy(run, classes):
    """A run's final validation accuracy; chance (1 / classes) for one that diverged: its last evaluation
    came before its weights turned non-finite, and a network of non-finite weights gives every input one
    class."""
    return 1.0 / classes if run.status == DIVERGED else run.final_val_acc


def comparisons(arm, a, b, k, level=LEVEL):
    """Batch a against batch b at target k, seed by seed: {name: Comparison or None}, lower is better except
    accuracy. None where a side's median is infinite (more than half of its runs missed the target)."""
    ra, rb = arm.paired(a, b)
    out = {}
    for name, what in (("examples to target", "examples"), ("sequential updates to target", "updates"),
                       ("CPU seconds to target", "cpu_seconds")):
        xa, xb = arm.reach(a, k, what, ra), arm.reach(b, k, what, rb)
        enough = len(xa) > 0 and np.median(xa) < np.inf and np.median(xb) < np.inf
        if what == "cpu_seconds":  # updates x the clock's cost per update, both resampled
            ca, cb = arm.seconds_per_update.get(a), arm.seconds_per_update.get(b)
            enough = enough and ca is not None and cb is not None
            out[name] = compare(arm.reach(a, k, "updates", ra), arm.reach(b, k, "updates", rb), paired=True,
                                scale_a=ca["samples"], scale_b=cb["samples"], level=level) if enough else None
        else:
            out[name] = compare(xa, xb, paired=True, level=level) if enough else None
    acc_a, acc_b = ([final_accuracy(r, arm.sizes[-1]) for r in runs] for runs in (ra, rb))
    out["final validation accuracy"] = (compare(acc_a, acc_b, lower_is_better=False, paired=True, level=level)
                                        if ra and min(acc_a + acc_b) > 0 else None)
    # the gap needs a training accuracy, which a diverged run has not: the seeds where both sides have one
    both = [(x.gap, y.gap) for x, y in zip(ra, rb) if np.isfinite(x.gap) and np.isfinite(y.gap)]
    out["generalisation gap"] = difference(*zip(*both), paired=True, level=level) if both else None
    return out


def tuning_medians(entry):
    """{eta: median examples to the target over its tuning seeds (inf if most missed)}, by increasing eta,
    from a tuning entry of study.json (where a miss is recorded as null)."""
    return {float(e): float(np.median([math.inf if x is None else x for x in v]))
            for e, v in sorted(entry["scores"].items(), key=lambda kv: float(kv[0])) if v}


def eta_range(arm, b):
    """(lowest, highest) eta of the tuning grid whose tuning runs reached the target (median finite), or None."""
    t = arm.tuning.get(b)
    if not t:
        return None
    ok = [e for e, m in tuning_medians(t).items() if math.isfinite(m)]
    return (min(ok), max(ok)) if ok else None
