"""The driver: run (or resume) a whole study into a folder, then write its report.

``run_study`` checks the output folder and the data, compiles the kernels, fixes
the targets and tunes the learning rates (``fastnn.study.plan``) or reads them back
from study.json on resume, then runs the grid's unfinished runs, in this process or
on Dask (``fastnn.study.cluster``), appending each run's rows to the results file as
it finishes, times one update at each batch size (``fastnn.study.clock``), and last
writes the report (``fastnn.study.report``). The first Ctrl-C
stops at a safe point and keeps every finished run; ``--resume`` continues.
"""
import hashlib
import json
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from .._progress import progress_bar
from ..checks import check_int
from ..datasets import load_dataset
from ..model import Data, Network
from ..registry import DTYPES
from ..serialization import write_text
from .cluster import connect
from .clock import time_updates
from .config import StudyError, arms, grid
from .lock import StudyLock
from .report import report_files, write_report
from .results import CONFIG, RESULTS, append_rows, completed, failed_runs, machine_info, read_results
from .run import train_run, warm_up
from .plan import fix_etas, fix_targets


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, taken at a safe point: between evaluations of a run, or while waiting for workers."""


class _StopFlag:
    """Turns the first Ctrl-C into a flag that runs check at safe points; a second one interrupts at once.

    A KeyboardInterrupt raised at an arbitrary point can land inside Numba's machinery and
    surface as a SystemError, so the study does not let it happen there.
    """

    def __init__(self):
        self.set = False

    def __enter__(self):
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.set:
            raise KeyboardInterrupt
        self.set = True

    def check(self):
        if self.set:
            raise Interrupted

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


def prepare_output(out, resume, force):
    """Create the output folder and check it is writable; refuse to overwrite results without force.

    force deletes the results, study.json and the report drawn from them, so that a forced study
    cut short leaves no previous report beside its new results.
    """
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".fastnn-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise StudyError(f"cannot write to the output folder {out}: {e.strerror}") from None
    existing = (out / RESULTS).exists() or (out / CONFIG).exists()
    if existing and not (resume or force):
        raise StudyError(f"{out} already holds a study; pass --resume to continue it or --force to start over "
                         f"(which deletes its results and report)")
    if force:  # --force wins over --resume (make study always passes --resume)
        for path in [out / RESULTS, out / CONFIG] + report_files(out):
            path.unlink(missing_ok=True)
    elif resume and (out / RESULTS).exists() and not (out / CONFIG).exists():
        raise StudyError(f"{out} holds results but no {CONFIG}, so what they were run with is unknown; "
                         f"use --force to start over")
    return out


def data_fingerprint(ds, data):
    """What identifies the study's data: its name, sizes and a hash of every array it trains and validates on."""
    h = hashlib.sha256()
    for key in ("X", "labels", "X_val", "labels_val"):
        a = np.ascontiguousarray(data[key])
        h.update(f"{key}:{a.dtype.str}:{a.shape}".encode())
        h.update(memoryview(a).cast("B"))
    return dict(name=ds.name, n_train=len(data["X"]), n_val=len(data["X_val"]), sha256=h.hexdigest())


def _differences(stored, current, prefix=""):
    """The keys whose values differ between two JSON objects, as 'key: stored -> current'."""
    out = []
    for key in sorted(set(stored) | set(current)):
        a, b = stored.get(key, "(absent)"), current.get(key, "(absent)")
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return out


def prepare_data(config, path=None, download=True, dataset=None):
    """Load the study's data set (or use ``dataset``); returns (arrays dict, Dataset)."""
    ds = dataset or load_dataset(config.data, path=path, download=download, dtype=DTYPES[config.dtype], progress=True)
    X, y = ds.X_train, ds.y_train
    if config.max_train is not None and config.max_train < len(X):
        keep = np.sort(np.random.default_rng(0).choice(len(X), config.max_train, replace=False))
        X, y = X[keep], y[keep]
    n_out = config.sizes[0][-1]
    for s in config.sizes:
        if s[0] != X.shape[1] or s[-1] != n_out:
            raise StudyError(f"network sizes {list(s)} do not fit the data: {X.shape[1]} inputs and {n_out} classes "
                             f"(every net of a study needs the same output layer)")
    net = Network(config.sizes[0], dtype=config.dtype)
    try:
        X, Y, labels = net.check_data(X, y)
        X_val, Y_val, labels_val = net.check_data(ds.X_val, ds.y_val, name="validation X")
    except ValueError as e:
        raise StudyError(f"the data do not fit network {list(config.sizes[0])}: {e}") from None
    return dict(X=X, Y=Y, labels=labels, X_val=X_val, Y_val=Y_val, labels_val=labels_val), ds


