"""Studies on Dask: a LocalCluster on 127.0.0.1 gives the serial numbers, survives a killed worker,
and an unreachable scheduler is a quick, clean error."""
import builtins
import os
import signal
import threading
import time

import pytest

from conftest import same_digits, study_config, tiny_dataset
from fastnn import study as S

distributed = pytest.importorskip("distributed", reason="the Dask tests need the distributed extra "
                                                        "(pip install 'fastnn[distributed]')")
pytest.importorskip("matplotlib", reason="the study's report needs the study extra")


@pytest.fixture(scope="module")
def tiny():
    return tiny_dataset()


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def config(**kw):
    base = dict(batch_sizes=(1, 4, 20), seeds=(0, 1), etas={1: 0.1, 4: 0.5, 20: 1.0}, epochs=3,
                targets=(0.5, 0.6, 0.7))
    return study_config(**{**base, **kw})


def without_timings(rows):
    """Rows without timings, floats to 13 digits (see conftest.same_digits), checksums exactly."""
    skip = ("train_seconds", "seconds", "examples_per_s", "updates_per_s", "workers", "wall_seconds")
    return sorted((r["run"], r["kind"], str(r.get("epoch")), str(r.get("probe_batch_size")),
                   str({k: (v if k == "checksum" else same_digits(v)) for k, v in r.items() if k not in skip}))
                  for r in rows)


def test_a_local_cluster_gives_the_serial_results(tmp_path, tiny, client):
    serial = S.run_study(config(), tmp_path / "serial", quiet=True, log=lambda *a: None, dataset=tiny)
    dask = S.run_study(config(), tmp_path / "dask", quiet=True, log=lambda *a: None, dataset=tiny, client=client)
    assert without_timings(serial) == without_timings(dask)
    checksums = {r["run"]: r["checksum"] for r in dask if r["kind"] == "run"}
    assert len(checksums) == 6 and checksums == {r["run"]: r["checksum"] for r in serial if r["kind"] == "run"}
    assert "Runs were executed 2 at a time" in (tmp_path / "dask" / "report.md").read_text()
    assert client.status == "running"  # a client passed in stays open


def test_a_killed_worker_does_not_lose_the_study(tmp_path, tiny, client):
    cfg = config(epochs=60, evals_first_epoch=2, evals_per_decade=1, seeds=(0, 1, 2))
    killed = []

    def kill_a_busy_worker():
        deadline = time.time() + 60
        while time.time() < deadline and not killed:
            busy = [w for w, tasks in client.processing().items() if any("fastnn-" in str(t) for t in tasks)]
            if busy:
                pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            time.sleep(0.02)
    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    rows = S.run_study(cfg, tmp_path / "s", quiet=True, log=lambda *a: None, dataset=tiny, client=client)
    killer.join()
    assert killed, "no worker was busy long enough to be killed"
    ids = [r["run"] for r in S.read_results(tmp_path / "s" / S.RESULTS) if r["kind"] == "run"]
    assert len(ids) == 9 == len(set(ids))
    assert all(r["status"] == "done" for r in rows if r["kind"] == "run")
    client.wait_for_workers(2, timeout=30)  # the nanny restarts the killed worker


def test_a_run_that_keeps_failing_is_reported_and_resume_runs_it(tmp_path, tiny, client):
    def break_seed_1():  # on each worker: runs with seed 1 raise, as a bug or bad node would
        import fastnn.study.cluster as st  # _remote_run calls the train_run of its own module
        real = st.train_run

        def broken(run, *args, **kwargs):
            if run["seed"] == 1:
                raise RuntimeError("injected failure")
            return real(run, *args, **kwargs)
        broken.real = real
        st.train_run = broken

    def repair():
        import fastnn.study.cluster as st
        st.train_run = getattr(st.train_run, "real", st.train_run)

    messages = []
    client.run(break_seed_1)
    try:
        rows = S.run_study(config(), tmp_path / "s", quiet=True, log=messages.append, dataset=tiny, client=client)
    finally:
        client.run(repair)
    failed = sorted(r["run"] for r in rows if r["kind"] == "failure")
    assert failed == ["12-8-3_b1_s1", "12-8-3_b20_s1", "12-8-3_b4_s1"]
    assert all("RuntimeError: injected failure" in r["error"] for r in rows if r["kind"] == "failure")
    assert sorted(r["run"] for r in rows if r["kind"] == "run") == ["12-8-3_b1_s0", "12-8-3_b20_s0", "12-8-3_b4_s0"]
    assert any("3 run(s) failed" in m and "--resume" in m for m in messages)
    assert "Missing: 3 run(s) failed" in (tmp_path / "s" / "report.md").read_text()

    resumed = S.run_study(config(), tmp_path / "s", quiet=True, log=lambda *a: None, dataset=tiny, client=client,
                          resume=True)
    ids = [r["run"] for r in S.read_results(tmp_path / "s" / S.RESULTS) if r["kind"] == "run"]
    assert len(ids) == 6 == len(set(ids))
    assert sorted(ids) == sorted(r["run"] for r in resumed if r["kind"] == "run")
    assert "Missing" not in (tmp_path / "s" / "report.md").read_text()


