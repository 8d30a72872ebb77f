"""The learning-rate search: for one batch size, the eta of a fixed grid with the best held-out accuracy.

Batch sizes without a given learning rate get theirs from ``search_eta``, before
any run of the study starts; the choices and every eta's score are recorded in
study.json.
"""
import numpy as np

from ..model import Data, Network
from ..training import DivergenceError, Optimizer, run


def search_eta(data, sizes, batch_size, config):
    """Pick eta for one batch size: the eta of config.eta_grid with the best held-out accuracy.

    Trains from seed 0 for config.search_epochs on a random 80% of the training set (fixed
    seed) and scores on the other 20% (never on the validation set the study reports). A
    diverging eta scores -1. Ties go to the smaller eta. Returns (eta, {eta: accuracy}).
    """
    perm = np.random.default_rng(12345).permutation(len(data["X"]))
    X, Y, labels = data["X"][perm], data["Y"][perm], data["labels"][perm]
    k = int(len(X) * 0.8)
    fit, held_out = Data(X[:k], Y[:k], labels[:k]), Data(X[k:], Y[k:], labels[k:])
    scores = {}
    for eta in sorted(config.eta_grid):
        net = Network(sizes, activation=config.activation, cost=config.cost, dtype=config.dtype, seed=0)
        rng = np.random.default_rng(0)
        try:
            run(net, fit, config.search_epochs, batch_size, Optimizer(eta, config.lmbda),
                order=lambda e: rng.permutation(k))
            scores[eta] = net.accuracy(held_out)
        except DivergenceError:
            scores[eta] = -1.0
    best = max(scores.values())
    return min(e for e, s in scores.items() if s == best), scores
