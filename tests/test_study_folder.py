"""The study folder: one study at a time, and a resume that checks what it resumes."""
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import make_learnable, study_config, tiny_dataset
from fastnn import study as S
from fastnn.datasets import Dataset
from fastnn.study.lock import LOCK, StudyLock

pytest.importorskip("matplotlib", reason="the study's report needs the study extra")


@pytest.fixture(scope="module")
def tiny():
    return tiny_dataset(300)


def config(**kw):
    base = dict(batch_sizes=(1, 10), seeds=(0,), etas={1: 0.1, 10: 0.5}, epochs=1,
                targets=(0.5, 0.6, 0.7))
    return study_config(**{**base, **kw})


def run(out, ds, **kw):
    return S.run_study(kw.pop("cfg", None) or config(), out, quiet=True, log=lambda *a: None, dataset=ds, **kw)


HOLD = """
import sys, time
from fastnn.study.lock import StudyLock
with StudyLock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_second_study_on_the_same_folder_is_refused_naming_the_holder(tmp_path, tiny):
    out = tmp_path / "s"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        t0 = time.perf_counter()
        with pytest.raises(S.StudyError, match=rf"in use by another study \(pid {holder.pid} on "):
            run(out, tiny)
        assert time.perf_counter() - t0 < 10  # refused at once, not after waiting
        assert not (out / S.RESULTS).exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    rows = run(out, tiny)  # the killed holder's lock is gone with its process
    assert sum(r["kind"] == "run" for r in rows) == 2
    assert (out / LOCK).read_text() == ""  # released


def test_the_lock_is_exclusive_within_one_process_too(tmp_path):
    with StudyLock(tmp_path):
        with pytest.raises(S.StudyError, match=f"pid {os.getpid()}"):
            with StudyLock(tmp_path):
                pass
    with StudyLock(tmp_path):  # free again
        pass


def test_force_wins_over_resume(tmp_path, tiny):
    out = tmp_path / "s"
    run(out, tiny)
    rows = run(out, tiny, cfg=config(epochs=2), resume=True, force=True)  # as `make study ARGS=--force` does
    assert sum(r["kind"] == "run" for r in rows) == 2
    assert max(r["epoch"] for r in rows if r["kind"] == "eval") == 2  # the new settings' 2 epochs


def test_resume_refuses_other_settings_naming_them(tmp_path, tiny):
    out = tmp_path / "s"
    run(out, tiny)
    # min_updates follows the epochs (batch 100's updates in them)
    with pytest.raises(S.StudyError, match=r"other settings \(epochs: 1 -> 3; etas\.1: 0\.1 -> 0\.5; "
                                           r"min_updates: \d+ -> \d+\)"):
        run(out, tiny, cfg=config(epochs=3, etas={1: 0.5, 10: 0.5}), resume=True)


def test_resume_refuses_other_data(tmp_path, tiny):
    out = tmp_path / "s"
    run(out, tiny)
    X, y = make_learnable(300, 12, 3, seed=4)
    other = Dataset("tiny", X[:240], y[:240], X[240:], y[240:], description="other digits, same name and size")
    with pytest.raises(S.StudyError, match=r"was run on other data \(sha256: .*resuming would mix them"):
        run(out, other, resume=True)


def test_resume_refuses_results_without_their_study_json(tmp_path, tiny):
    out = tmp_path / "s"
    run(out, tiny)
    (out / S.CONFIG).unlink()
    with pytest.raises(S.StudyError, match="holds results but no study.json"):
        run(out, tiny, cfg=config(epochs=3), resume=True)


@pytest.mark.parametrize("line,message", [
    ('{"kind": "run", "run": "12-8-3_b1_s0"}', "this run row lacks batch_size, checksum, eta"),
    ('{"kind": "eval", "run": "x", "epoch": "one", "train_seconds": 0, "updates": 0, "examples": 0, "val_acc": 0.5, '
     '"val_cost": 1.0}', "this eval row's epoch is 'one'"),
    ('{"kind": "sample", "run": "x"}', "unknown kind 'sample'"),
    ('[1, 2]', "not a JSON object"),
    ('{"kind": "failure", "run": "x", "error": "boom", "extra": 1}', "this failure row has unknown fields extra"),
])
def test_resume_refuses_a_row_that_does_not_match_its_schema(tmp_path, tiny, line, message):
    out = tmp_path / "s"
    run(out, tiny)
    with open(out / S.RESULTS, "a") as f:
        f.write(line + "\n")
    with pytest.raises(S.StudyError, match=rf"line \d+ is corrupt \({message}"):
        run(out, tiny, resume=True)
