"""The batch-size trade-off study: online learning against mini-batches, measured.

A study is a grid of runs: batch sizes x seeds x network sizes, each batch size
with its own learning rate (given, or picked by ``search_eta``). Every run
trains one network and records

- ``eval`` rows, ``evals_per_epoch`` times per epoch: cumulative training seconds,
  updates and examples so far, validation cost and accuracy;
- ``epoch`` rows: the epoch's training seconds, examples/s, updates/s, training
  cost and accuracy, validation cost and accuracy;
- ``noise`` rows at a few checkpoints: for every batch size B of the grid, the
  mean of ||g_B - g||^2 (the gradient variance) and of cos(g_B, g) over
  ``noise_batches`` random mini-batches, g being the gradient over
  ``noise_examples`` training examples;
- a final ``run`` row with the run's settings, status and final accuracy.

Results file: ``results.jsonl`` in the output folder, one JSON object per line
with a ``kind`` field as above. A run's rows are appended together, ``run`` row
last, only when the run has finished, so an interrupted study loses only the
run in progress, and ``resume`` skips the runs that have a ``run`` row.
``study.json`` holds the configuration, the chosen learning rates, the data set
and the machine; a resumed study must have the same configuration.
"""
import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import kernels

from ._progress import progress_bar
from .checks import check_int
from .datasets import load_dataset
from .model import DivergenceError, Network
from .registry import ACTIVATIONS, COSTS, DTYPES, lookup

RESULTS = "results.jsonl"
CONFIG = "study.json"


class StudyError(ValueError):
    """Bad study arguments, an unusable output folder, or a corrupt results file."""


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
        import signal
        import threading
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
        import signal
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


@dataclass
class StudyConfig:
    """What a study runs. Every field is recorded in study.json.

    etas maps batch size to learning rate; batch sizes without one get theirs from
    ``search_eta`` (each eta of eta_grid trained for search_epochs on 80% of the
    training set, scored by accuracy on the other 20%, ties to the smaller eta).
    """

    batch_sizes: tuple = (1, 2, 5, 10, 20, 50, 100)
    seeds: tuple = (0, 1, 2)
    sizes: tuple = ((784, 30, 10),)
    etas: dict = field(default_factory=dict)
    eta_grid: tuple = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
    search_epochs: int = 1
    cost: str = "cross_entropy"
    activation: str = "sigmoid"
    dtype: str = "float32"
    lmbda: float = 0.0
    epochs: int = 10
    evals_per_epoch: int = 4
    noise_checkpoints: int = 3
    noise_batches: int = 32
    noise_examples: int = 5000
    max_train: int = None
    data: str = "auto"

    def check(self, n_train=None):
        """Raise StudyError for an empty or invalid grid."""
        try:
            if not self.batch_sizes:
                raise ValueError("the grid has no batch sizes")
            if not self.seeds:
                raise ValueError("the grid has no seeds")
            if not self.sizes:
                raise ValueError("the grid has no network sizes")
            for b in self.batch_sizes:
                check_int(b, "batch size", 1)
            if len(set(self.batch_sizes)) != len(self.batch_sizes):
                raise ValueError(f"batch sizes repeat: {list(self.batch_sizes)}")
            for b, eta in self.etas.items():
                if b not in self.batch_sizes:
                    raise ValueError(f"a learning rate is given for batch size {b}, which is not in the grid")
                if not (isinstance(eta, (int, float)) and math.isfinite(eta) and eta > 0):
                    raise ValueError(f"the learning rate for batch size {b} must be positive, got {eta!r}")
            if any(not (isinstance(e, (int, float)) and e > 0) for e in self.eta_grid) or (
                    len(self.etas) < len(self.batch_sizes) and not self.eta_grid):
                raise ValueError("the eta grid must hold positive learning rates")
            check_int(self.epochs, "epochs", 1)
            check_int(self.evals_per_epoch, "evals per epoch", 1)
            check_int(self.noise_batches, "noise batches", 1)
            lookup(COSTS, self.cost, "cost")
            lookup(ACTIVATIONS, self.activation, "activation")
            lookup(DTYPES, self.dtype, "dtype")
            if n_train is not None and max(self.batch_sizes) > n_train:
                raise ValueError(f"batch size {max(self.batch_sizes)} is larger than the {n_train} training examples")
        except ValueError as e:
            raise StudyError(str(e)) from None

    def to_json(self):
        d = asdict(self)
        d["etas"] = {str(k): v for k, v in self.etas.items()}
        d["sizes"] = [list(s) for s in self.sizes]
        for key in ("batch_sizes", "seeds", "eta_grid"):
            d[key] = list(d[key])
        return d

    @classmethod
    def from_json(cls, d):
        d = dict(d)
        d["etas"] = {int(k): v for k, v in d["etas"].items()}
        d["sizes"] = tuple(tuple(s) for s in d["sizes"])
        for key in ("batch_sizes", "seeds", "eta_grid"):
            d[key] = tuple(d[key])
        return cls(**d)


