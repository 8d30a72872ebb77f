"""The study's verdicts on synthetic arms with known answers: misses, pairing, several comparisons, edges."""
import math

import numpy as np
import pytest

from conftest import study_config
from fastnn.study import stats
from fastnn.study.analysis import Arm, Run, comparisons
from fastnn.study.stats import CriticalBatch, Interval

pytest.importorskip("matplotlib", reason="the study's report needs the study extra")
from fastnn.study import report as R  # noqa: E402


def meta(**config):
    base = dict(batch_sizes=(1, 4, 20), seeds=(0, 1), epochs=3)
    return dict(config=study_config(**{**base, **config}).to_json(), data=dict(name="tiny", n_train=400))


def arm(examples, status=None, acc=None):
    """An Arm whose runs reach its one target after examples[b][seed] examples (NaN: never), with
    status[b][seed] ('done' by default) and final validation accuracy acc[b][seed] (0.9)."""
    runs = {}
    for b, xs in examples.items():
        runs[b] = []
        for seed, e in enumerate(xs):
            st = (status or {}).get(b, ["done"] * len(xs))[seed]
            a = (acc or {}).get(b, [0.9] * len(xs))[seed]
            r = Run(f"b{b}_s{seed}", b, seed, 0.1, st, None, a, a + 0.01, 1.0, *(np.zeros(2),) * 4)
            r.reach = [dict(examples=e, updates=e / b, seconds=e * 1e-6, cpu_seconds=e / b * 1e-6)]
            runs[b].append(r)
    out = Arm("sgd", [12, 8, 3], [0.8], runs, {}, {}, {b: 0.1 for b in examples})
    out.critical = [(None, None, [])]
    return out


def test_a_run_that_missed_counts_as_infinitely_slow_not_as_absent():
    # batch 1 reaches at 600, 650, 700 and misses twice; batch 20 reaches at 1000 every time. Dropping the
    # misses would claim an advantage (3 fast runs against 5); counted, the upper end is infinite
    a = arm({1: [600, 650, 700, math.nan, math.nan], 20: [1000] * 5})
    c = comparisons(a, 1, 20, 0)["examples to target"]
    assert c.verdict == "no measurable difference" and c.ratio.value == pytest.approx(0.7) and c.ratio.hi == math.inf
    assert (c.n_a, c.n_b) == (5, 5)
    # stuck and diverged runs count too: three of five batch-1 runs diverged before the target
    d = arm({1: [600, 650, math.nan, math.nan, math.nan], 20: [1000] * 5},
            status={1: ["done", "done", "diverged", "diverged", "diverged"]})
    assert comparisons(d, 1, 20, 0)["examples to target"] is None  # median infinite: no comparison
    assert len(d.to_target(1, 0, "examples")[0]) == 2 and d.to_target(1, 0, "examples")[1] == 5
    # a diverged run's final accuracy is chance, not its last evaluation before it diverged
    acc = comparisons(d, 1, 20, 0)["final validation accuracy"]
    assert acc.ratio.value == pytest.approx(1 / 3 / 0.9) and acc.ratio.lo == pytest.approx(1 / 3 / 0.9)


def test_seeds_are_resampled_in_pairs():
    # each seed is fast or slow at both batch sizes alike; batch 1 needs 0.9x the examples of batch 20 on
    # every seed. Resampled apart, the seeds' spread hides that; in pairs it is a clear advantage
    rng = np.random.default_rng(0)
    base = np.exp(rng.normal(math.log(1000), 0.4, 10))
    a = arm({1: list(0.9 * base * np.exp(rng.normal(0, 0.01, 10))), 20: list(base)})
    paired = comparisons(a, 1, 20, 0)["examples to target"]
    apart = stats.compare(a.reach(1, 0, "examples"), a.reach(20, 0, "examples"))
    assert paired.verdict == "advantage" and 0.85 < paired.ratio.lo < paired.ratio.hi < 0.95
    assert apart.verdict == "no measurable difference"
    # the pairs are the seeds both batch sizes ran: a seed missing on one side is left out of both
    a.runs[20] = a.runs[20][:7]
    assert comparisons(a, 1, 20, 0)["examples to target"].n_a == 7
    with pytest.raises(ValueError, match="one value per seed"):
        stats.compare([1.0, 2.0], [1.0], paired=True)