def run_study(config, out, path=None, download=True, resume=False, force=False, jobs=1, quiet=False, command=None,
              log=print, dataset=None, client=None, scheduler=None):
    """Run (or resume) a study into the folder out and write its report; returns the completed rows.

    The data set is ``config.data`` loaded with ``load_dataset`` (looking in ``path`` first), or
    ``dataset`` (a ``fastnn.datasets.Dataset``) when given.

    Where runs execute: in this process (jobs == 1, the default, for clean timings); on a
    Dask ``distributed.LocalCluster`` of ``jobs`` single-threaded workers; on the cluster of
    an existing ``client``; or on the Dask scheduler at ``scheduler`` (e.g. tcp://10.0.0.5:8786).
    Only this process writes the results file.

    Raises
    ------
    StudyError
        For a bad grid, an unusable output folder, a corrupt results file, or a resumed study whose
        configuration differs.
    """
    config.check()
    jobs = check_int(jobs, "jobs", 1)
    with connect(client, scheduler, jobs, config, log) as cluster:  # before the folder: a failure writes nothing
        try:
            Path(out).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StudyError(f"cannot write to the output folder {out}: {e.strerror}") from None
        with StudyLock(out):
            return _run_study(config, out, path, download, resume, force, jobs, quiet, command, log, dataset,
                              cluster)


