"""The study's report: figures, tables and an answer generated from the measured numbers.

``write_report(folder)`` reads study.json and results.jsonl and writes report.md,
report.html (the same page with the figures embedded) and the PNG figures.
Nothing in the answer is written in advance: ``answer`` compares online learning
(batch 1) with the comparison batch size metric by metric, and each sentence
states who won and by how much.
"""
import base64
import html
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from .._figures import save_figure
from ..serialization import write_text
from .config import StudyError
from .results import CONFIG, RESULTS, completed, failed_runs, read_results

TARGET_FRACTIONS = (0.90, 0.95)
FIGURES = ("accuracy_vs_epoch.png", "accuracy_vs_seconds.png", "throughput.png", "time_to_target.png",
           "gradient_noise.png")
# Relative differences below these count as equal: 2% for accuracies, epochs and variances,
# 10% for wall-clock measurements, which vary that much between runs on a shared machine.
TIE = 0.02
TIE_TIMING = 0.10
TIMING = ("seconds to target", "examples per second")
# Which measurement leads each side of the answer: the advantage the book's exercise
# is after is progress per pass over the data; the disadvantage, cost per example and noise.
ADVANTAGE_ORDER = ("epochs to target", "seconds to target", "accuracy after one epoch", "final accuracy",
                   "examples per second", "gradient variance")
DISADVANTAGE_ORDER = ("examples per second", "gradient variance", "seconds to target", "final accuracy",
                      "epochs to target", "accuracy after one epoch")


def load_study(folder):
    folder = Path(folder)
    if not (folder / CONFIG).exists():
        raise StudyError(f"{folder} holds no study ({CONFIG} is missing)")
    meta = json.loads((folder / CONFIG).read_text())
    raw = read_results(folder / RESULTS)
    rows, done = completed(raw)
    if not done:
        raise StudyError(f"{folder / RESULTS} holds no finished run yet")
    meta["failed_runs"] = failed_runs(raw)
    return meta, rows