def test_bootstrap_ends_on_infinite_replicates_are_infinite_not_nan():
    ci = stats.bootstrap([1.0, 2.0, 3.0, math.inf, math.inf])
    assert ci.value == 3.0 and ci.lo == 1.0 and ci.hi == math.inf
    lo, hi = stats.quantiles([1.0, 2.0, math.nan, math.inf])  # NaN (inf / inf) counts as 0 below, inf above
    assert lo == pytest.approx(0.025 * 3 * 1.0) and hi == math.inf
    assert stats.quantiles([1.0, 2.0, 3.0]) == pytest.approx((1.05, 2.95))


def test_the_answer_says_which_verdicts_hold_at_the_family_wise_level():
    rng = np.random.default_rng(1)
    # examples: a 0.5x advantage (holds after correction); updates: 10x fewer for batch 20 (holds)
    clear = arm({1: list(rng.normal(1000, 30, 10)), 20: list(rng.normal(2000, 60, 10))})
    text = "\n".join(R.answer(meta(), clear, 1, 20))
    assert "primary endpoint" in text and "10 seeds" in text and "resampling the seeds" in text
    adv = text[text.index("**Advantages"):text.index("**Disadvantages")]
    assert "examples to target (ratio 0.5" in adv and "it holds at the family-wise level of these 4" in adv
    assert "it does not depend on the machine" in adv and "any hardware" not in text
    # a marginal difference: 95% excludes 1, the Bonferroni interval (98.75% for 4 comparisons) does not
    for shift in np.linspace(0.93, 0.99, 25):
        x = rng.normal(1000, 60, 8)
        weak = arm({1: list(shift * x), 20: list(x * np.exp(rng.normal(0, 0.05, 8)))})
        c95 = comparisons(weak, 1, 20, 0)["examples to target"]
        c_fw = comparisons(weak, 1, 20, 0, level=1 - 0.05 / 4)["examples to target"]
        if c95.verdict == "advantage" and c_fw.verdict != "advantage":
            break
    else:
        pytest.fail("no marginal case found to test")
    adv = "\n".join(R.answer(meta(), weak, 1, 20))
    assert "it does not hold at the family-wise level of these 4 comparisons (98.8% interval" in adv


def test_the_other_targets_are_labelled_exploratory():
    a = arm({1: [1000.0] * 5, 20: [1000.0] * 5})
    for r in a.runs[1] + a.runs[20]:
        r.reach = [r.reach[0]] * 3
    a.targets, a.critical = [0.7, 0.8, 0.9], [(None, None, [])] * 3
    text = "\n".join(R.answer(meta(), a, 1, 20))
    assert "At the other targets (exploratory: 4 more comparisons at 95% each, not corrected" in text


def test_every_batch_size_tuned_at_the_grid_edge_is_named():
    m = meta(batch_sizes=(1, 20, 500, 1000), eta_grid=(0.1, 1.0, 10.0))
    a = arm({1: [1000.0] * 3, 20: [1000.0] * 3, 500: [9000.0] * 3, 1000: [math.nan] * 3})
    a.etas = {1: 1.0, 20: 1.0, 500: 10.0, 1000: 10.0}
    scores = {"0.1": [None], "1": [500], "10": [400]}
    a.tuning = {b: dict(eta=None if b == 1000 else a.etas[b], scores=scores) for b in (1, 20, 500, 1000)}
    text = "\n".join(R.answer(m, a, 1, 20))
    assert "batch 500: the chosen eta 10 is the grid's highest" in text
    assert "batch 1000: no eta of the grid reached the target in tuning; 10, the one that came closest" in text
    assert "batch 20:" not in text[text.index("Tuning at the edge"):]