def _run_study(config, out, path, download, resume, force, jobs, quiet, command, log, dataset, cluster):
    entered = time.perf_counter()
    out = prepare_output(out, resume, force)
    resume = resume and not force
    results_path = out / RESULTS
    rows, done = completed(read_results(results_path)) if resume else ([], set())
    stored = json.loads((out / CONFIG).read_text()) if resume and (out / CONFIG).exists() else None
    data, ds = prepare_data(config, path, download, dataset)
    config.check(n_train=len(data["X"]))
    old_budget = stored is not None and "min_updates" not in stored["config"] and config.min_updates is None
    config = config.resolve(len(data["X"]))
    if old_budget:  # a study begun before min_updates: its runs trained for its epochs alone, and so do the rest
        stored["config"]["min_updates"] = None
        config = replace(config, min_updates=None)
    if stored is not None and stored["config"] != config.to_json():
        raise StudyError(f"{out} holds a study with other settings ("
                         + "; ".join(_differences(stored["config"], config.to_json()))
                         + "); use another output folder, or --force to start over")
    fingerprint = data_fingerprint(ds, data)
    if stored is not None and stored.get("data", {}).get("fingerprint") != fingerprint:
        raise StudyError(f"{out} was run on other data ("
                         + "; ".join(_differences(stored.get("data", {}).get("fingerprint") or {}, fingerprint))
                         + "); resuming would mix them in one report. Use another output folder, or --force")
    warm_up(config, data)
    if ds.is_offline_default:
        log(f"!!! {ds.description}")
    else:
        log(f"data: {ds.description}")
    workers = cluster.n_workers if cluster is not None else 1
    here = machine_info()
    meta = stored or dict(config=config.to_json(), data=dict(name=ds.name, description=ds.description,
                                                             offline_default=ds.is_offline_default,
                                                             n_train=len(data["X"]), n_val=len(data["X_val"]),
                                                             fingerprint=fingerprint),
                          machine=here, command=command, jobs=jobs, started=time.strftime("%Y-%m-%d %H:%M:%S"))
    # A resume may run on another host (or other software): the runs' own seconds then come from
    # several machines, and the clock, measured last, from the latest one, so both are recorded.
    machines = meta.setdefault("machines", [meta["machine"]])
    if here not in machines:
        machines.append(here)
    seconds = meta.setdefault("seconds", {})
    seconds["setup"] = seconds.get("setup", 0.0) + time.perf_counter() - entered  # data, checks, compilation
    if workers > 1:
        meta["jobs"] = max(meta.get("jobs", 1), workers)
        meta["executor"] = cluster.description

    def save():
        write_text(out / CONFIG, json.dumps(meta, indent=1))
    save()
    if resume and results_path.exists():
        # Keep only finished runs: drops the rows of a run cut short and a torn last line,
        # so that new rows are appended after complete lines.
        write_text(results_path, "".join(json.dumps(r) + "\n" for r in rows))

    bar = None
    try:
        with _StopFlag() as stop:
            started = time.perf_counter()
            fix_targets(config, data, meta, log)
            save()
            etas = fix_etas(config, data, meta, cluster, save, log, stop.check)
            seconds["plan"] = seconds.get("plan", 0.0) + time.perf_counter() - started
            save()
            todo = [r for r in grid(config, etas) if r["id"] not in done]
            if done:
                log(f"resuming: {len(done)} runs done, {len(todo)} to go")
            bar = progress_bar(len(todo) + len(done), quiet, unit="run", initial=len(done))
            started = time.perf_counter()
            for run_rows in _execute(todo, config, data, cluster, bar, stop.check):
                if run_rows[-1]["kind"] == "run":
                    run_rows[-1]["workers"] = workers  # > 1: the timings were taken on a shared machine
                else:
                    log(f"run {run_rows[-1]['run']} failed: {run_rows[-1]['error']}; --resume will run it again")
                append_rows(results_path, run_rows)
                rows.extend(run_rows)
                bar.update(1)
                stop.check()
            bar.close()
            seconds["runs"] = seconds.get("runs", 0.0) + time.perf_counter() - started
            if "clock" not in meta:
                log("timing one update at each batch size (the clock: interleaved, repeated)")
                started = time.perf_counter()
                meta["clock"] = measure_clock(config, data, etas, stop.check)  # stored only once every arm is timed
                meta["clock_machine"] = here
                seconds["clock"] = time.perf_counter() - started
            save()
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        save()
        n_done = len({r["run"] for r in rows if r["kind"] == "run"})
        log(f"interrupted: {n_done} finished runs are saved in {results_path}; rerun with --resume to continue")
        raise
    failed = failed_runs(rows)
    if failed:
        log(f"{len(failed)} run(s) failed and are left out of the report: {', '.join(failed)}; "
            f"rerun with --resume to run them again")
    report = write_report(out)
    log(f"report: {report}")
    return rows


def measure_clock(config, data, etas, check_stop=None):
    """The clock of every arm (``clock.time_updates``): a list of {optimizer, sizes, per_batch}.

    check_stop() is called after every measurement and raises to stop.
    """
    train_data = Data(data["X"], data["Y"], data["labels"])
    out = []
    for opt, sizes in arms(config):
        per_batch = time_updates(list(sizes), train_data, list(config.batch_sizes),
                                 {b: etas[(opt, sizes, b)] for b in config.batch_sizes},
                                 activation=config.activation, cost=config.cost, dtype=config.dtype,
                                 min_seconds=config.clock_seconds, repeats=config.clock_repeats, optimizer=opt,
                                 momentum=config.momentum, check_stop=check_stop)
        out.append(dict(optimizer=opt, sizes=list(sizes), per_batch={str(b): v for b, v in per_batch.items()}))
    return out


def _execute(todo, config, data, cluster, bar, check_stop):
    """Yield each run's rows as it finishes: in this process, or on the Dask cluster.

    check_stop() is called at safe points (within runs, or while waiting for workers) and raises to stop.
    """
    if cluster is None:
        n = len(data["X"])
        for run in todo:
            bar.set_postfix_str(f"{run['id']} epoch 0/{config.epochs_for(run['batch_size'], n)}")

            def progress(r, epoch):
                bar.set_postfix_str(f"{r['id']} epoch {epoch}/{config.epochs_for(r['batch_size'], n)}")
            yield train_run(run, config, data, progress, check_stop)
        return
    yield from cluster.map_runs(todo, config, data, check_stop)