def summarize(meta, rows, sizes=None):
    """Per-run and per-batch-size numbers for one network size (default: the first)."""
    sizes = list(sizes or meta["config"]["sizes"][0])
    runs = {r["run"]: r for r in rows if r["kind"] == "run" and r["sizes"] == sizes}
    by_run = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["run"] in runs:
            by_run[r["run"]][r["kind"]].append(r)
    all_acc = [e["val_acc"] for rr in by_run.values() for e in rr["eval"]]
    best = max(all_acc)
    targets = [f * best for f in TARGET_FRACTIONS]
    n_train = meta["data"]["n_train"]
    per_run = {}
    for rid, run in runs.items():
        evals = sorted(by_run[rid]["eval"], key=lambda e: e["epoch"])
        epochs = sorted(by_run[rid]["epoch"], key=lambda e: e["epoch"])
        reach = []
        for t in targets:
            hit = next((e for e in evals if e["val_acc"] >= t), None)
            reach.append((hit["epoch"], hit["train_seconds"]) if hit else (math.inf, math.inf))
        per_run[rid] = dict(run=run, evals=evals, epochs=epochs, reach=reach, noise=by_run[rid]["noise"],
                            examples_per_s=float(np.median([e["examples_per_s"] for e in epochs])) if epochs else math.nan,
                            updates_per_s=float(np.median([e["updates_per_s"] for e in epochs])) if epochs else math.nan,
                            acc_1=next((e["val_acc"] for e in epochs if e["epoch"] == 1), math.nan))
    noise = defaultdict(lambda: ([], []))
    for pr in per_run.values():
        for q in pr["noise"]:
            noise[q["probe_batch_size"]][0].append(q["variance"])
            noise[q["probe_batch_size"]][1].append(q["cosine"])
    per_batch = {}
    for b in sorted({pr["run"]["batch_size"] for pr in per_run.values()}):
        group = [pr for pr in per_run.values() if pr["run"]["batch_size"] == b]
        mean = lambda xs: float(np.mean(xs)) if xs else math.nan  # noqa: E731
        per_batch[b] = dict(
            eta=group[0]["run"]["eta"], seeds=len(group), updates_per_epoch=-(-n_train // b),
            examples_per_s=mean([g["examples_per_s"] for g in group]),
            updates_per_s=mean([g["updates_per_s"] for g in group]),
            acc_1=mean([g["acc_1"] for g in group]),
            final=mean([g["run"]["final_val_acc"] for g in group]),
            diverged=sum(g["run"]["status"] != "done" for g in group),
            epochs_to=[mean([g["reach"][i][0] for g in group]) for i in range(len(targets))],
            seconds_to=[mean([g["reach"][i][1] for g in group]) for i in range(len(targets))],
            variance=mean(noise[b][0]), cosine=mean(noise[b][1]))
    return dict(sizes=sizes, best=best, targets=targets, per_run=per_run, per_batch=per_batch, n_train=n_train)


# ----------------------------------------------------------------------------- the answer
def comparison_batch(batch_sizes):
    """20 when the grid has it, else the grid's batch size nearest to 20 (on a log scale), other than 1."""
    others = [b for b in batch_sizes if b != 1]
    if not others:
        return None
    return min(others, key=lambda b: (abs(math.log(b / 20)), b))


def _ratio(a, b):
    lo, hi = min(a, b), max(a, b)
    return math.inf if lo == 0 else hi / lo


def _fmt_epochs(x):
    return "never (within the run)" if math.isinf(x) else f"{x:.2f} epochs"


def _fmt_seconds(x):
    return "never (within the run)" if math.isinf(x) else f"{x:.3g} s"


def _fmt(x):
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def answer(summary):
    """(advantages, disadvantages, ties): sentences about batch 1 against the comparison batch size.

    Each metric goes to exactly one list, by which side the numbers favour (or to ties,
    within TIE, or TIE_TIMING for timings); the lists follow ADVANTAGE_ORDER and
    DISADVANTAGE_ORDER, so their first entries are the headline answers.
    """
    pb = summary["per_batch"]
    if 1 not in pb:
        return [], [], ["The grid has no batch size 1, so online learning was not measured."]
    B = comparison_batch(list(pb))
    if B is None:
        return [], [], ["The grid has only batch size 1, so there is nothing to compare it with."]
    o, c = pb[1], pb[B]
    t = summary["targets"][0]
    target = f"{t:.1%} validation accuracy (90% of the best seen in the study)"
    updates = f"it made {o['updates_per_epoch']:,} weight updates per epoch against {c['updates_per_epoch']:,}"
    metrics = [
        # name, online value, other value, lower is better, sentence when online wins, when online loses
        ("epochs to target", o["epochs_to"][0], c["epochs_to"][0], True,
         lambda r: f"batch 1 reached {target} after {_fmt_epochs(o['epochs_to'][0])}, against "
                   f"{_fmt_epochs(c['epochs_to'][0])} for batch {B} ({r:.1f}x fewer passes over the data): {updates}.",
         lambda r: f"batch 1 needed {_fmt_epochs(o['epochs_to'][0])} to reach {target}, against "
                   f"{_fmt_epochs(c['epochs_to'][0])} for batch {B} ({r:.1f}x more passes over the data), "
                   f"although {updates}."),
        ("accuracy after one epoch", o["acc_1"], c["acc_1"], False,
         lambda r: f"after one epoch batch 1 had {o['acc_1']:.2%} validation accuracy against {c['acc_1']:.2%} "
                   f"for batch {B}.",
         lambda r: f"after one epoch batch 1 had only {o['acc_1']:.2%} validation accuracy against {c['acc_1']:.2%} "
                   f"for batch {B}."),
        ("seconds to target", o["seconds_to"][0], c["seconds_to"][0], True,
         lambda r: f"batch 1 reached {target} in {_fmt_seconds(o['seconds_to'][0])} of training against "
                   f"{_fmt_seconds(c['seconds_to'][0])} for batch {B} ({r:.1f}x sooner by the clock).",
         lambda r: f"batch 1 took {_fmt_seconds(o['seconds_to'][0])} of training to reach {target} against "
                   f"{_fmt_seconds(c['seconds_to'][0])} for batch {B} ({r:.1f}x longer by the clock)."),
        ("examples per second", o["examples_per_s"], c["examples_per_s"], False,
         lambda r: f"batch 1 processed {o['examples_per_s']:,.0f} examples/s against {c['examples_per_s']:,.0f} "
                   f"for batch {B} ({r:.1f}x faster per example).",
         lambda r: f"batch 1 processed {o['examples_per_s']:,.0f} examples/s against {c['examples_per_s']:,.0f} "
                   f"for batch {B} ({r:.1f}x slower per example): every example pays for a full pass over "
                   f"the weights, where batch {B} shares one update among {B} examples."),
        ("gradient variance", o["variance"], c["variance"], True,
         lambda r: f"batch 1's gradient estimate had {r:.1f}x less variance than batch {B}'s "
                   f"(mean ||g_B - g||^2 {o['variance']:.3g} against {c['variance']:.3g}).",
         lambda r: f"batch 1's gradient estimate had {r:.1f}x the variance of batch {B}'s (mean ||g_B - g||^2 "
                   f"{o['variance']:.3g} against {c['variance']:.3g}; cosine with the full gradient "
                   f"{o['cosine']:.2f} against {c['cosine']:.2f}), so each step points less reliably downhill."),
        ("final accuracy", o["final"], c["final"], False,
         lambda r: f"at the end batch 1 had {o['final']:.2%} validation accuracy against {c['final']:.2%} for "
                   f"batch {B}.",
         lambda r: f"at the end batch 1 had {o['final']:.2%} validation accuracy against {c['final']:.2%} for "
                   f"batch {B}."),
    ]
    adv, dis, ties = [], [], []
    for name, a, b, lower, win, lose in metrics:
        if any(isinstance(x, float) and math.isnan(x) for x in (a, b)):
            continue
        if math.isinf(a) and math.isinf(b):
            ties.append(f"{name}: neither batch 1 nor batch {B} reached the target within the run.")
            continue
        r = _ratio(a, b)
        if r <= 1 + (TIE_TIMING if name in TIMING else TIE):
            show = (lambda x: f"{x:.2%}") if "accuracy" in name else _fmt
            ties.append(f"{name}: about equal (batch 1 {show(a)}, batch {B} {show(b)}).")
        elif (a < b) == lower:
            adv.append((name, win(r)))
        else:
            dis.append((name, lose(r)))
    adv.sort(key=lambda item: ADVANTAGE_ORDER.index(item[0]))
    dis.sort(key=lambda item: DISADVANTAGE_ORDER.index(item[0]))
    return adv, dis, ties


# ----------------------------------------------------------------------------- figures
def _curves(summary, key):
    """Per batch size: x (mean over seeds), mean, min and max of validation accuracy at each evaluation."""
    out = {}
    for b in summary["per_batch"]:
        runs = [pr for pr in summary["per_run"].values() if pr["run"]["batch_size"] == b and pr["run"]["status"] == "done"]
        if not runs:
            continue
        k = min(len(pr["evals"]) for pr in runs)
        acc = np.array([[e["val_acc"] for e in pr["evals"][:k]] for pr in runs])
        x = np.array([[e[key] for e in pr["evals"][:k]] for pr in runs]).mean(axis=0)
        out[b] = (x, acc.mean(axis=0), acc.min(axis=0), acc.max(axis=0))
    return out


def write_figures(summary, folder, suffix=""):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pb = summary["per_batch"]
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(pb)))
    files = []
    for key, name, xlabel in (("epoch", "accuracy_vs_epoch", "epoch"),
                              ("train_seconds", "accuracy_vs_seconds", "training time (s)")):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for (b, (x, m, lo, hi)), col in zip(_curves(summary, key).items(), colors):
            if key == "train_seconds":  # log time axis: start at the first evaluation after t = 0
                x, m, lo, hi = x[1:], m[1:], lo[1:], hi[1:]
            ax.plot(x, m, color=col, label=f"batch {b} (eta {pb[b]['eta']:g})")
            ax.fill_between(x, lo, hi, color=col, alpha=0.2)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("validation accuracy")
        lows = [v[1][1] for v in _curves(summary, key).values() if len(v[1]) > 1]
        ax.set_ylim(max(0.0, min(lows) - 0.05) if lows else 0, 1.0)
        if key == "train_seconds":
            ax.set_xscale("log")
        ax.set_title(f"{summary['sizes']}: mean over seeds, band = min..max")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        files.append(save_figure(fig, folder, f"{name}{suffix}.png"))

    bs = np.array(list(pb))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.loglog(bs, [pb[b]["examples_per_s"] for b in bs], "o-", label="examples / s")
    ax.loglog(bs, [pb[b]["updates_per_s"] for b in bs], "s-", label="weight updates / s")
    ax.set_xlabel("mini-batch size")
    ax.set_ylabel("per second (one core)")
    ax.set_title("Throughput against batch size")
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    files.append(save_figure(fig, folder, f"throughput{suffix}.png"))

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.2))
    for i, t in enumerate(summary["targets"]):
        label = f"{t:.1%} ({int(TARGET_FRACTIONS[i] * 100)}% of best)"
        ax1.plot(bs, [pb[b]["epochs_to"][i] for b in bs], "o-", label=label)
        ax2.plot(bs, [pb[b]["seconds_to"][i] for b in bs], "o-", label=label)
    for ax, yl in ((ax1, "epochs to target"), (ax2, "training seconds to target")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("mini-batch size")
        ax.set_ylabel(yl)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle("Time to a target validation accuracy (mean over seeds; missing = not reached)")
    files.append(save_figure(fig, folder, f"time_to_target{suffix}.png"))

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.2))
    nb = [b for b in bs if not math.isnan(pb[b]["variance"])]
    ax1.loglog(nb, [pb[b]["variance"] for b in nb], "o-", label="measured")
    if 1 in pb and not math.isnan(pb[1]["variance"]):
        ax1.loglog(nb, [pb[1]["variance"] / b for b in nb], "--", color="grey", label="variance(1) / B")
    ax1.set_ylabel("E ||g_B - g||^2")
    ax2.semilogx(nb, [pb[b]["cosine"] for b in nb], "o-")
    ax2.set_ylabel("mean cos(g_B, g)")
    ax2.set_ylim(0, 1)
    for ax in (ax1, ax2):
        ax.set_xlabel("mini-batch size B")
        ax.grid(alpha=0.3, which="both")
    ax1.legend()
    fig.suptitle("Gradient noise: mini-batch gradients against the full gradient")
    files.append(save_figure(fig, folder, f"gradient_noise{suffix}.png"))
    return files


