"""One run of a study: train one network and record what happened, row by row.

``train_run`` trains one network of the grid for the study's number of epochs (more for a large batch:
``StudyConfig.epochs_for``) and records

- ``eval`` rows at log-spaced example counts (``run_points``: ``evals_first_epoch`` in the
  first epoch, ``evals_per_decade`` after it, and every epoch's end): cumulative training
  seconds, updates and examples so far, validation cost and accuracy;
- ``noise`` rows, in the runs of ``noise_batch_size`` only, at ``noise_epochs`` and the end:
  the squared norms |g_B|^2 of mean gradients over ``noise_batches`` random mini-batches of
  ``noise_small`` and of ``noise_big`` training examples, from which ``stats.noise_scale``
  estimates B_simple;
- a final ``run`` row with the run's settings, its status (``done``, ``stuck``: accuracy at
  chance or one class predicted, or ``diverged``: non-finite weights), and its final
  validation and training accuracy.

``warm_up`` compiles the kernels a run uses beforehand, so that no timed segment includes
compilation (the Dask workers call it too).
"""
import time

import numpy as np

from .. import health, kernels
from ..blas import blas_threads, may_use_blas
from ..model import Data, Network
from ..registry import DTYPES
from ..training import DivergenceError, Optimizer
from ..training import run as train
from .tuning import log_points


def run_points(n, batch_size, epochs, first=24, per_decade=8, extra=()):
    """Example counts (from the start of the run) after which to evaluate, per epoch: a list of
    in-epoch counts for each epoch, each a multiple of batch_size or the epoch's end n.

    ``first`` log-spaced points in the first epoch, ``per_decade`` per decade of examples after
    it, every epoch's end, and the counts in ``extra`` (rounded to a multiple of batch_size).
    """
    total = [e * n for e in range(1, epochs + 1)] + [p for p in log_points(n, batch_size, first)]
    if epochs > 1:
        total += list(np.geomspace(n, epochs * n, max(2, int(round(per_decade * np.log10(epochs)))) + 1))
    total += [x for x in extra if 0 < x <= epochs * n]
    per_epoch = [set() for _ in range(epochs)]
    for p in total:
        e, k = snap(p, n, batch_size, epochs)
        per_epoch[e].add(k)
    return [sorted(s | {n}) for s in per_epoch]


def snap(p, n, batch_size, epochs):
    """(epoch, in-epoch count) of the evaluation point nearest to p examples from the start: the
    in-epoch count a multiple of batch_size or the epoch's end n."""
    e = min(epochs - 1, max(0, int(np.ceil(p / n)) - 1))
    return e, min(n, max(batch_size, int(round((p - e * n) / batch_size)) * batch_size))


def gradient_sq_norms(net, data, batch_size, n_batches, rng):
    """|g_B|^2 for n_batches mini-batches of batch_size examples drawn from data with replacement,
    g_B the mean gradient over the batch (no L2 term): the input of ``stats.noise_scale``."""
    batches = rng.integers(0, len(data.X), size=(n_batches, batch_size)).astype(np.int64)
    with blas_threads(1, needed=may_use_blas(net.sizes, batch_size, batch_size, net.dtype)):
        sq, _ = kernels.minibatch_gradient_spread(*net.kernel_args(), data.X, data.Y, batches,
                                                  np.zeros(len(net.params)))
    return sq


def noise_sizes(config, n):
    """The two batch sizes of the noise-scale estimate (the big one at most the training set)."""
    return config.noise_small, min(config.noise_big, n)


def warm_up(config, data=None):
    """Compile (or load from the cache) every kernel a run uses, so no timed segment includes compilation.

    Compilation depends only on types and shapes, so without data it uses zeros of the right shape.
    """
    if data is None:
        n_in, n_out = config.sizes[0][0], config.sizes[0][-1]
        dtype = DTYPES[config.dtype]
        data = dict(X=np.zeros((4, n_in), dtype), Y=np.eye(n_out, dtype=dtype)[[0, 1, 0, 1]],
                    labels=np.array([0, 1, 0, 1]))
    d = Data(data["X"][:4], data["Y"][:4], data["labels"][:4])
    for sizes in config.sizes:
        net = Network(sizes, activation=config.activation, cost=config.cost, dtype=config.dtype, seed=0)
        for opt in config.optimizers:
            for b in {1, 2}:
                net.train_epoch(d.X, d.Y, np.arange(4), b, Optimizer.named(opt, 0.1, momentum=config.momentum))
        gradient_sq_norms(net, d, 2, 1, np.random.default_rng(0))
        net.accuracy(d)
        net.total_cost(d)


