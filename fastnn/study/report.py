"""The study's report: the answer first, then the figures and tables it rests on.

``write_report(folder)`` reads study.json and results.jsonl and writes report.md,
report.html (the same page with the figures embedded) and the PNG figures. Every number
comes from ``fastnn.study.analysis``; nothing in the answer is written in advance: each
comparison of online learning (batch 1) with the reference batch size (20) is called an
advantage or a disadvantage only when the 95% interval of its ratio excludes 1, and says whether
it still does at the family-wise level of the answer's comparisons (Bonferroni). The middle
target is the primary endpoint; the other targets are exploratory and say so.
"""
import base64
import html
import json
import math
import re
from pathlib import Path

import numpy as np

from .._figures import save_figure
from ..serialization import write_text
from .analysis import analyse, comparisons, eta_range, tuning_medians
from .config import StudyConfig, StudyError
from .results import CONFIG, RESULTS, completed, failed_runs, read_results
from .stats import LEVEL, runs_needed
from .tuning import CAP

FIGURES = ("steps_to_target.png", "tuning.png", "noise_scale.png", "clock.png", "learning_curves.png")
SCOPE = {
    "examples to target": "it counts examples, so it does not depend on the machine",
    "sequential updates to target": "updates are what time is proportional to on hardware with enough parallel "
                                    "units to compute a whole mini-batch in the time of one example",
    "CPU seconds to target": "this CPU, one thread (updates to target x the clock's seconds per update)",
    "final validation accuracy": "at the end of each run's budget, at learning rates tuned for speed to the target, "
                                 "not for final accuracy",
    "generalisation gap": "training minus validation accuracy at the end of each run's budget, at the same rates",
}


def report_files(folder):
    """The files a report wrote into folder: report.md, report.html and its figures (FIGURES, and each further
    arm's, suffixed _<optimizer>_<sizes> as write_report names them)."""
    figure = re.compile("(" + "|".join(re.escape(f[:-len(".png")]) for f in FIGURES) + r")(_[a-z]+_\d+(-\d+)*)?\.png")
    return [p for p in Path(folder).iterdir() if p.name in ("report.md", "report.html") or figure.fullmatch(p.name)]


def load_study(folder):
    folder = Path(folder)
    if not (folder / CONFIG).exists():
        raise StudyError(f"{folder} holds no study ({CONFIG} is missing)")
    meta = json.loads((folder / CONFIG).read_text())
    raw = read_results(folder / RESULTS)
    rows, done = completed(raw)
    if not done:
        raise StudyError(f"{folder / RESULTS} holds no finished run yet")
    if "targets" not in meta:
        raise StudyError(f"{folder / CONFIG} records no targets; was it made by this version of fastnn?")
    meta["failed_runs"] = failed_runs(raw)
    return meta, rows


def _title(meta, what):
    d = meta["data"]
    name = f"{d['name']}, {d['n_train']:,} training / {d['n_val']:,} validation examples"
    return f"{'OFFLINE DEFAULT: ' if d.get('offline_default') else ''}{name}\n{what}"


def _ci(iv, fmt="{:.3g}"):
    if iv is None or not np.isfinite(iv.value):
        return "-"
    return f"{fmt.format(iv.value)} [{fmt.format(iv.lo)}, {fmt.format(iv.hi)}]"


def _pct(x):
    return "-" if x is None or not np.isfinite(x) else f"{x:.2%}"