def test_a_critical_batch_size_past_the_batches_fitted_is_called_an_extrapolation():
    m = meta(batch_sizes=(1, 20, 100, 1000), epochs=10, min_updates=400)
    a = arm({b: [1000.0] * 3 for b in (1, 20, 100)} | {1000: [math.nan] * 3})
    a.critical = [(CriticalBatch(100.0, 130.0, 13000.0, 0.01), Interval(130.0, 92.9, 229.0), [1, 20, 100])]
    text = "\n".join(R.answer(m, a, 1, 20))
    assert "Batch size 1000 is not in the fit: half or more of its runs missed the target within the " \
           "study's budget (10 epochs or 400 updates, whichever is more), so the fit cannot see how it scales" in text
    assert "B_crit's interval reaches past the largest batch size fitted (100): that part of it is an " \
           "extrapolation" in text


def test_run_to_run_variation_widens_the_noise_scale_interval():
    """Mini-batches of one run share its weights: resampled as one pool, the interval ignores how runs differ
    and covered the truth 21 times in 100 here; resampling runs, then their batches, covers it about 95%."""
    tr, g2 = (2.0 - 1.0) / (1 / 10 - 1 / 100), (100 * 1.0 - 10 * 2.0) / 90
    covered = [0, 0]
    for i in range(40):
        rng = np.random.default_rng(i)
        small = np.concatenate([2.0 + rng.normal(0, 0.3) + rng.normal(0, 0.1, 30) for _ in range(10)])
        big = np.concatenate([1.0 + rng.normal(0, 0.15) + rng.normal(0, 0.05, 30) for _ in range(10)])
        runs = np.repeat(np.arange(10), 30)
        pooled = stats.noise_scale(small, big, 10, 100, n_boot=400).b_simple
        two_stage = stats.noise_scale(small, big, 10, 100, n_boot=400, runs=(runs, runs)).b_simple
        assert two_stage.value == pooled.value
        covered[0] += pooled.lo <= tr / g2 <= pooled.hi
        covered[1] += two_stage.lo <= tr / g2 <= two_stage.hi
    assert covered[0] <= 20 and covered[1] >= 34


def test_a_large_batch_trains_for_at_least_min_updates(tmp_path):
    """A fixed number of epochs gives a large batch few updates; min_updates gives it more epochs, in tuning too."""
    from conftest import tiny_dataset
    from fastnn import study as S
    tiny = tiny_dataset()
    n = len(tiny.X_train)
    cfg = study_config(batch_sizes=(1, 4, 20), seeds=(0,), epochs=1, min_updates=30, etas={1: 0.1, 4: 0.5},
                       targets=(0.5, 0.6, 0.7))
    assert [cfg.epochs_for(b, n) for b in (1, 4, 20)] == [1, 1, math.ceil(30 * 20 / n)] == [1, 1, 2]
    rows = S.run_study(cfg, tmp_path, quiet=True, log=lambda *a: None, dataset=tiny)
    seen = {}
    for r in rows:
        if r["kind"] == "eval":
            seen[r["run"]] = max(seen.get(r["run"], 0), r["examples"])
    assert seen == {"12-8-3_b1_s0": n, "12-8-3_b4_s0": n, "12-8-3_b20_s0": 2 * n}
    meta = __import__("json").loads((tmp_path / "study.json").read_text())
    tuned = [t for t in meta["tuning"] if t["batch_size"] == 20][0]
    assert max(max(v) for v in tuned["budgets"].values()) > 1.5 * n * 0.8  # more than one epoch of the split
    assert "or, where that is fewer than 30 updates, the epochs those take (batch 20: 2)" in \
        (tmp_path / "report.md").read_text()
    # a study recorded before min_updates existed keeps its epochs for every batch size
    old = S.StudyConfig.from_json({k: v for k, v in cfg.to_json().items() if k != "min_updates"})
    assert old.min_updates is None and old.epochs_for(20, n) == 1


