"""Why deep nets are hard to train: per-layer gradient norms, as in chapter 5 of the book.

The book measures the "speed of learning" of layer l as ||delta^l||, the norm of
the bias gradient dC/db^l averaged over the training examples, and finds it
smaller in earlier hidden layers of a sigmoid net (the vanishing gradient).
In a chain of one-neuron layers the reason is visible:

    dC/db_1 = sigma'(z_1) * (w_2 sigma'(z_2)) * (w_3 sigma'(z_3)) * ... * dC/da_L

Each factor w_j sigma'(z_j) is below 1/4 in size for |w_j| < 1 (sigma' <= 1/4), so
the gradient shrinks layer by layer; with w_j = 100 and every z_j = 0 each factor
is 25 and the gradient explodes.
"""
import time
from dataclasses import dataclass, field

import numpy as np

from ._figures import save_figure
from .checks import check_int
from .model import Network
from .serialization import write_text
from .training import DivergenceError, Optimizer, Position, run


def layer_gradient_norms(net, X, y):
    """Norms of the cost gradient per layer of weights, hidden layers first, output layer last.

    Parameters
    ----------
    net : fastnn.Network
    X : array (n, sizes[0])
    y : labels (n,) or targets (n, sizes[-1])

    Returns
    -------
    bias_norms, weight_norms : float64 arrays of length len(sizes) - 1
        ||dC/db^l|| (the book's ||delta^l||) and the Frobenius norm ||dC/dw^l||, of the
        gradient averaged over the examples, computed in one compiled call over all of X.
    """
    nabla_b, nabla_w = net.gradient(X, y)
    return _norms(nabla_b, nabla_w)


def _norms(nabla_b, nabla_w):
    return (np.array([np.linalg.norm(b.astype(np.float64)) for b in nabla_b]),
            np.array([np.linalg.norm(w.astype(np.float64)) for w in nabla_w]))


@dataclass
class NormHistory:
    """Per-layer gradient norms recorded during training: one row per record, one column per layer."""

    epochs: list = field(default_factory=list)
    bias_norms: list = field(default_factory=list)
    weight_norms: list = field(default_factory=list)
    seconds: float = 0.0
    diverged_at: int = None

    def arrays(self):
        return np.array(self.epochs), np.array(self.bias_norms), np.array(self.weight_norms)


def train_recording_norms(net, X, y, epochs, batch_size, eta, lmbda=0.0, every=1, seed=None):
    """Train by SGD and record the per-layer gradient norms over (X, y) before training and every ``every`` epochs.

    With batch_size >= len(X) this is the book's batch gradient descent: one update per
    epoch from the gradient over all of X. The norms come from a separate pass over X
    after the epoch. Training stops (diverged_at set, the last finite weights kept) if the
    weights stop being finite.

    Returns
    -------
    NormHistory
    """
    d = net.check_data(X, y)
    epochs = check_int(epochs, "epochs", 0)
    batch_size = check_int(batch_size, "batch_size", 1)
    every = check_int(every, "every", 1)
    optimizer = Optimizer(eta, lmbda)
    n = len(d.X)
    rng = net.shuffle_generator(seed)
    hist = NormHistory()
    done = [0]  # epochs finished
    t0 = time.perf_counter()

    def record(pos):
        done[0] = pos.epoch
        if pos.epoch % every == 0:
            b, w = _norms(*net.split(net.gradient_sum(d) / n))
            hist.epochs.append(pos.epoch)
            hist.bias_norms.append(b)
            hist.weight_norms.append(w)

    record(Position(n))
    full_batch = batch_size >= n
    try:
        run(net, d, epochs, min(batch_size, n), optimizer, order=None if full_batch else (lambda e: rng.permutation(n)),
            on_epoch=record)
    except DivergenceError:
        hist.diverged_at = done[0] + 1
    hist.seconds = time.perf_counter() - t0
    return hist


# ----------------------------------------------------------------------------- one-neuron chains
@dataclass
class Chain:
    """A chain of one-neuron sigmoid layers, one input x, the quadratic cost against target y.

    weights[j], biases[j], z[j], a[j] belong to neuron j+1 (neuron 1 gets the input x);
    factors[j] = w_{j+2} sigma'(z_{j+2}), one per neuron after the first;
    bias_gradients[j] = dC/db_{j+1}, first neuron first, from fastnn's backprop kernel.
    """

    weights: np.ndarray
    biases: np.ndarray
    x: float
    y: float
    z: np.ndarray
    a: np.ndarray
    factors: np.ndarray
    bias_gradients: np.ndarray
    net: Network