# ----------------------------------------------------------------------------- the answer
def answer(meta, arm, a=1, b=None):
    """The answer to the book's exercise as markdown lines: batch a (online) against batch b, from the intervals."""
    b = b or StudyConfig.from_json(meta["config"]).reference_batch_size
    targets = arm.targets
    mid = len(targets) // 2
    lines = []
    if a not in arm.runs or b not in arm.runs:
        return [f"The grid lacks batch size {a} or {b}, so there is no answer to the book's question here."]
    verdicts = {k: comparisons(arm, a, b, k) for k in range(len(targets))}
    made = [name for name, c in verdicts[mid].items() if c is not None]
    family = 1 - (1 - LEVEL) / max(len(made), 1)
    strict = comparisons(arm, a, b, mid, level=family)
    groups = {"advantage": [], "disadvantage": [], "no measurable difference": [], "too few": []}
    for name in made:
        groups["too few" if verdicts[mid][name].too_few else verdicts[mid][name].verdict].append(name)
    d = meta["data"]
    seeds = len(arm.paired(a, b)[0])
    intro = (f"On {'the OFFLINE DEFAULT data, ' if d.get('offline_default') else ''}{d['name']} "
             f"({d['n_train']:,} training examples): online learning (batch size {a}) against mini-batches of {b}, "
             f"{arm.optimizer.upper()}, network {arm.sizes}, at the middle target of {targets[mid]:.2%} validation "
             f"accuracy, this report's primary endpoint ({seeds} seeds, each giving both batch sizes the same "
             f"initial weights and example order; each batch size with its own tuned eta; {LEVEL:.0%} bootstrap "
             f"intervals of the ratio of medians, batch {a} over batch {b}, resampling the seeds; a run that never "
             f"reached the target counts as infinitely slow).")
    lines += [intro, ""]
    level = f"{100 * family:.3g}%"
    for title, key in (("Advantages of online learning", "advantage"),
                       ("Disadvantages of online learning", "disadvantage"),
                       ("No measurable difference", "no measurable difference"),
                       ("Too few runs for a verdict", "too few")):
        if key == "too few" and not groups[key]:
            continue
        lines.append(f"**{title}:**" + ("" if groups[key] else " none."))
        for name in groups[key]:
            c, s = verdicts[mid][name], strict[name]
            if key not in ("advantage", "disadvantage"):
                holds = ""
            elif s.too_few:
                holds = (f"; {min(s.n_a, s.n_b)} runs a side are too few to test it at the family-wise level of these "
                         f"{len(made)} comparisons ({level}: a sign test needs {runs_needed(family)})")
            else:
                holds = (f"; {'it holds' if s.verdict == key else 'it does not hold'} at the family-wise level of "
                         f"these {len(made)} comparisons ({level} interval [{s.ratio.lo:.4g}, {s.ratio.hi:.4g}])")
            lines.append(f"- {c.sentence(name)}; {SCOPE[name]}{holds}.")
        lines.append("")
    missing = [name for name in verdicts[mid] if name not in made]
    if missing:
        lines += [f"Not compared ({', '.join(missing)}): half or more of the runs of one side missed the "
                  f"target (or lack what it needs), so its median is not finite.", ""]
    ra, rb = eta_range(arm, a), eta_range(arm, b)
    if ra and rb:
        def span(x, r):
            return f"batch {x} from {r[0]:g} to {r[1]:g} ({r[1] / r[0]:.3g}x)"
        lines += [f"Learning rates that reached the middle target in tuning: {span(a, ra)}, {span(b, rb)}; the "
                  f"chosen etas are {arm.etas.get(a, math.nan):g} and {arm.etas.get(b, math.nan):g}.", ""]
    edges = tuning_edges(meta, arm)
    for missed, title in ((False, "Tuning at the edge of the grid (the best eta may lie beyond it, so these batch "
                                  "sizes may be slower here than they could be)"),
                          (True, "Tuning in which no eta of the grid reached the middle target (these batch sizes "
                                 "ran at the eta that came closest)")):
        chosen = {x: why for x, why in edges.items() if why.startswith("no eta") == missed}
        if chosen:
            lines += [f"{title}: " + "; ".join(f"batch {x}: {why}" for x, why in chosen.items()) + ".", ""]
    best, iv, fitted = arm.critical[mid]
    if best is not None:
        where = [f"batch {x} is {'below' if x < iv.lo else 'above' if x > iv.hi else 'within the interval of'} it"
                 for x in (a, b)]
        ratio = best.steps(b) / best.steps(a)
        lines += [f"Critical batch size at this target (McCandlish et al. 2018, fitted to steps to target over "
                  f"batch sizes {', '.join(map(str, fitted))}): B_crit = {_ci(iv)}; {where[0]} and {where[1]}. "
                  f"The fitted curve gives batch {b} {ratio:.3g} times the updates of batch {a} "
                  f"(perfect scaling would be {a / b:.3g})." + _extrapolation(meta, arm, mid), ""]
    if arm.noise:
        lines += [_noise_verdict(meta, arm), ""]
    others = [k for k in range(len(targets)) if k != mid]
    if others:
        tests = sum(c is not None and "target" in name for k in others for name, c in verdicts[k].items())
        lines += [f"At the other targets (exploratory: {tests} more comparisons at {LEVEL:.0%} each, not corrected "
                  f"for their number, so about one in {1 / (1 - LEVEL):.0f} could go either way by chance alone):", ""]
        for k in others:
            parts = [f"{name}: {c.verdict} ({c.measure} {c.ratio.value:.3g} [{c.ratio.lo:.3g}, {c.ratio.hi:.3g}])"
                     for name, c in verdicts[k].items() if c is not None and "target" in name]
            lines.append(f"- {targets[k]:.2%}: " + ("; ".join(parts) or "not enough runs reached it to compare."))
        lines.append("")
    return lines


