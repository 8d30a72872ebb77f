"""From a study's rows to its numbers: steps to each target, intervals, B_crit, B_simple, the two clocks.

``analyse(meta, rows)`` returns one ``Arm`` per (optimizer, network sizes) of the study;
the report draws and writes only what is here. Runs marked ``stuck`` or ``diverged`` are
counted per batch size and left out of every median.
"""
import math
from dataclasses import dataclass, field

import numpy as np

from .stats import bootstrap, compare, crossing, critical_batch_interval, difference, noise_scale

DONE = "done"


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

    def counts(self, b):
        """{status: number of runs} at batch size b."""
        out = {}
        for r in self.runs.get(b, []):
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def to_target(self, b, k, what):
        """what ('examples', 'updates', 'seconds', 'cpu_seconds') of the finished runs of batch b that reached
        target k (NaN dropped), and how many finished runs there are."""
        done = self.done(b)
        vals = np.array([r.reach[k][what] for r in done], np.float64)
        return vals[np.isfinite(vals)], len(done)

    def median_interval(self, b, k, what):
        """Median over the finished runs with a bootstrap interval; a missed run counts as infinitely slow,
        so the median is finite only when more than half reached the target."""
        done = self.done(b)
        vals = np.array([r.reach[k][what] for r in done], np.float64)
        vals[~np.isfinite(vals)] = np.inf
        if len(vals) == 0 or np.median(vals) == np.inf:
            return None
        return bootstrap(vals)


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
        steps = {b: np.array([r.reach[k]["updates"] for r in arm.done(b)]) for b in arm.runs}
        arm.critical.append(critical_batch_interval(steps))
    by_epoch = {}
    for r in noise_rows:
        by_epoch.setdefault(r["epoch"], []).append(r)
    for epoch in sorted(by_epoch):
        rs = by_epoch[epoch]
        arm.noise.append((epoch, noise_scale(np.concatenate([r["small_sq"] for r in rs]),
                                             np.concatenate([r["big_sq"] for r in rs]),
                                             rs[0]["b_small"], rs[0]["b_big"]), len(rs)))
    return arm


def comparisons(arm, a, b, k):
    """Batch a against batch b at target k: {name: Comparison or None}, lower is better except accuracy."""
    out = {}
    for name, what in (("examples to target", "examples"), ("sequential updates to target", "updates"),
                       ("CPU seconds to target", "cpu_seconds")):
        xa, na = arm.to_target(a, k, what)
        xb, nb = arm.to_target(b, k, what)
        # Only when more than half of both reached: otherwise the medians are not finite.
        enough = len(xa) * 2 > na and len(xb) * 2 > nb
        if what == "cpu_seconds":  # updates x the clock's cost per update, both resampled
            ca, cb = arm.seconds_per_update.get(a), arm.seconds_per_update.get(b)
            enough = enough and ca is not None and cb is not None
            out[name] = compare(arm.to_target(a, k, "updates")[0], arm.to_target(b, k, "updates")[0],
                                scale_a=ca["samples"], scale_b=cb["samples"]) if enough else None
        else:
            out[name] = compare(xa, xb) if enough else None
    acc_a = [r.final_val_acc for r in arm.done(a)]
    acc_b = [r.final_val_acc for r in arm.done(b)]
    out["final validation accuracy"] = compare(acc_a, acc_b, lower_is_better=False) if acc_a and acc_b else None
    gap_a = [r.gap for r in arm.done(a)]
    gap_b = [r.gap for r in arm.done(b)]
    out["generalisation gap"] = difference(gap_a, gap_b) if gap_a and gap_b else None
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