def _chain(weights, biases, x, y):
    depth = len(weights)
    net = Network([1] * (depth + 1), activation="sigmoid", cost="quadratic", dtype="float64")
    net.weights = [np.array([[w]]) for w in weights]
    net.biases = [np.array([b]) for b in biases]
    z, a, prev = [], [], x
    for w, b in zip(weights, biases):
        z.append(w * prev + b)
        prev = 1.0 / (1.0 + np.exp(-z[-1]))
        a.append(prev)
    z, a = np.array(z), np.array(a)
    sigma_prime = a * (1 - a)
    nabla_b, _ = net.backprop(np.array([x]), np.array([y]))
    return Chain(np.asarray(weights, float), np.asarray(biases, float), x, y, z, a,
                 np.asarray(weights[1:]) * sigma_prime[1:], np.array([g[0] for g in nabla_b]), net)


def exploding_chain(depth, x=1.0, y=0.0, w=100.0):
    """The book's exploding gradient: every weight w (100), biases chosen so every z is 0.

    Then sigma'(z) = 1/4 and every factor w sigma'(z) = 25: dC/db grows 25x per layer
    going back towards the input.
    """
    depth = check_int(depth, "depth", 2)
    biases = [-w * x] + [-w * 0.5] * (depth - 1)  # z_1 = w x + b_1 = 0; then a = sigma(0) = 1/2
    return _chain([w] * depth, biases, x, y)


def vanishing_chain(depth, seed=None, x=1.0, y=0.0):
    """A chain with weights and biases drawn from N(0, 1), as the book's default-ish init: factors are small."""
    depth = check_int(depth, "depth", 2)
    rng = np.random.default_rng(seed)
    return _chain(list(rng.standard_normal(depth)), list(rng.standard_normal(depth)), x, y)


# ----------------------------------------------------------------------------- the chapter-5 experiment
BOOK_INITIAL_NORMS = {2: (0.07, 0.31), 3: (0.012, 0.060, 0.283), 4: (0.003, 0.017, 0.070, 0.285)}


def initial_norms(X, y, hidden_layers, activation="sigmoid", seeds=range(10), width=30, dtype="float64"):
    """Bias-gradient norms of every layer at initialisation, one row per seed (cross-entropy, default init)."""
    sizes = [X.shape[1]] + [width] * hidden_layers + [int(np.max(y)) + 1]
    return np.array([layer_gradient_norms(Network(sizes, activation=activation, cost="cross_entropy",
                                                  dtype=dtype, seed=s), X, y)[0] for s in seeds])


def run_experiment(X, y, out, activations=("sigmoid", "relu", "tanh"), depths=(2, 3, 4), seeds=range(10),
                   epochs=500, batch_size=1000, eta=0.1, lmbda=5.0, every=1, log=print, command=None):
    """Chapter 5 reproduced: initial norms over seeds, norms during training, figures and report.md in out.

    command, when given, is the command line that made the report; report.md ends with it, so that a number
    quoted from the report can be traced to what produced it.
    """
    from pathlib import Path
    started = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for act in activations:
        for depth in depths:
            init = initial_norms(X, y, depth, act, seeds)
            net = Network([X.shape[1]] + [30] * depth + [int(np.max(y)) + 1], activation=act,
                          cost="cross_entropy", dtype="float32", seed=list(seeds)[0])
            hist = train_recording_norms(net, X, y, epochs, batch_size, eta, lmbda, every)
            results[(act, depth)] = dict(initial=init, history=hist)
            log(f"{act} {depth} hidden: initial ||delta|| per hidden layer "
                + ", ".join(f"{m:.3g}" for m in init.mean(axis=0)[:-1])
                + f"; {epochs} epochs in {hist.seconds:.1f} s" + (f" (diverged at epoch {hist.diverged_at})"
                                                                   if hist.diverged_at else ""))
    figures = write_figures(results, out, activations, depths)
    write_text(out / "report.md", render(results, activations, depths, figures, len(X), list(seeds), epochs,
                                         batch_size, eta, lmbda, command, time.perf_counter() - started))
    return results


