"""One run of a study: train one network and record what happened, row by row.

``train_run`` trains one network of the grid and records

- ``eval`` rows, ``evals_per_epoch`` times per epoch: cumulative training seconds,
  updates and examples so far, validation cost and accuracy;
- ``epoch`` rows: the epoch's training seconds, examples/s, updates/s, training
  cost and accuracy, validation cost and accuracy;
- ``noise`` rows at a few checkpoints: for every batch size B of the grid, the
  mean of ||g_B - g||^2 (the gradient variance) and of cos(g_B, g) over
  ``noise_batches`` random mini-batches, g being the gradient over
  ``noise_examples`` training examples;
- a final ``run`` row with the run's settings, status and final accuracy.

``warm_up`` compiles the kernels a run uses beforehand, so that no timed epoch
includes compilation (the Dask workers call it too).
"""
import time

import numpy as np

from .. import kernels
from ..model import Data, Network
from ..registry import DTYPES
from ..training import DivergenceError, Optimizer
from ..training import run as train


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


def gradient_noise(net, data, probe_sizes, n_batches, rng):
    """For each B in probe_sizes: mean ||g_B - g||^2 and mean cos(g_B, g) over n_batches mini-batches of data.

    g is the mean gradient over all of data (a ``fastnn.Data``); each mini-batch is drawn
    without replacement.
    """
    X, Y = data.X, data.Y
    g = net.gradient_sum(data).astype(np.float64)
    g /= len(X)
    out = []
    for B in probe_sizes:
        batches = np.stack([rng.choice(len(X), size=B, replace=False) for _ in range(n_batches)]).astype(np.int64)
        sq, cos = kernels.minibatch_gradient_spread(*net.kernel_args(), X, Y, batches, g)
        out.append(dict(probe_batch_size=int(B), variance=float(sq.mean()), cosine=float(cos.mean()),
                        full_grad_norm=float(np.linalg.norm(g))))
    return out


def gradient_sq_norms(net, data, batch_size, n_batches, rng):
    """|g_B|^2 for n_batches mini-batches of batch_size examples drawn from data with replacement,
    g_B the mean gradient over the batch (no L2 term): the input of ``stats.noise_scale``."""
    batches = rng.integers(0, len(data.X), size=(n_batches, batch_size)).astype(np.int64)
    sq, _ = kernels.minibatch_gradient_spread(*net.kernel_args(), data.X, data.Y, batches,
                                              np.zeros(len(net.params)))
    return sq


def warm_up(config, data=None):
    """Compile (or load from the cache) every kernel a run uses, so no timed epoch includes compilation.

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
        for b in {1, 2}:
            net.train_epoch(d.X, d.Y, np.arange(4), b, 0.1)
        gradient_noise(net, d, [2], 1, np.random.default_rng(0))
        net.accuracy(d)
        net.total_cost(d)


def train_run(run, config, data, progress=None, check_stop=None):
    """Train one run of the grid; returns its rows (the ``run`` row last). Deterministic given run['seed'].

    check_stop, if given, is called at every evaluation point and may raise to abandon the run.
    """
    started = time.perf_counter()
    train_data = Data(data["X"], data["Y"], data["labels"])
    val = Data(data["X_val"], data["Y_val"], data["labels_val"])
    n, B, eta = len(train_data.X), run["batch_size"], run["eta"]
    net = Network(run["sizes"], activation=config.activation, cost=config.cost, dtype=config.dtype,
                  seed=run["seed"])
    rng = np.random.default_rng([run["seed"], B, 1])
    noise_rng = np.random.default_rng([run["seed"], B, 2])
    k = config.noise_examples
    noise_data = Data(train_data.X[:k], train_data.Y[:k], train_data.labels[:k])
    probes = [b for b in config.batch_sizes if b <= len(noise_data.X)]
    checkpoints = sorted({round(i * config.epochs / max(config.noise_checkpoints - 1, 1))
                          for i in range(config.noise_checkpoints)})
    points = eval_points(n, B, config.evals_per_epoch)
    rows, status, done = [], "done", [0]

    def evaluation():
        return dict(val_acc=net.accuracy(val), val_cost=net.total_cost(val, lmbda=config.lmbda))

    def noise(epoch):
        for r in gradient_noise(net, noise_data, probes, config.noise_batches, noise_rng):
            rows.append(dict(kind="noise", run=run["id"], epoch=epoch, **r))

    def after_point(pos):
        if check_stop is not None:
            check_stop()
        frac = pos.epoch + pos.in_epoch / n
        rows.append(dict(kind="eval", run=run["id"], epoch=round(frac, 6), train_seconds=pos.seconds,
                         updates=pos.updates, examples=int(round(frac * n)), **evaluation()))

    def after_epoch(pos):
        done[0] = pos.epoch
        last = rows[-1]  # the evaluation at the end of this epoch
        rows.append(dict(kind="epoch", run=run["id"], epoch=pos.epoch, seconds=pos.epoch_seconds,
                         examples_per_s=n / pos.epoch_seconds, updates_per_s=-(-n // B) / pos.epoch_seconds,
                         train_cost=net.total_cost(train_data, lmbda=config.lmbda),
                         train_acc=net.accuracy(train_data), val_acc=last["val_acc"], val_cost=last["val_cost"]))
        if progress is not None:
            progress(run, pos.epoch)
        if pos.epoch in checkpoints:
            noise(pos.epoch)

    rows.append(dict(kind="eval", run=run["id"], epoch=0.0, train_seconds=0.0, updates=0, examples=0, **evaluation()))
    if 0 in checkpoints:
        noise(0)
    seconds = 0.0
    try:
        seconds = train(net, train_data, config.epochs, B, Optimizer(eta, config.lmbda),
                        order=lambda e: rng.permutation(n), points=lambda e: points, on_point=after_point,
                        on_epoch=after_epoch).seconds
    except DivergenceError:
        status = f"diverged in epoch {done[0] + 1}"
        seconds = ([r["train_seconds"] for r in rows if r["kind"] == "eval"] or [0.0])[-1]
    final = [r for r in rows if r["kind"] == "eval"][-1]
    rows.append(dict(kind="run", run=run["id"], sizes=run["sizes"], batch_size=B, eta=eta, seed=run["seed"],
                     status=status, train_seconds=seconds, wall_seconds=time.perf_counter() - started,
                     final_val_acc=final["val_acc"],
                     checksum=float(np.sum(net.params, dtype=np.float64)) if status == "done" else None))
    return rows
