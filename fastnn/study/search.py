"""The learning-rate search: for one batch size, the eta of a fixed grid with the best held-out accuracy.

Batch sizes without a given learning rate get theirs from ``search_eta``, before
any run of the study starts; the choices and every eta's score are recorded in
study.json.
"""
import numpy as np

from .. import kernels
from ..model import DivergenceError, Network


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