def write_figures(results, out, activations, depths):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    files = []
    for act in activations:
        fig, axes = plt.subplots(1, len(depths), figsize=(4.2 * len(depths), 3.8), sharey=True)
        for ax, depth in zip(np.atleast_1d(axes), depths):
            epochs, b, _ = results[(act, depth)]["history"].arrays()
            for l in range(depth):
                ax.semilogy(epochs, b[:, l], label=f"hidden layer {l + 1}")
            ax.set_title(f"{depth} hidden layers")
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3, which="both")
        np.atleast_1d(axes)[0].set_ylabel("||delta^l|| (speed of learning)")
        np.atleast_1d(axes)[-1].legend(fontsize=8)
        fig.suptitle(f"Speed of learning per hidden layer, {act} neurons")
        files.append(save_figure(fig, out, f"speed_of_learning_{act}.png"))

        fig, axes = plt.subplots(1, len(depths), figsize=(4.2 * len(depths), 3.6), sharey=True)
        for ax, depth in zip(np.atleast_1d(axes), depths):
            init = results[(act, depth)]["initial"][:, :-1]
            pos = np.arange(depth)
            ax.bar(pos, init.mean(axis=0), yerr=init.std(axis=0), capsize=3, color="tab:blue", alpha=0.8)
            if act == "sigmoid" and depth in BOOK_INITIAL_NORMS:
                ax.plot(pos, BOOK_INITIAL_NORMS[depth], "rD", label="the book (one seed)")
                ax.legend(fontsize=8)
            ax.set_xticks(pos, [f"hidden {l + 1}" for l in range(depth)])
            ax.set_yscale("log")
            ax.set_title(f"{depth} hidden layers")
            ax.grid(alpha=0.3, axis="y", which="both")
        np.atleast_1d(axes)[0].set_ylabel("initial ||delta^l|| (mean, std over seeds)")
        fig.suptitle(f"Initial speed of learning, {act} neurons")
        files.append(save_figure(fig, out, f"initial_norms_{act}.png"))
    return files


def render(results, activations, depths, figures, n, seeds, epochs, batch_size, eta, lmbda, command=None,
           seconds=None):
    lines = ["# Why deep nets are hard to train: gradient norms per layer", "",
             f"‖delta^l‖ = norm of the bias gradient of hidden layer l averaged over {n:,} training images, "
             f"at initialisation (cross-entropy cost, default init, hidden layers of 30), mean ± standard deviation "
             f"over {len(seeds)} seeds; the book's numbers are for one network.", "",
             "| activation | hidden layers | fastnn: ‖delta^1‖, ‖delta^2‖, ... | the book | ratio first/last "
             "hidden |", "|---|---|---|---|---|"]
    for act in activations:
        for depth in depths:
            init = results[(act, depth)]["initial"][:, :-1]
            cells = ", ".join(f"{m:.3g} ± {s:.2g}" for m, s in zip(init.mean(axis=0), init.std(axis=0)))
            book = ", ".join(map(str, BOOK_INITIAL_NORMS[depth])) if act == "sigmoid" else "-"
            ratio = init.mean(axis=0)[0] / init.mean(axis=0)[-1]
            lines.append(f"| {act} | {depth} | {cells} | {book} | {ratio:.3g} |")
    lines += ["", f"Training: {epochs} epochs, batch size {batch_size}, eta {eta:g}, lmbda {lmbda:g}; norms "
              f"recorded every epoch.", ""]
    for act in activations:
        for depth in depths:
            h = results[(act, depth)]["history"]
            _, b, _ = h.arrays()
            lines.append(f"- {act}, {depth} hidden: {h.seconds:.1f} s; final ||delta|| per hidden layer "
                         + ", ".join(f"{v:.3g}" for v in b[-1][:-1])
                         + (f"; diverged at epoch {h.diverged_at}" if h.diverged_at else ""))
    lines.append("")
    lines += [f"![{f}]({f})" for f in figures]
    if command:
        lines += ["", f"Command: `{command}`" + (f"; one run, {seconds:.0f} s for the experiments (data loading not "
                                                 f"counted)." if seconds is not None else ".")]
    return "\n".join(lines) + "\n"
