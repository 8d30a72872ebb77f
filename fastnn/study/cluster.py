"""Running a study's runs on Dask: a LocalCluster for ``--jobs N``, or an existing cluster.

Each run is one task. The training data goes to every worker once (scattered with
broadcast), a worker plugin compiles the kernels before the worker takes runs and
pins NumPy/BLAS/Numba to one thread, lost workers' tasks are retried, and results
come back to the driver as they finish. Workers never write the results file.
"""
import contextlib
import logging
import os
import time
import uuid

from .config import StudyError
from .run import train_run, warm_up

THREAD_VARS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
CONNECT_TIMEOUT = 5  # seconds to reach a scheduler before giving up
RETRIES = 2  # extra attempts of a run whose task raised (a lost worker is rescheduled by Dask itself)

try:
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # the distributed extra is not installed; connect() says what to install
    WorkerPlugin = object


def _require():
    try:
        import distributed
    except ImportError:
        raise StudyError("running runs in parallel (--jobs > 1, --scheduler, or a Dask client) needs Dask: "
                         "pip install 'fastnn[distributed]'") from None
    return distributed


class WarmUp(WorkerPlugin):
    """On every worker, before its first run: one thread for NumPy/BLAS/Numba, then compile the kernels."""

    name = "fastnn-warm-up"

    def __init__(self, config):
        self.config = config

    def setup(self, worker):
        for var in THREAD_VARS:
            os.environ[var] = "1"
        warm_up(self.config)


def _remote_run(run, config, data):
    return train_run(run, config, data)


class Cluster:
    """A Dask client the study sends its tasks (runs, and the tuning of each batch size) to."""

    def __init__(self, client, description):
        self.client = client
        self.description = description

    @property
    def n_workers(self):
        return len(self.client.scheduler_info()["workers"])

    def map_runs(self, todo, config, data, check_stop):
        """Yield each run's rows as it finishes; a run whose task failed yields a single ``failure`` row."""
        for run, rows in self.map(_remote_run, todo, (config,), data, lambda r: r["id"], check_stop):
            if isinstance(rows, Exception):  # KilledWorker after repeated losses, or an error inside the run
                rows = [dict(kind="failure", run=run["id"], error=f"{type(rows).__name__}: {rows}")]
            yield rows

    def map(self, fn, items, args, data, name, check_stop):
        """Yield (item, fn(item, *args, data)) as each task finishes, the exception in place of a
        result for a task that failed; data goes to every worker once. name(item) labels its task."""
        from distributed import as_completed
        if not items:
            return
        [data_future] = self.client.scatter([data], broadcast=True)
        tag = uuid.uuid4().hex[:8]
        futures = {self.client.submit(fn, item, *args, data_future, key=f"fastnn-{name(item)}-{tag}",
                                      retries=RETRIES, pure=False): item for item in items}
        done = as_completed(list(futures))
        try:
            while not done.is_empty():
                batch = done.next_batch(block=False)
                if not batch:
                    time.sleep(0.05)
                    check_stop()
                    continue
                for f in batch:
                    try:
                        result = f.result()
                    except Exception as e:
                        result = e
                    yield futures[f], result
                check_stop()
        finally:
            self.client.cancel(list(futures))


@contextlib.contextmanager
def _one_thread_env():
    saved = {v: os.environ.get(v) for v in THREAD_VARS}
    os.environ.update({v: "1" for v in THREAD_VARS})
    try:
        yield
    finally:
        for v, value in saved.items():
            if value is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = value


@contextlib.contextmanager
def connect(client, scheduler, jobs, config, log=print):
    """Yield a Cluster for the study (None for in-process runs); close what this function started."""
    if client is None and scheduler is None and jobs == 1:
        yield None
        return
    distributed = _require()
    cluster = None
    own_client = client is None
    if client is not None:
        description = f"Dask client of {client.scheduler.address}"
    elif scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout=f"{CONNECT_TIMEOUT}s")
        except (OSError, TimeoutError, ValueError) as e:
            raise StudyError(f"could not connect to the Dask scheduler at {scheduler} within {CONNECT_TIMEOUT} s "
                             f"({type(e).__name__}: {e}); nothing was written") from None
        description = f"Dask scheduler {scheduler}"
    else:
        with _one_thread_env():  # the worker processes inherit it
            # CRITICAL: a worker's connection errors while the cluster closes after Ctrl-C are logged
            # as tracebacks; a run's real failure comes back through its future as a failure row.
            cluster = distributed.LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                               host="127.0.0.1", dashboard_address=None,
                                               silence_logs=logging.CRITICAL)
        client = distributed.Client(cluster)
        description = f"Dask LocalCluster, {jobs} single-threaded worker processes"
    try:
        plugin = WarmUp(config)
        if hasattr(client, "register_plugin"):
            client.register_plugin(plugin)
        else:
            client.register_worker_plugin(plugin)
        log(f"runs go to: {description} ({len(client.scheduler_info()['workers'])} workers)")
        yield Cluster(client, description)
    finally:
        with _quiet_shutdown():
            if own_client:
                client.close()
            if cluster is not None:
                cluster.close()


@contextlib.contextmanager
def _quiet_shutdown():
    """Closing a cluster after Ctrl-C can log a "Stream is closed" traceback from a worker's
    connection: expected at that point, and not the study's error, so distributed's loggers
    are held to CRITICAL while the cluster closes."""
    loggers = [logging.getLogger(name) for name in ("distributed", "tornado")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