def run_id(sizes, batch_size, seed):
    return f"{'-'.join(map(str, sizes))}_b{batch_size}_s{seed}"


def grid(config, etas):
    """The runs of a study, as dicts: sizes, batch_size, eta, seed, id."""
    return [dict(id=run_id(s, b, seed), sizes=list(s), batch_size=b, eta=etas[(tuple(s), b)], seed=seed)
            for s in config.sizes for b in config.batch_sizes for seed in config.seeds]


# ----------------------------------------------------------------------------- one run
def eval_points(n, batch_size, evals_per_epoch):
    """Example counts within an epoch after which to evaluate: multiples of batch_size, the last one n."""
    points = []
    for k in range(1, evals_per_epoch + 1):
        p = min(n, int(round(k * n / evals_per_epoch / batch_size)) * batch_size)
        if p > (points[-1] if points else 0):
            points.append(p)
    if points[-1] != n:
        points.append(n)
    return points


def gradient_noise(net, X, Y, probe_sizes, n_batches, rng):
    """For each B in probe_sizes: mean ||g_B - g||^2 and mean cos(g_B, g) over n_batches mini-batches of X.

    g is the mean gradient over all of X; each mini-batch is drawn without replacement.
    """
    g = np.zeros(net.params.shape, dtype=np.float64)
    grad = np.zeros_like(net.params)
    kernels.accumulate_gradient(*net._args(), net._cost, X, Y, np.arange(len(X)), grad)
    g[:] = grad
    g /= len(X)
    out = []
    for B in probe_sizes:
        batches = np.stack([rng.choice(len(X), size=B, replace=False) for _ in range(n_batches)]).astype(np.int64)
        sq, cos = kernels.minibatch_gradient_spread(*net._args(), net._cost, X, Y, batches, g)
        out.append(dict(probe_batch_size=int(B), variance=float(sq.mean()), cosine=float(cos.mean()),
                        full_grad_norm=float(np.linalg.norm(g))))
    return out


def warm_up(config, data=None):
    """Compile (or load from the cache) every kernel a run uses, so no timed epoch includes compilation.

    Compilation depends only on types and shapes, so without data it uses zeros of the right shape.
    """
    if data is None:
        n_in, n_out = config.sizes[0][0], config.sizes[0][-1]
        dtype = DTYPES[config.dtype]
        data = dict(X=np.zeros((4, n_in), dtype), Y=np.eye(n_out, dtype=dtype)[[0, 1, 0, 1]],
                    labels=np.array([0, 1, 0, 1]))
    X, Y = data["X"][:4], data["Y"][:4]
    for sizes in config.sizes:
        net = Network(sizes, activation=config.activation, cost=config.cost, dtype=config.dtype, seed=0)
        for b in {1, 2}:
            net.train_epoch(X, Y, np.arange(4), b, 0.1)
        gradient_noise(net, X, Y, [2], 1, np.random.default_rng(0))
        kernels.accuracy(*net._args(), X, data["labels"][:4])
        kernels.total_cost(*net._args(), net._cost, X, Y, 0.0)