def tuning_edges(meta, arm):
    """{batch size: why} for the batch sizes whose tuning ended on the grid's lowest or highest eta, or reached
    the middle target with none (the eta that came closest was used)."""
    grid = [float(e) for e in meta["config"]["eta_grid"]]
    out = {}
    for x in sorted(arm.runs):
        t, eta = arm.tuning.get(x), arm.etas.get(x)
        if not t or eta is None:
            continue
        if t["eta"] is None:
            out[x] = f"no eta of the grid reached the target in tuning; {eta:g}, the one that came closest, was used"
        elif eta in (min(grid), max(grid)):
            out[x] = f"the chosen eta {eta:g} is the grid's {'lowest' if eta == min(grid) else 'highest'}"
    return out


def _extrapolation(meta, arm, k):
    """A sentence on what the fit of B_crit at target k rests on, where it goes past the batch sizes fitted or
    leaves out batch sizes that missed the target within the study's budget; '' otherwise."""
    best, iv, fitted = arm.critical[k]
    out = []
    left = [x for x in sorted(arm.runs) if x not in fitted]
    if left:
        c = meta["config"]
        cap = (f"{c['epochs']} epochs" if c.get("min_updates") is None else
               f"{c['epochs']} epochs or {c['min_updates']:,} updates, whichever is more")
        out.append(f"Batch size{'s' if len(left) > 1 else ''} {', '.join(map(str, left))} "
                   f"{'are' if len(left) > 1 else 'is'} not in the fit: half or more of "
                   f"{'their' if len(left) > 1 else 'its'} runs missed the target within the study's budget "
                   f"({cap}), so the fit cannot see how {'they scale' if len(left) > 1 else 'it scales'}")
    if iv.hi > max(fitted):
        out.append(f"B_crit's interval reaches past the largest batch size fitted ({max(fitted)}): that part of it "
                   f"is an extrapolation of the fitted curve, not a measurement")
    if iv.lo < min(fitted):
        out.append(f"B_crit's interval reaches below the smallest batch size fitted ({min(fitted)}): that part of "
                   f"it is an extrapolation of the fitted curve, not a measurement")
    return "".join(f" {x}." for x in out)


# ----------------------------------------------------------------------------- figures
def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _loglog(ax, empty="no run reached it"):
    """Log-log axes, or a note where the axes hold no positive data to scale."""
    ys = [y for line in ax.get_lines() for y in np.asarray(line.get_ydata(), float).ravel()]
    ys += [y for c in ax.collections for y in np.asarray(c.get_offsets(), float)[:, 1:].ravel()]
    if not any(np.isfinite(y) and y > 0 for y in ys):
        ax.text(0.5, 0.5, empty, transform=ax.transAxes, ha="center", va="center")
        return
    ax.set_xscale("log")
    ax.set_yscale("log", nonpositive="mask")