def stuck_reason(net, data):
    """Why a trained network counts as stuck (accuracy within a few points of chance, or one class
    predicted for nearly every example), or None. data: the validation set (a ``fastnn.Data``)."""
    predicted = net.predict(data.X)
    counts = np.bincount(data.labels, minlength=net.sizes[-1])
    chance = counts.max() / len(data.labels)
    accuracy = float(np.mean(predicted == data.labels))
    shares = np.bincount(predicted, minlength=net.sizes[-1]) / len(predicted)
    top = int(np.argmax(shares))
    if shares[top] >= health.ONE_CLASS_SHARE and counts[top] / len(data.labels) < health.ONE_CLASS_TRUE_SHARE:
        return f"predicts class {top} for {shares[top]:.0%} of the validation examples"
    if accuracy <= chance + health.CHANCE_MARGIN:
        return f"validation accuracy {accuracy:.1%} is within {health.CHANCE_MARGIN:.0%} of chance ({chance:.1%})"
    return None


def train_run(run, config, data, progress=None, check_stop=None):
    """Train one run of a (resolved) study; returns its rows (the ``run`` row last). Deterministic given run['seed'].

    check_stop, if given, is called at every evaluation point and may raise to abandon the run.
    """
    started = time.perf_counter()
    train_data = Data(data["X"], data["Y"], data["labels"])
    val = Data(data["X_val"], data["Y_val"], data["labels_val"])
    n, B, eta = len(train_data.X), run["batch_size"], run["eta"]
    optimizer = run.get("optimizer", "sgd")
    net = Network(run["sizes"], activation=config.activation, cost=config.cost, dtype=config.dtype,
                  seed=run["seed"])
    rng = np.random.default_rng([run["seed"], 1])  # the same example order for every batch size
    noise_rng = np.random.default_rng([run["seed"], B, 2])
    measure_noise = B == config.noise_batch_size
    epochs = config.epochs_for(B, n)
    noise_at = {e * n + k for e, k in (snap(x * n, n, B, epochs) for x in config.noise_epochs
                                      if 0 < x < epochs)} if measure_noise else set()
    points = run_points(n, B, epochs, config.evals_first_epoch, config.evals_per_decade, noise_at)
    b_small, b_big = noise_sizes(config, n)
    rows, status, note = [], "done", None
    last = dict(seconds=0.0, updates=0, examples=0)

    def noise(pos_examples):
        rows.append(dict(kind="noise", run=run["id"], epoch=round(pos_examples / n, 6), examples=pos_examples,
                         b_small=b_small, b_big=b_big,
                         small_sq=gradient_sq_norms(net, train_data, b_small, config.noise_batches, noise_rng).tolist(),
                         big_sq=gradient_sq_norms(net, train_data, b_big, config.noise_batches, noise_rng).tolist()))

    def evaluate(seconds, updates, examples):
        rows.append(dict(kind="eval", run=run["id"], epoch=round(examples / n, 6), train_seconds=seconds,
                         updates=updates, examples=examples, val_acc=net.accuracy(val),
                         val_cost=net.total_cost(val, lmbda=config.lmbda)))

    def after_point(pos):
        if check_stop is not None:
            check_stop()
        last.update(seconds=pos.seconds, updates=pos.updates, examples=pos.examples)
        evaluate(pos.seconds, pos.updates, pos.examples)
        if measure_noise and pos.examples in noise_at:
            noise(pos.examples)

    def after_epoch(pos):
        if progress is not None:
            progress(run, pos.epoch)

    evaluate(0.0, 0, 0)
    if measure_noise and 0.0 in config.noise_epochs:
        noise(0)
    try:
        train(net, train_data, epochs, B, Optimizer.named(optimizer, eta, config.lmbda, config.momentum),
              order=lambda e: rng.permutation(n), points=lambda e: points[e], on_point=after_point,
              on_epoch=after_epoch)
    except DivergenceError:
        status = "diverged"
        note = f"non-finite weights after {last['examples']:,} examples ({last['examples'] / n:.2f} epochs)"
    if status == "done":
        if measure_noise:
            noise(last["examples"])
        note = stuck_reason(net, val)
        status = "stuck" if note else "done"
    final = [r for r in rows if r["kind"] == "eval"][-1]
    rows.append(dict(kind="run", run=run["id"], optimizer=optimizer, sizes=run["sizes"], batch_size=B, eta=eta,
                     seed=run["seed"], status=status, note=note, train_seconds=last["seconds"],
                     wall_seconds=time.perf_counter() - started, final_val_acc=final["val_acc"],
                     final_train_acc=net.accuracy(train_data) if status != "diverged" else None,
                     checksum=float(np.sum(net.params, dtype=np.float64)) if status != "diverged" else None))
    return rows
