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
from ..model import Network
from ..registry import DTYPES


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