def train_run(run, config, data, progress=None, check_stop=None):
    """Train one run of the grid; returns its rows (the ``run`` row last). Deterministic given run['seed'].

    check_stop, if given, is called at every evaluation point and may raise to abandon the run.
    """
    started = time.perf_counter()
    X, Y, labels = data["X"], data["Y"], data["labels"]
    X_val, Y_val, labels_val = data["X_val"], data["Y_val"], data["labels_val"]
    n, B, eta = len(X), run["batch_size"], run["eta"]
    net = Network(run["sizes"], activation=config.activation, cost=config.cost, dtype=config.dtype,
                  seed=run["seed"])
    args = net._args()
    rng = np.random.default_rng([run["seed"], B, 1])
    noise_rng = np.random.default_rng([run["seed"], B, 2])
    noise_X, noise_Y = X[:config.noise_examples], Y[:config.noise_examples]
    probes = [b for b in config.batch_sizes if b <= len(noise_X)]
    checkpoints = sorted({round(i * config.epochs / max(config.noise_checkpoints - 1, 1))
                          for i in range(config.noise_checkpoints)})
    points = eval_points(n, B, config.evals_per_epoch)
    velocity = net.params  # no momentum in the study
    rows, seconds, updates, status = [], 0.0, 0, "done"

    def evaluation():
        return dict(val_acc=kernels.accuracy(*args, X_val, labels_val) / len(X_val),
                    val_cost=kernels.total_cost(*args, net._cost, X_val, Y_val, config.lmbda))

    def noise(epoch):
        for r in gradient_noise(net, noise_X, noise_Y, probes, config.noise_batches, noise_rng):
            rows.append(dict(kind="noise", run=run["id"], epoch=epoch, **r))

    rows.append(dict(kind="eval", run=run["id"], epoch=0.0, train_seconds=0.0, updates=0, examples=0, **evaluation()))
    for epoch in range(config.epochs):
        if epoch in checkpoints:
            noise(epoch)
        order = rng.permutation(n)
        epoch_seconds, start = 0.0, 0
        for p in points:
            t0 = time.perf_counter()
            net.train_epoch(X, Y, order[start:p], B, eta, config.lmbda, 0.0, n, velocity)
            dt = time.perf_counter() - t0
            epoch_seconds += dt
            updates += -(-(p - start) // B)
            start = p
            if not np.isfinite(net.params).all():
                status = f"diverged in epoch {epoch + 1}"
                break
            if check_stop is not None:
                check_stop()
            frac = epoch + p / n
            rows.append(dict(kind="eval", run=run["id"], epoch=round(frac, 6), train_seconds=seconds + epoch_seconds,
                             updates=updates, examples=int(round(frac * n)), **evaluation()))
        seconds += epoch_seconds
        if status != "done":
            break
        n_updates = -(-n // B)
        last = rows[-1]  # the evaluation at the end of this epoch
        rows.append(dict(kind="epoch", run=run["id"], epoch=epoch + 1, seconds=epoch_seconds,
                         examples_per_s=n / epoch_seconds, updates_per_s=n_updates / epoch_seconds,
                         train_cost=kernels.total_cost(*args, net._cost, X, Y, config.lmbda),
                         train_acc=kernels.accuracy(*args, X, labels) / n,
                         val_acc=last["val_acc"], val_cost=last["val_cost"]))
        if progress is not None:
            progress(run, epoch + 1)
    if status == "done" and config.epochs in checkpoints:
        noise(config.epochs)
    final = [r for r in rows if r["kind"] == "eval"][-1]
    rows.append(dict(kind="run", run=run["id"], sizes=run["sizes"], batch_size=B, eta=eta, seed=run["seed"],
                     status=status, train_seconds=seconds, wall_seconds=time.perf_counter() - started,
                     final_val_acc=final["val_acc"],
                     checksum=float(np.sum(net.params, dtype=np.float64)) if status == "done" else None))
    return rows


# ----------------------------------------------------------------------------- learning rates
def search_eta(data, sizes, batch_size, config):
    """Pick eta for one batch size: the eta of config.eta_grid with the best held-out accuracy.

    Trains from seed 0 for config.search_epochs on a random 80% of the training set (fixed
    seed) and scores on the other 20% (never on the validation set the study reports). A
    diverging eta scores -1. Ties go to the smaller eta. Returns (eta, {eta: accuracy}).
    """
    perm = np.random.default_rng(12345).permutation(len(data["X"]))
    X, Y, labels = data["X"][perm], data["Y"][perm], data["labels"][perm]
    k = int(len(X) * 0.8)
    scores = {}
    for eta in sorted(config.eta_grid):
        net = Network(sizes, activation=config.activation, cost=config.cost, dtype=config.dtype, seed=0)
        try:
            rng = np.random.default_rng(0)
            for _ in range(config.search_epochs):
                net.train_epoch(X[:k], Y[:k], rng.permutation(k), batch_size, eta, config.lmbda, 0.0, k)
                if not np.isfinite(net.params).all():
                    raise DivergenceError("diverged")
            scores[eta] = kernels.accuracy(*net._args(), X[k:], labels[k:]) / (len(X) - k)
        except DivergenceError:
            scores[eta] = -1.0
    best = max(scores.values())
    return min(e for e, s in scores.items() if s == best), scores


# ----------------------------------------------------------------------------- files
def read_results(path):
    """Rows of a results file. A torn last line (an interrupted write) is dropped; any other bad line is an error."""
    path = Path(path)
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.split("\n")
    rows = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or "kind" not in row or "run" not in row:
                raise ValueError("not a result row")
        except ValueError as e:
            if i == len(lines) - 1:  # no newline after it: the write was cut short
                continue
            raise StudyError(f"{path} line {i + 1} is corrupt ({e}); fix or delete it, or start over with --force")
        rows.append(row)
    return rows


def completed(rows):
    """Rows of the runs that finished (have a ``run`` row); rows of unfinished runs are dropped."""
    done = {r["run"] for r in rows if r["kind"] == "run"}
    return [r for r in rows if r["run"] in done], done


def failed_runs(rows):
    """Ids of the runs with a ``failure`` row and no ``run`` row, sorted: the ones --resume will run again."""
    return sorted({r["run"] for r in rows if r["kind"] == "failure"} - {r["run"] for r in rows if r["kind"] == "run"})


def append_rows(path, rows):
    """Append rows as JSON lines in one write, then flush to disk."""
    data = "".join(json.dumps(r) + "\n" for r in rows)
    with open(path, "a") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def machine_info():
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numba
    from . import __version__
    return dict(cpu=cpu, cores=os.cpu_count(), python=platform.python_version(), numpy=np.__version__,
                numba=numba.__version__, fastnn=__version__, system=f"{platform.system()} {platform.release()}")


def prepare_output(out, resume, force):
    """Create the output folder and check it is writable; refuse to overwrite results without force."""
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
                         f"(which deletes its results)")
    if force and not resume:
        for name in (RESULTS, CONFIG):
            (out / name).unlink(missing_ok=True)
    return out


# ----------------------------------------------------------------------------- the driver
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
        X, Y, labels = net._data(X, y)
        X_val, Y_val, labels_val = net._data(ds.X_val, ds.y_val, name="validation X")
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
    from .cluster import connect
    with connect(client, scheduler, jobs, config, log) as cluster:
        return _run_study(config, out, path, download, resume, force, jobs, quiet, command, log, dataset, cluster)


def _run_study(config, out, path, download, resume, force, jobs, quiet, command, log, dataset, cluster):
    out = prepare_output(out, resume, force)
    results_path = out / RESULTS
    rows, done = completed(read_results(results_path)) if resume else ([], set())
    stored = json.loads((out / CONFIG).read_text()) if resume and (out / CONFIG).exists() else None
    if stored is not None and stored["config"] != config.to_json():
        raise StudyError(f"{out} holds a study with other settings; use another output folder, or --force to "
                         f"start over")
    data, ds = prepare_data(config, path, download, dataset)
    config.check(n_train=len(data["X"]))
    warm_up(config, data)
    if ds.is_offline_default:
        log(f"!!! {ds.description}")
    else:
        log(f"data: {ds.description}")

    if stored is not None:
        etas = {(tuple(e["sizes"]), e["batch_size"]): e["eta"] for e in stored["etas"]}
        search = stored["eta_search"]
    else:
        etas, search = {}, []
        for s in config.sizes:
            for b in config.batch_sizes:
                if b in config.etas:
                    etas[(tuple(s), b)] = float(config.etas[b])
                else:
                    eta, scores = search_eta(data, s, b, config)
                    etas[(tuple(s), b)] = eta
                    search.append(dict(sizes=list(s), batch_size=b, scores={str(k): v for k, v in scores.items()}))
                    log(f"eta search {list(s)} batch {b}: eta = {eta:g} "
                        f"(held-out accuracy {max(scores.values()):.4f})")
        meta = dict(config=config.to_json(), data=dict(name=ds.name, description=ds.description,
                                                       offline_default=ds.is_offline_default,
                                                       n_train=len(data["X"]), n_val=len(data["X_val"])),
                    etas=[dict(sizes=list(k[0]), batch_size=k[1], eta=v,
                               source="given" if k[1] in config.etas else "search") for k, v in etas.items()],
                    eta_search=search, machine=machine_info(), command=command, jobs=jobs,
                    started=time.strftime("%Y-%m-%d %H:%M:%S"))
        tmp = out / (CONFIG + ".tmp")
        tmp.write_text(json.dumps(meta, indent=1))
        os.replace(tmp, out / CONFIG)
    if resume and results_path.exists():
        # Keep only finished runs: drops the rows of a run cut short and a torn last line,
        # so that new rows are appended after complete lines.
        tmp = out / (RESULTS + ".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
        os.replace(tmp, results_path)
    workers = cluster.n_workers if cluster is not None else 1
    if workers > 1:
        meta = json.loads((out / CONFIG).read_text())
        meta["jobs"] = max(meta.get("jobs", 1), workers)
        meta["executor"] = cluster.description
        (out / CONFIG).write_text(json.dumps(meta, indent=1))

    todo = [r for r in grid(config, etas) if r["id"] not in done]
    if done:
        log(f"resuming: {len(done)} runs done, {len(todo)} to go")
    bar = progress_bar(len(todo) + len(done), quiet, unit="run", initial=len(done))
    try:
        with _StopFlag() as stop:
            for run_rows in _execute(todo, config, data, cluster, bar, stop.check):
                if run_rows[-1]["kind"] == "run":
                    run_rows[-1]["workers"] = workers  # > 1: the timings were taken on a shared machine
                else:
                    log(f"run {run_rows[-1]['run']} failed: {run_rows[-1]['error']}; --resume will run it again")
                append_rows(results_path, run_rows)
                rows.extend(run_rows)
                bar.update(1)
                stop.check()
    except KeyboardInterrupt:
        bar.close()
        n_done = len({r["run"] for r in rows if r["kind"] == "run"})
        log(f"interrupted: {n_done} finished runs are saved in {results_path}; rerun with --resume to continue")
        raise
    bar.close()
    failed = failed_runs(rows)
    if failed:
        log(f"{len(failed)} run(s) failed and are left out of the report: {', '.join(failed)}; "
            f"rerun with --resume to run them again")
    from .report import write_report
    report = write_report(out)
    log(f"report: {report}")
    return rows


def _execute(todo, config, data, cluster, bar, check_stop):
    """Yield each run's rows as it finishes: in this process, or on the Dask cluster.

    check_stop() is called at safe points (within runs, or while waiting for workers) and raises to stop.
    """
    if cluster is None:
        for run in todo:
            bar.set_postfix_str(f"{run['id']} epoch 0/{config.epochs}")

            def progress(r, epoch):
                bar.set_postfix_str(f"{r['id']} epoch {epoch}/{config.epochs}")
            yield train_run(run, config, data, progress, check_stop)
        return
    yield from cluster.map_runs(todo, config, data, check_stop)
