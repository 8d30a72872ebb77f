"""What is fixed before the grid runs: the targets (given, or set by a pilot) and each batch size's eta.

Both are recorded in study.json as soon as they are known, so a resumed study reuses them
(tuning is recorded batch size by batch size, and an interrupted tuning goes on where it
stopped). Tuning tasks run in this process or, one batch size per task, on the study's Dask
cluster.
"""
import math

import numpy as np

from .config import StudyError, arms
from .tuning import pilot, split, tune_eta


def tuning_split(config, data):
    """(train, held_out): the training set split as tuning and the pilot use it."""
    return split(data["X"], data["Y"], data["labels"], config.held_out)


def budget(config, n_fit, batch_size, n_train):
    """Examples a tuning or pilot run of batch_size may train for on the n_fit examples of the tuning split: as
    many epochs as a run of the study on its n_train."""
    return config.epochs_for(batch_size, n_train) * n_fit


def fix_targets(config, data, meta, log):
    """Fill meta["targets"] (and meta["pilot"]) unless already there; returns the targets."""
    if "targets" in meta:
        return meta["targets"]
    if config.targets is not None:
        meta["targets"], meta["pilot"] = sorted(config.targets), None
        return meta["targets"]
    train, held = tuning_split(config, data)
    sizes = config.sizes[0]
    grid = sorted(config.eta_grid)
    etas = grid[1::3] if len(grid[1::3]) >= 3 else grid  # every third: a coarse look
    p = pilot(train, held, sizes, config.pilot_batch_size, etas,
              budget(config, len(train.X), config.pilot_batch_size, len(data["X"])),
              config.target_fractions, activation=config.activation, cost=config.cost, dtype=config.dtype,
              lmbda=config.lmbda, evals=config.evals_first_epoch)
    if p["eta"] is None:
        raise StudyError(f"the pilot learned nothing: no eta of {etas} lifted held-out accuracy above chance "
                         f"({p['chance']:.1%}) with batch size {config.pilot_batch_size}; give --targets")
    log(f"pilot (batch {p['batch_size']}, eta {p['eta']:g}): best held-out accuracy {p['best']:.4f}, chance "
        f"{p['chance']:.4f}; targets {', '.join(f'{t:.4f}' for t in p['targets'])}")
    meta["targets"], meta["pilot"] = p["targets"], p
    return meta["targets"]


def tune_task(item, config, target, data):
    """Tune one (optimizer, sizes, batch size): the entry of study.json's tuning list (see ``tune_eta``)."""
    opt, sizes, b, guess = item
    train, held = tuning_split(config, data)
    best, scores, budgets, accuracy = tune_eta(train, held, list(sizes), b, config.eta_grid, target,
                                     budget(config, len(train.X), b, len(data["X"])),
                                     seeds=config.tune_seeds,
                                     activation=config.activation, cost=config.cost, dtype=config.dtype,
                                     lmbda=config.lmbda, evals=config.evals_first_epoch, optimizer=opt,
                                     momentum=config.momentum, guess=guess)
    return dict(optimizer=opt, sizes=list(sizes), batch_size=b, eta=best, target=target,
                scores={f"{e:g}": [None if math.isinf(v) else v for v in vs] for e, vs in scores.items()},
                budgets={f"{e:g}": vs for e, vs in budgets.items()},
                best_accuracy={f"{e:g}": vs for e, vs in accuracy.items()})


def fix_etas(config, data, meta, cluster, save, log, check_stop):
    """Fill meta["etas"] and meta["tuning"], tuning the batch sizes without a given eta; returns
    {(optimizer, sizes tuple, batch size): eta}. save() is called after each batch size."""
    meta.setdefault("tuning", [])
    done = {(t["optimizer"], tuple(t["sizes"]), t["batch_size"]): t for t in meta["tuning"]}
    targets = meta["targets"]
    target = targets[len(targets) // 2]
    pilot_eta = (meta.get("pilot") or {}).get("eta")
    todo = []
    for opt, sizes in arms(config):
        for b in config.batch_sizes:
            if b in config.etas or (opt, sizes, b) in done:
                continue
            guess = pilot_eta * b / config.pilot_batch_size if pilot_eta else None
            todo.append((opt, sizes, b, guess))
    if todo:
        log(f"tuning eta for {len(todo)} batch size(s) on the held-out {config.held_out:.0%} of the training set "
            f"(target {target:.4f}, {len(config.eta_grid)} etas from {min(config.eta_grid):g} to "
            f"{max(config.eta_grid):g}, tuning seeds {list(config.tune_seeds)})")
    for entry in _map(tune_task, todo, (config, target), data, cluster, check_stop):
        meta["tuning"].append(entry)
        done[(entry["optimizer"], tuple(entry["sizes"]), entry["batch_size"])] = entry
        if entry["eta"] is None:
            log(f"tuning batch {entry['batch_size']}: no eta reached {target:.4f} within the budget; its runs "
                f"use the eta that came closest, {fallback_eta(entry):g}")
        else:
            log(f"tuning {entry['optimizer']} {entry['sizes']} batch {entry['batch_size']}: eta = {entry['eta']:g}")
        save()
    etas = {}
    for opt, sizes in arms(config):
        for b in config.batch_sizes:
            if b in config.etas:
                etas[(opt, sizes, b)] = float(config.etas[b])
            else:
                etas[(opt, sizes, b)] = fallback_eta(done[(opt, sizes, b)])
    meta["etas"] = [dict(optimizer=k[0], sizes=list(k[1]), batch_size=k[2], eta=v,
                         source="given" if k[2] in config.etas else "tuned") for k, v in etas.items()]
    return etas


def fallback_eta(entry):
    """The tuned eta; for a batch size where no eta reached the target, the one whose tuning runs
    came closest (the highest median best held-out accuracy; ties to the smaller eta)."""
    if entry["eta"] is not None:
        return entry["eta"]
    acc = {float(e): float(np.median(v)) for e, v in entry["best_accuracy"].items() if v}
    return min(acc, key=lambda e: (-acc[e], e))


def _map(fn, items, args, data, cluster, check_stop):
    if cluster is None:
        for item in items:
            check_stop()
            yield fn(item, *args, data)
        return
    for item, result in cluster.map(fn, items, args, data, lambda it: f"tune-{it[0]}-b{it[2]}", check_stop):
        if isinstance(result, Exception):
            raise StudyError(f"tuning batch size {item[2]} failed on a worker: {type(result).__name__}: {result}")
        yield result