def test_an_unreachable_scheduler_is_a_quick_clear_error(tmp_path, tiny):
    t0 = time.perf_counter()
    with pytest.raises(S.StudyError, match=r"could not connect to the Dask scheduler at tcp://127.0.0.1:9 within"):
        S.run_study(config(), tmp_path / "out", quiet=True, log=lambda *a: None, dataset=tiny,
                    scheduler="tcp://127.0.0.1:9")
    assert time.perf_counter() - t0 < 30  # a few seconds of connection attempts, not a hang
    assert not (tmp_path / "out").exists()


def test_the_command_line_names_the_unreachable_scheduler(tmp_path):
    from fastnn.cli import main
    with pytest.raises(SystemExit, match=r"fastnn: could not connect to the Dask scheduler at tcp://127.0.0.1:9"):
        main(["study", "--quick", "--no-download", "--quiet", "--out", str(tmp_path / "out"),
              "--scheduler", "tcp://127.0.0.1:9"])
    assert not (tmp_path / "out").exists()


def test_without_dask_parallel_runs_say_what_to_install(tmp_path, tiny, monkeypatch):
    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name == "distributed" or name.startswith("distributed."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_dask)
    with pytest.raises(S.StudyError, match=r"pip install 'fastnn\[distributed\]'"):
        S.run_study(config(), tmp_path / "out", quiet=True, log=lambda *a: None, dataset=tiny, jobs=2)
    assert not (tmp_path / "out").exists()


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_real_scheduler_and_workers_give_the_serial_checksums_after_losing_a_worker(tmp_path, tiny):
    """`dask scheduler` and two `dask worker --nthreads 1` processes on 127.0.0.1, as on a real cluster;
    one worker is killed mid-study; every run is there once, with the checksums of --jobs 1."""
    import subprocess
    import sys
    from pathlib import Path
    dask = str(Path(sys.executable).parent / "dask")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = open(tmp_path / "dask.log", "w")
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              stdout=logs, stderr=subprocess.STDOUT)]
    try:
        with distributed.Client(address, timeout="30s") as c:  # waits for the scheduler to come up
            for _ in range(2):
                procs.append(subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--no-nanny",
                                               "--no-dashboard", "--host", "127.0.0.1"],
                                              stdout=logs, stderr=subprocess.STDOUT))
            c.wait_for_workers(2, timeout=60)
        cfg = config(epochs=40, evals_first_epoch=2, evals_per_decade=1, seeds=(0, 1, 2))
        out = tmp_path / "cluster"
        killed = []

        def kill_a_worker_after_the_first_run():
            deadline = time.time() + 120
            while time.time() < deadline:
                rows = S.read_results(out / S.RESULTS) if (out / S.RESULTS).exists() else []
                done = sum(r["kind"] == "run" for r in rows)
                if done:
                    procs[1].kill()
                    killed.append(done)
                    return
                time.sleep(0.02)
        killer = threading.Thread(target=kill_a_worker_after_the_first_run)
        killer.start()
        rows = S.run_study(cfg, out, quiet=True, log=lambda *a: None, dataset=tiny, scheduler=address)
        killer.join()
        serial = S.run_study(cfg, tmp_path / "serial", quiet=True, log=lambda *a: None, dataset=tiny)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        logs.close()
    ids = [r["run"] for r in S.read_results(out / S.RESULTS) if r["kind"] == "run"]
    assert len(ids) == 9 == len(set(ids))
    assert killed and killed[0] < 9, "the worker was killed after the study ended"
    checksums = {r["run"]: r["checksum"] for r in rows if r["kind"] == "run"}
    assert checksums == {r["run"]: r["checksum"] for r in serial if r["kind"] == "run"}
    assert all(r["status"] == "done" for r in rows if r["kind"] == "run")