# ----------------------------------------------------------------------------- the page
def _num(x, fmt):
    return "-" if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))) else format(x, fmt)


def render(meta, summaries, figures):
    cfg, data, machine = meta["config"], meta["data"], meta["machine"]
    s0 = summaries[0]
    adv, dis, ties = answer(s0)
    B = comparison_batch(list(s0["per_batch"]))
    lines = ["# Online learning against mini-batches: a measured answer", ""]
    if data["offline_default"]:
        lines += [f"> **{data['description']}**", ""]
    lines += ["The book asks: *Name one advantage and one disadvantage of online learning, compared to stochastic "
              "gradient descent with a mini-batch size of, say, 20.* Every sentence below is generated from this "
              "study's measurements.", "", "## Answer", ""]
    if adv or dis:
        lines.append(f"Network {s0['sizes']}, online learning (batch 1) against batch {B}, means over "
                     f"{len(cfg['seeds'])} seed(s):")
        lines.append("")
        lines.append("**Advantage of online learning:** " + (adv[0][1][0].upper() + adv[0][1][1:] if adv else
                                                               "none was measured in this study."))
        lines.append("")
        lines.append("**Disadvantage of online learning:** " + (dis[0][1][0].upper() + dis[0][1][1:] if dis else
                                                                  "none was measured in this study."))
        lines.append("")
        more = [f"- Also in favour of batch 1: {s}" for _, s in adv[1:]] + \
               [f"- Also against batch 1: {s}" for _, s in dis[1:]] + [f"- {s}" for s in ties]
        lines += more + [""]
    else:
        lines += [s for s in ties] + [""]
    etas = ", ".join(f"batch {e['batch_size']}: {e['eta']:g} ({e['source']})" for e in meta["etas"]
                     if e["sizes"] == s0["sizes"])
    lines += ["## Setup", "",
              f"- Data: {data['description']}; {data['n_train']:,} training and {data['n_val']:,} validation "
              f"examples.",
              f"- Networks: {', '.join(str(s) for s in cfg['sizes'])}; {cfg['activation']} neurons, {cfg['cost']} "
              f"cost, {cfg['dtype']}, lmbda {cfg['lmbda']:g}, {cfg['epochs']} epochs, validation evaluated "
              f"{cfg['evals_per_epoch']} times per epoch, seeds {cfg['seeds']}.",
              f"- Learning rates: {etas}. \"search\" means chosen per batch size from {cfg['eta_grid']} by "
              f"validation accuracy after {cfg['search_epochs']} epoch(s) on 80% of the training set, scored on the "
              f"other 20% (not on the validation set reported here); \"given\" means set on the command line.",
              f"- Gradient noise: at {cfg['noise_checkpoints']} checkpoints per run, {cfg['noise_batches']} random "
              f"mini-batches of each size against the gradient over {min(cfg['noise_examples'], data['n_train']):,} "
              f"training examples.",
              f"- Targets: {', '.join(f'{t:.2%}' for t in s0['targets'])} validation accuracy (90% and 95% of the "
              f"best seen, {s0['best']:.2%}). Times count training only, not evaluation.",
              f"- Machine: {machine['cpu']}, {machine['cores']} cores; {machine['system']}; Python "
              f"{machine['python']}, NumPy {machine['numpy']}, Numba {machine['numba']}, fastnn {machine['fastnn']}.",
              f"- Command: `{meta.get('command') or 'library call'}` (started {meta['started']})."]
    if meta.get("jobs", 1) > 1:
        lines.append(f"- **Warning: runs were executed {meta['jobs']} at a time, so they shared the machine and "
                     f"their timings (examples/s, seconds to target) are not clean single-run timings.**")
    if meta.get("failed_runs"):
        lines.append(f"- **Missing: {len(meta['failed_runs'])} run(s) failed and are not in these numbers "
                     f"({', '.join(meta['failed_runs'])}); `fastnn study --resume` runs them again.**")
    lines += ["", "## Figures", ""]
    titles = dict(zip(FIGURES, ("Validation accuracy against epochs", "Validation accuracy against training time",
                                "Throughput", "Time to target accuracy", "Gradient noise")))
    for f in figures:
        base = f.split("_[")[0].replace(".png", "") + ".png"
        lines += [f"### {titles.get(base, f)}", "", f"![{f}]({f})", ""]
    for s in summaries:
        lines += [f"## Per batch size, {s['sizes']} (mean over seeds)", "",
                  "| batch | eta | updates/epoch | examples/s | updates/s | acc. after 1 epoch | final acc. | "
                  "epochs to 90% | s to 90% | epochs to 95% | s to 95% | grad. variance | cosine | diverged |",
                  "|" + "---|" * 14]
        for b, p in s["per_batch"].items():
            lines.append(f"| {b} | {p['eta']:g} | {p['updates_per_epoch']:,} | {_num(p['examples_per_s'], ',.0f')} | "
                         f"{_num(p['updates_per_s'], ',.0f')} | {_num(p['acc_1'], '.2%')} | {_num(p['final'], '.2%')} "
                         f"| {_num(p['epochs_to'][0], '.2f')} | {_num(p['seconds_to'][0], '.2f')} | "
                         f"{_num(p['epochs_to'][1], '.2f')} | {_num(p['seconds_to'][1], '.2f')} | "
                         f"{_num(p['variance'], '.3g')} | {_num(p['cosine'], '.3f')} | {p['diverged']}/{p['seeds']} |")
        lines.append("")
    lines += ["## All runs", "", "| run | batch | eta | seed | status | final acc. | epochs to 90% | s to 90% | "
              "examples/s | updates/s | training s |", "|" + "---|" * 11]
    for s in summaries:
        for rid, pr in sorted(s["per_run"].items(), key=lambda kv: (kv[1]["run"]["batch_size"], kv[1]["run"]["seed"])):
            r = pr["run"]
            lines.append(f"| {rid} | {r['batch_size']} | {r['eta']:g} | {r['seed']} | {r['status']} | "
                         f"{r['final_val_acc']:.2%} | {_num(pr['reach'][0][0], '.2f')} | {_num(pr['reach'][0][1], '.2f')}"
                         f" | {_num(pr['examples_per_s'], ',.0f')} | {_num(pr['updates_per_s'], ',.0f')} | "
                         f"{r['train_seconds']:.2f} |")
    lines += ["", f"Raw numbers: `{RESULTS}` (one JSON object per line; `kind` is eval, epoch, noise or run) and "
              f"`{CONFIG}`. Regenerate this page with `fastnn report <folder>`.", ""]
    return "\n".join(lines)


def write_report(folder):
    """Write report.md, report.html and the figures into the study folder; returns the path of report.md."""
    folder = Path(folder)
    meta, rows = load_study(folder)
    summaries, figures = [], []
    sizes_with_runs = [s for s in meta["config"]["sizes"]
                       if any(r["kind"] == "run" and r["sizes"] == list(s) for r in rows)]
    for i, sizes in enumerate(sizes_with_runs):
        s = summarize(meta, rows, sizes)
        summaries.append(s)
        figures += write_figures(s, folder, "" if i == 0 else "_" + "-".join(map(str, sizes)))
    text = render(meta, summaries, figures)
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