def test_too_few_seeds_give_no_verdict_however_far_apart():
    """A percentile bootstrap cannot reach past the sample's extremes: with 1 seed it gave a zero-width interval
    and a verdict; no distribution-free test can call 5 pairs at 95% (a sign test's best is 2/32)."""
    assert [stats.runs_needed(x) for x in (0.9, 0.95, 0.99, 1 - 0.05 / 5)] == [5, 6, 8, 8]
    one = stats.compare([1.0], [2.0], paired=True, level=0.99)
    assert one.too_few and one.verdict == "no measurable difference"
    five = arm({1: [1000.0, 1100, 1200, 1300, 1400], 20: [5000.0, 5100, 5200, 5300, 5400]})
    c = comparisons(five, 1, 20, 0)["examples to target"]
    assert c.too_few and c.ratio.hi < 1  # the interval excludes 1, but 5 seeds cannot carry a verdict
    text = "\n".join(R.answer(meta(), five, 1, 20))
    assert "**Advantages of online learning:** none." in text and "**Too few runs for a verdict:**" in text
    assert "no verdict in examples to target (ratio 0.2308" in text and "a sign test needs 6" in text
    six = arm({1: [1000.0, 1100, 1200, 1300, 1400, 1500], 20: [5000.0, 5100, 5200, 5300, 5400, 5500]})
    text = "\n".join(R.answer(meta(), six, 1, 20))
    adv = text[text.index("**Advantages"):text.index("**Disadvantages")]
    assert "advantage in examples to target" in adv
    assert "6 runs a side are too few to test it at the family-wise level of these 4 comparisons (98.8%: a sign " \
           "test needs 8)" in adv


def test_the_command_line_sets_min_updates(tmp_path, monkeypatch):
    import fastnn.study
    from fastnn.cli import main
    seen = {}
    monkeypatch.setattr(fastnn.study, "run_study", lambda config, *a, **k: seen.update(config=config) or [])
    main(["study", "--min-updates", "7", "--epochs", "2", "--no-download", "--quiet", "--out", str(tmp_path)])
    assert seen["config"].min_updates == 7 and seen["config"].epochs == 2
    main(["study", "--no-download", "--quiet", "--out", str(tmp_path)])
    assert seen["config"].min_updates is None  # resolved from the data: batch 100's updates in the epochs


def test_a_study_begun_before_min_updates_resumes_with_its_epochs_alone(tmp_path):
    import json
    from conftest import tiny_dataset
    from fastnn import study as S
    cfg = study_config(batch_sizes=(1, 4, 20), seeds=(0,), epochs=1, etas={1: 0.1, 4: 0.5, 20: 1.0},
                       targets=(0.5, 0.6, 0.7))
    S.run_study(cfg, tmp_path, quiet=True, log=lambda *a: None, dataset=tiny_dataset())
    meta = json.loads((tmp_path / "study.json").read_text())
    del meta["config"]["min_updates"]  # as written before it existed
    (tmp_path / "study.json").write_text(json.dumps(meta))
    S.run_study(cfg, tmp_path, quiet=True, log=lambda *a: None, dataset=tiny_dataset(), resume=True)
    assert json.loads((tmp_path / "study.json").read_text())["config"]["min_updates"] is None
    with pytest.raises(S.StudyError, match="min_updates"):  # asked for a budget that study did not use
        S.run_study(replace_config(cfg, min_updates=5), tmp_path, quiet=True, log=lambda *a: None,
                    dataset=tiny_dataset(), resume=True)


def replace_config(cfg, **kw):
    from dataclasses import replace
    return replace(cfg, **kw)