def _legend(ax, **kw):
    """A legend, if anything on ax has a label (an empty one warns)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kw)


def _colors(n):
    plt = _plt()
    cmap = plt.get_cmap("viridis")
    return [cmap(i / max(n - 1, 1) * 0.9) for i in range(n)]


def fig_steps(meta, arm, folder, suffix):
    plt = _plt()
    T = len(arm.targets)
    fig, axes = plt.subplots(2, T, figsize=(4.2 * T, 7.5), squeeze=False)
    bs = sorted(arm.runs)
    for k, t in enumerate(arm.targets):
        best, iv, fitted = arm.critical[k]
        for row, what, label in ((0, "updates", "steps (updates) to target"), (1, "examples", "examples to target")):
            ax = axes[row][k]
            med_b, med = [], []
            for b in bs:
                vals, n_done = arm.to_target(b, k, what)
                jitter = np.exp(np.linspace(-0.06, 0.06, max(len(vals), 1)))[:len(vals)]
                ax.scatter(b * jitter, vals, s=9, color="0.55", alpha=0.7, zorder=2,
                           label="one seed" if b == bs[0] else None)
                m = arm.median_interval(b, k, what)
                if m is not None:
                    med_b.append(b)
                    med.append(m)
            if med:
                v = np.array([m.value for m in med])
                _interval_bars(ax, med_b, v, [m.lo for m in med], [m.hi for m in med], color="C0", marker="o",
                               ms=4, capsize=3, zorder=3, label=f"median, {LEVEL:.0%} bootstrap interval")
                x = np.array([min(bs), max(bs)], float)
                if row == 0:
                    ax.plot(x, v[0] * med_b[0] / x, "k--", lw=0.8, label="perfect scaling (slope -1)")
                else:
                    ax.plot(x, [v[0], v[0]], "k--", lw=0.8, label="perfect scaling (flat)")
            if best is not None:
                xs = np.geomspace(min(bs), max(bs), 100)
                s = best.steps(xs)
                ax.plot(xs, s if row == 0 else s * xs, color="C3", lw=1.2,
                        label=f"fit: B_crit {iv.value:.3g} [{iv.lo:.3g}, {iv.hi:.3g}]")
                ax.axvspan(max(iv.lo, min(bs)), min(iv.hi, max(bs)), color="C3", alpha=0.08)
                ax.axvline(iv.value, color="C3", lw=0.8, ls=":")
            _loglog(ax)
            ax.set_xlabel("batch size")
            ax.set_ylabel(label)
            reached = " ".join(f"{len(arm.to_target(b, k, what)[0])}" for b in bs)
            seeds = max(map(len, arm.runs.values()))
            ax.set_title(f"target {t:.2%}\nruns that reached it, per batch size (of {seeds}):\n{reached}", fontsize=7)
            _legend(ax, fontsize=6)
    fig.suptitle(_title(meta, f"Steps and examples to each target against batch size ({arm.optimizer}, "
                                f"{arm.sizes})"), fontsize=9)
    return save_figure(fig, folder, f"steps_to_target{suffix}.png")


def fig_tuning(meta, arm, folder, suffix):
    plt = _plt()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    bs = [b for b in sorted(arm.runs) if arm.tuning.get(b)]
    colors = _colors(len(bs))
    for b, c in zip(bs, colors):
        t = arm.tuning[b]
        med, miss = [], []
        for e, m in tuning_medians(t).items():
            if math.isfinite(m):
                med.append((e, m))
            else:
                miss.append((e, max(t["budgets"][f"{e:g}"])))
        if med:
            ax.plot(*zip(*med), "o-", color=c, ms=3, lw=1, label=f"batch {b}")
        if miss:
            ax.plot(*zip(*miss), "x", color=c, ms=4)
    _loglog(ax, "no tuning")
    ax.set_xlabel("learning rate eta")
    ax.set_ylabel("median examples to the middle target (held out)")
    ax.set_title("x: missed within the budget shown (stopped at 3x the best so far, or diverged)", fontsize=7)
    _legend(ax, fontsize=6, ncol=2)
    given = sorted(arm.etas)
    ax2.plot(given, [arm.etas[b] for b in given], "o-", label="chosen eta")
    if given:
        b0 = given[0]
        x = np.array([min(given), max(given)], float)
        ax2.plot(x, arm.etas[b0] * x / b0, "k--", lw=0.8, label=f"linear scaling from batch {b0}")
    _loglog(ax2)
    ax2.set_xlabel("batch size")
    ax2.set_ylabel("eta")
    _legend(ax2, fontsize=7)
    fig.suptitle(_title(meta, "Learning rate tuned on examples to target"), fontsize=9)
    return save_figure(fig, folder, f"tuning{suffix}.png")


def _interval_bars(ax, x, value, lo, hi, **kw):
    """Points at value with bars from lo to hi. An end on the wrong side of its value (matplotlib
    refuses negative bar lengths) is drawn as no bar on that side; an infinite upper end as a caret."""
    value, lo, hi = (np.asarray(a, float) for a in (value, lo, hi))
    open_above = ~np.isfinite(hi)  # more than a few resamples never reached: no upper end, a caret instead
    if open_above.any():
        ax.plot(np.asarray(x, float)[open_above], value[open_above] * 1.25, "^", color=kw.get("color"), ms=4)
    hi = np.where(open_above, value, hi)
    return ax.errorbar(x, value, yerr=[np.clip(value - lo, 0, None), np.clip(hi - value, 0, None)], **kw)


def fig_noise(meta, arm, folder, suffix):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    if arm.noise:
        e = np.array([x[0] for x in arm.noise])
        v = np.array([x[1].b_simple.value for x in arm.noise])
        lo = np.array([x[1].b_simple.lo for x in arm.noise])
        hi = np.array([x[1].b_simple.hi for x in arm.noise])
        ok = np.isfinite(v) & (v > 0)
        _interval_bars(ax, e[ok], v[ok], lo[ok], hi[ok], marker="o", capsize=3, label=f"B_simple, {LEVEL:.0%} interval")
    for k, (best, iv, _) in enumerate(arm.critical):
        if best is not None:
            ax.axhline(iv.value, color=f"C{k + 1}", lw=1, ls="--", label=f"B_crit at {arm.targets[k]:.2%}")
            ax.axhspan(iv.lo, iv.hi, color=f"C{k + 1}", alpha=0.08)
    ax.set_xscale("symlog", linthresh=0.1)
    if arm.noise:
        ax.set_xlim(0, max(x[0] for x in arm.noise) * 1.3)  # the axis starts where the data do
    if any(np.isfinite(ln.get_ydata()).any() for ln in ax.get_lines()) or arm.noise:
        ax.set_yscale("log", nonpositive="mask")
    ax.set_xlabel("epochs of training (batch size %s)" % meta["config"]["noise_batch_size"])
    ax.set_ylabel("batch size")
    _legend(ax, fontsize=7)
    ax.set_title(_title(meta, "The gradient noise scale B_simple over training, and the fitted B_crit"), fontsize=9)
    return save_figure(fig, folder, f"noise_scale{suffix}.png")


def fig_clock(meta, arm, folder, suffix):
    plt = _plt()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    bs = [b for b in sorted(arm.runs) if b in arm.seconds_per_update]
    if bs:
        c = [arm.seconds_per_update[b] for b in bs]
        v = np.array([x["seconds_per_update"] for x in c]) * 1e6
        lo = np.array([x["interval"][0] for x in c]) * 1e6
        hi = np.array([x["interval"][1] for x in c]) * 1e6
        _interval_bars(ax, bs, v, lo, hi, marker="o", capsize=3, label="measured (median, interval)")
        x = np.array([min(bs), max(bs)], float)
        ax.plot(x, v[0] * x / bs[0], "k--", lw=0.8, label="proportional to batch size")
        _loglog(ax)
        ax.set_xlabel("batch size")
        ax.set_ylabel("microseconds per update")
        _legend(ax, fontsize=7)
    mid = len(arm.targets) // 2
    for b in sorted(arm.runs):
        vals, _ = arm.to_target(b, mid, "cpu_seconds")
        ax2.scatter([b] * len(vals), vals, s=9, color="0.55")
        m = arm.median_interval(b, mid, "cpu_seconds")
        if m is not None:
            _interval_bars(ax2, [b], [m.value], [m.lo], [m.hi], color="C0", marker="o", capsize=3)
    _loglog(ax2)
    ax2.set_xlabel("batch size")
    ax2.set_ylabel(f"CPU seconds to {arm.targets[mid]:.2%}")
    fig.suptitle(_title(meta, "The clock: cost of one update, and this CPU's seconds to the middle target"),
                 fontsize=9)
    return save_figure(fig, folder, f"clock{suffix}.png")


def fig_curves(meta, arm, folder, suffix):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    bs = sorted(arm.runs)
    lowest = 1.0
    for b, c in zip(bs, _colors(len(bs))):
        done = arm.done(b)
        if not done:
            continue
        grid = np.geomspace(max(1, b), max(r.examples[-1] for r in done), 80)
        acc = np.median([np.interp(grid, r.examples, r.accuracy) for r in done], axis=0)
        lowest = min(lowest, float(acc.min()))
        ax.plot(grid, acc, color=c, lw=1, label=f"batch {b}")
    for t in arm.targets:
        ax.axhline(t, color="0.5", lw=0.6, ls=":")
    ax.set_xscale("log")
    ax.set_ylim(max(0.0, lowest - 0.02), None)
    ax.set_xlabel("examples seen")
    ax.set_ylabel("validation accuracy (median over seeds)")
    _legend(ax, fontsize=6, ncol=2)
    ax.set_title(_title(meta, "Learning curves; dotted: the targets"), fontsize=9)
    return save_figure(fig, folder, f"learning_curves{suffix}.png")


def write_figures(meta, arm, folder, suffix=""):
    return [f(meta, arm, folder, suffix) for f in (fig_steps, fig_tuning, fig_noise, fig_clock, fig_curves)]


# ----------------------------------------------------------------------------- the page
def render(meta, arms, figures):
    d = meta["data"]
    lines = ["# Online learning against mini-batches: the batch-size study", ""]
    if d.get("offline_default"):
        lines += [f"> **{d['description']}**", ""]
    else:
        lines += [f"Data: {d['description']}.", ""]
    lines += ["## The answer", ""]
    lines += answer(meta, arms[0])
    lines += [f"![{figures[0][0]}]({figures[0][0]})", ""]
    lines += _protocol(meta)
    for arm, figs in zip(arms, figures):
        lines += _arm_section(meta, arm, figs)
    lines += ["", f"Raw numbers: `{RESULTS}` (one JSON object per line; `kind` is eval, noise or run) and "
              f"`{CONFIG}` (settings, targets, tuning, clock). Regenerate this page with `fastnn report <folder>`.", ""]
    return "\n".join(lines)


def _protocol(meta):
    c = meta["config"]
    cfg, n = StudyConfig.from_json(c), meta["data"]["n_train"]
    longer = ", ".join(f"batch {b}: {cfg.epochs_for(b, n)}" for b in c["batch_sizes"]
                       if cfg.epochs_for(b, n) > c["epochs"])
    p = meta.get("pilot")
    secs = meta.get("seconds", {})
    lines = ["## How it was measured", ""]
    if p:
        lines.append(f"- Targets fixed before the grid by a pilot (batch {p['batch_size']}, seed {p['seed']}, etas "
                     f"{', '.join(f'{float(e):g}' for e in p['curves'])} on the tuning split): best held-out accuracy "
                     f"{p['best']:.4f}, chance {p['chance']:.4f}; targets at "
                     f"{', '.join(f'{f:g}' for f in p['fractions'])} of the way from chance to it: "
                     f"{', '.join(f'{t:.4f}' for t in meta['targets'])}.")
    else:
        lines.append(f"- Targets given: {', '.join(f'{t:.4f}' for t in meta['targets'])}.")
    lines += [
        f"- Learning rates tuned per batch size on a held-out {c['held_out']:.0%} of the training set (never the "
        f"validation set) with seeds {c['tune_seeds']}, not the study's: {len(c['eta_grid'])} etas from "
        f"{min(c['eta_grid']):g} to {max(c['eta_grid']):g}, successive halving, scored by the median examples to "
        f"the middle target; an eta is stopped once it has used {CAP:g}x the best median so far.",
        f"- Runs: seeds {c['seeds']} for every batch size, {c['epochs']} epochs each"
        + (f" or, where that is fewer than {c['min_updates']:,} updates, the epochs those take ({longer})" if longer
           else "") + ", validation accuracy at "
        f"{c['evals_first_epoch']} log-spaced points in the first epoch and {c['evals_per_decade']} per decade after; "
        f"examples, updates and seconds to a target are interpolated between evaluations.",
        f"- The clock: every batch size timed alone, interleaved in a random order, {c['clock_repeats']} rounds of "
        f"at least {c['clock_seconds']:g} s each; median seconds per update with a bootstrap interval.",
        f"- B_simple from {c['noise_batches']} mini-batches of {c['noise_small']} and of {c['noise_big']} examples "
        f"(unbiased two-batch estimators, McCandlish et al. 2018, appendix A) in the runs of batch "
        f"{c['noise_batch_size']}, pooled over seeds.",
        _machines(meta),
        f"- Command: `{meta.get('command') or 'library call'}` (started {meta['started']}); wall time: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in secs.items())
        + f"; {sum(secs.values()):.0f} s in all before this report was drawn."]
    if meta.get("jobs", 1) > 1:
        lines.append(f"- Runs were executed {meta['jobs']} at a time, so their own training seconds shared the "
                     f"machine; CPU seconds to target use the clock, which ran alone.")
    if meta.get("failed_runs"):
        lines.append(f"- **Missing: {len(meta['failed_runs'])} run(s) failed and are not in these numbers "
                     f"({', '.join(meta['failed_runs'])}); `fastnn study --resume` runs them again.**")
    return lines + [""]


def _machine(m):
    return (f"{m['cpu']}, {m['cores']} cores; {m['system']}; Python {m['python']}, NumPy {m['numpy']}, "
            f"Numba {m['numba']}, fastnn {m['fastnn']}")


def _machines(meta):
    """The protocol's line on the machines that ran the study, and on the one that ran the clock.

    A study.json written before ``machines`` and ``clock_machine`` were recorded names one machine, as before.
    """
    machines, clock = meta.get("machines") or [meta["machine"]], meta.get("clock_machine")
    if len(machines) == 1:
        return f"- Machine{' (every run and the clock)' if clock == machines[0] else ''}: {_machine(machines[0])}."
    line = (f"- Machines: the study ran on {len(machines)} machines in turn (resumed on another host, or with other "
            f"software), so the runs' own seconds may come from different machines: "
            + "; ".join(f"({i}) {_machine(m)}" for i, m in enumerate(machines, 1)) + ".")
    if clock in machines:
        line += f" The clock ran on ({machines.index(clock) + 1}): CPU seconds to target are that machine's."
    elif "clock" in meta:
        line += " Which of them ran the clock is not recorded."
    return line


def _arm_section(meta, arm, figs):
    lines = [f"## {arm.optimizer.upper()}, network {arm.sizes}", ""]
    titles = ("Steps and examples to target", "Learning rate tuning", "Gradient noise scale", "The clock",
              "Learning curves")
    for f, t in zip(figs, titles):
        lines += [f"### {t}", "", f"![{f}]({f})", ""]
    lines += ["### To each target, per batch size (median [95% interval] over every run trained; a run that "
              "missed counts as never reaching it)", "",
              "| target | batch | eta | runs: reached / done / stuck / diverged | examples | updates | CPU s | "
              "run's own s |", "|" + "---|" * 8]
    for k, t in enumerate(arm.targets):
        for b in arm.runs:
            counts = arm.counts(b)
            reached = len(arm.to_target(b, k, "examples")[0])
            cells = [_ci(arm.median_interval(b, k, w), fmt) for w, fmt in
                     (("examples", "{:,.0f}"), ("updates", "{:,.0f}"), ("cpu_seconds", "{:.3g}"),
                      ("seconds", "{:.3g}"))]
            lines.append(f"| {t:.2%} | {b} | {arm.etas.get(b, math.nan):g} | {reached} / {counts.get('done', 0)} / "
                         f"{counts.get('stuck', 0)} / {counts.get('diverged', 0)} | " + " | ".join(cells) + " |")
    lines += ["", "### Critical batch size (fit of S = S_min (1 + B_crit / B) to steps to target)", "",
              "| target | B_crit [95% interval] | S_min | E_min | batch sizes fitted | rms log error |",
              "|---|---|---|---|---|---|"]
    for k, (best, iv, fitted) in enumerate(arm.critical):
        if best is None:
            lines.append(f"| {arm.targets[k]:.2%} | - (fewer than 2 batch sizes where most runs reached it) "
                         f"| | | | |")
        else:
            lines.append(f"| {arm.targets[k]:.2%} | {_ci(iv)} | {best.s_min:,.0f} | {best.e_min:,.0f} | "
                         f"{', '.join(map(str, fitted))} | {best.rms_log_error:.3f} |")
    notes = [(t, _extrapolation(meta, arm, k)) for k, t in enumerate(arm.targets) if arm.critical[k][0] is not None]
    lines += [f"- {t:.2%}:{note}" for t, note in notes if note]
    lines += [""]
    if arm.noise:
        lines += ["### Gradient noise scale B_simple over training", "",
                  "| epochs | B_simple [95% interval] | |G|^2 | tr(Sigma) | runs pooled |", "|---|---|---|---|---|"]
        for epoch, ns, n in arm.noise:
            lines.append(f"| {epoch:g} | {_ci(ns.b_simple)} | {ns.g2:.3g} | {ns.trace:.3g} | {n} |")
        lines += ["", _noise_verdict(meta, arm), ""]
    if arm.seconds_per_update:
        lines += ["### The clock", "", "| batch | microseconds per update [95% interval] | range | updates per "
                  "measurement |", "|---|---|---|---|"]
        for b in arm.runs:
            c = arm.seconds_per_update.get(b)
            if c:
                lines.append(f"| {b} | {c['seconds_per_update'] * 1e6:.3g} [{c['interval'][0] * 1e6:.3g}, "
                             f"{c['interval'][1] * 1e6:.3g}] | {c['range'][0] * 1e6:.3g}-{c['range'][1] * 1e6:.3g} | "
                             f"{c['updates']:,} |")
        lines.append("")
    lines += ["### Runs that did not finish cleanly", ""]
    bad = [r for b in arm.runs for r in arm.runs[b] if r.status != "done"]
    lines += [f"- {r.id} (eta {r.eta:g}): **{r.status}**, {r.note}" for r in bad] or ["- none"]
    lines += ["", "### Tuning", "", "| batch | chosen eta | etas that reached the target (median examples) | "
              "at the grid's edge |", "|---|---|---|---|"]
    edges = tuning_edges(meta, arm)
    for b in arm.runs:
        t = arm.tuning.get(b)
        if not t:
            lines.append(f"| {b} | {arm.etas.get(b, math.nan):g} (given) | | |")
            continue
        ok = [f"{e:g}: {m:,.0f}" for e, m in tuning_medians(t).items() if math.isfinite(m)]
        lines.append(f"| {b} | {arm.etas.get(b, math.nan):g}{'' if t['eta'] is not None else ' (none reached)'} | "
                     f"{'; '.join(ok)} | {edges.get(b, '')} |")
    return lines + [""]


def _noise_verdict(meta, arm):
    """Does B_simple predict B_crit within a factor of 3 (as McCandlish et al. report for their tasks)?

    B_simple changes as training goes on, so each target's B_crit is compared with B_simple
    where the runs that measured it (batch ``noise_batch_size``) reached that target, interpolated
    in log between the two measurements around that point (its interval's ends likewise; an end that is
    infinite, or 0, at either of them is so there, whatever the measurements further away say). The ratio's
    range runs from the lowest B_simple over the highest B_crit to the other way round; a verdict is given
    only where that whole range lies within a factor of 3, or wholly outside it.
    """
    b = meta["config"]["noise_batch_size"]
    n = meta["data"]["n_train"]
    pts = [(e, ns.b_simple) for e, ns, _ in arm.noise if np.isfinite(ns.b_simple.value) and ns.b_simple.value > 0]
    fitted = [(k, iv) for k, (best, iv, _) in enumerate(arm.critical) if best is not None]
    if not fitted or len(pts) < 2:
        return "B_simple and B_crit were not both measured, so they cannot be compared."
    out = []
    epochs = [e for e, _ in pts]

    def at(epoch, end):
        values = np.array([getattr(iv, end) for _, iv in pts], np.float64)
        i = int(np.searchsorted(epochs, epoch))
        near = slice(i, i + 1) if i < len(epochs) and epochs[i] == epoch else slice(max(i - 1, 0), i + 1)
        e, v = np.array(epochs[near]), values[near]  # the one or two measurements the interpolation uses
        if not (np.isfinite(v) & (v > 0)).all():
            return math.inf if end == "hi" else 0.0
        return float(np.exp(np.interp(epoch, e, np.log(v))))
    for k, iv in fitted:
        m = arm.median_interval(b, k, "examples")
        if m is None:
            out.append(f"at {arm.targets[k]:.2%}: batch {b} did not reach it")
            continue
        epoch = m.value / n
        value, lo, hi = at(epoch, "value"), at(epoch, "lo"), at(epoch, "hi")
        r, r_lo, r_hi = value / iv.value, lo / iv.hi, (hi / iv.lo if iv.lo > 0 else math.inf)
        verdict = ("within" if 1 / 3 <= r_lo and r_hi <= 3 else
                   "not within" if r_hi < 1 / 3 or r_lo > 3 else "neither shown within nor outside")
        out.append(f"at {arm.targets[k]:.2%} (reached by batch {b} after {epoch:.3g} epochs) B_simple is "
                   f"{value:.3g} [{lo:.3g}, {hi:.3g}] against B_crit {_ci(iv)}: ratio {r:.3g} (range of the "
                   f"intervals {r_lo:.3g} to {r_hi:.3g}), {verdict} a factor of 3")
    return "Does B_simple predict B_crit? " + "; ".join(out) + "."


def write_report(folder):
    """Write report.md, report.html and the figures into the study folder; returns the path of report.md."""
    folder = Path(folder)
    meta, rows = load_study(folder)
    arms = analyse(meta, rows)
    if not arms:
        raise StudyError(f"{folder / RESULTS} holds no finished run of the configured grid")
    figures = [write_figures(meta, arm, folder, "" if i == 0 else f"_{arm.optimizer}_" + "-".join(map(str, arm.sizes)))
               for i, arm in enumerate(arms)]
    text = render(meta, arms, figures)
    write_text(folder / "report.md", text)  # atomically: an interrupted report leaves the previous one whole
    write_text(folder / "report.html", to_html(text, folder))
    return folder / "report.md"


def to_html(markdown, folder):
    """A self-contained HTML page of the report: headings, paragraphs, lists, tables, figures inlined."""
    out, table = [], False
    for line in markdown.splitlines():
        if line.startswith("|"):
            cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
            if set("".join(cells)) <= set("-"):
                continue
            if not table:
                out.append("<table>")
                table = True
                out.append("<tr>" + "".join(f"<th>{c}</th>" for c in cells) + "</tr>")
            else:
                out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
            continue
        if table:
            out.append("</table>")
            table = False
        if line.startswith("!["):
            name = line[line.index("(") + 1:-1]
            data = base64.b64encode((Path(folder) / name).read_bytes()).decode()
            out.append(f'<img alt="{html.escape(name)}" src="data:image/png;base64,{data}">')
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{html.escape(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("- "):
            out.append(f"<li>{_inline(line[2:])}</li>")
        elif line.startswith("> "):
            out.append(f"<blockquote>{_inline(line[2:])}</blockquote>")
        elif line.strip():
            out.append(f"<p>{_inline(line)}</p>")
    if table:
        out.append("</table>")
    style = ("body{font-family:sans-serif;max-width:60em;margin:auto;padding:1em}table{border-collapse:collapse;"
             "font-size:85%}td,th{border:1px solid #ccc;padding:2px 6px}img{max-width:100%}"
             "blockquote{background:#fee;padding:.5em;border-left:4px solid #c00}")
    return f"<!doctype html><meta charset=utf-8><title>fastnn study</title><style>{style}</style>\n" + "\n".join(out)


def _inline(text):
    text = html.escape(text)
    parts = text.split("**")
    text = "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))
    parts = text.split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
