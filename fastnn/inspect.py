"""Look inside a trained network: the experiments of 3Blue1Brown's video and the book's chapter 1.

- ``weight_images``: each hidden neuron's incoming weights drawn as an image of the input;
- ``confidence``: how sure the network is, on digits and on uniform noise;
- ``memorise``: the same images with true and with shuffled labels (Zhang et al., 2017);
- ``eta_sweep``: the same net at very different learning rates, divergence shown, not raised;
- ``run_inspection``: all of it for a [784,16,16,10] net (13,002 parameters), with report.md.
"""
import math
import time
import warnings
from pathlib import Path

import numpy as np

from ._figures import save_figure
from ._progress import progress_bar
from .health import StuckTrainingWarning
from .model import DivergenceError, Network
from .serialization import write_text

VIDEO_SIZES = (784, 16, 16, 10)
VIDEO_ACCURACY = 0.96


def weight_images(net, layer=0, shape=None):
    """The incoming weights of every neuron of ``layer`` as images: array (n_neurons, *shape).

    shape defaults to the square the input size makes (28x28 for 784 inputs); image j is
    row j of the layer's weight matrix, reshaped.

    Raises
    ------
    ValueError
        If layer is not a layer of weights, or its input size is not a perfect square and no shape is given.
    """
    layers = len(net.sizes) - 1
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= layer < layers:
        raise ValueError(f"layer must be the index of a layer of weights, 0 .. {layers - 1}, got {layer!r}")
    W = net.weights[layer]
    n_in = W.shape[1]
    if shape is None:
        side = int(round(math.sqrt(n_in)))
        if side * side != n_in:
            raise ValueError(f"layer {layer} has {n_in} inputs, not a square image; pass shape=(rows, cols)")
        shape = (side, side)
    if int(np.prod(shape)) != n_in:
        raise ValueError(f"shape {tuple(shape)} holds {int(np.prod(shape))} pixels but layer {layer} has {n_in} inputs")
    return np.array(W).reshape(W.shape[0], *shape)


def confidence(net, X):
    """The largest output activation per example (a softmax probability with the log-likelihood cost)."""
    return net.feedforward(X).max(axis=1).astype(np.float64)


def sweep_verdict(res):
    """What happened at one learning rate, from the accuracy curve and how far the weights moved."""
    a, change = res["accuracy"], res["weight_change"]
    if res["diverged_at"]:
        return f"diverged in epoch {res['diverged_at']} (non-finite weights)"
    gain = a[-1] - a[0]  # a[0] is before training
    if gain >= 0.2:
        return "learned"
    if change < 0.05:
        return f"barely moved: the weights changed by {change:.1%}"
    # From below chance before training to chance after epoch 1 is a gain, not learning: flat from epoch 1 on
    # at the accuracy of always answering the most common label is stuck.
    chance, trained = res.get("chance"), a[1:]
    if chance is not None and trained and max(trained) - min(trained) < 0.02 and a[-1] < chance + 0.05:
        return (f"stuck at chance: {a[-1]:.2%} accuracy from epoch 1 on (always answering the most common label "
                f"scores {chance:.2%}), though the weights changed by {change:.0%}")
    if gain < 0.05:
        return (f"stuck: the weights changed by {change:.0%} and the neurons saturated, but accuracy did not "
                f"improve")
    return "learned slowly"


def confidence_sentence(digits, noise):
    """One sentence, generated from the two median confidences, on whether noise fools the network."""
    md, mn = float(np.median(digits)), float(np.median(noise))
    ratio = mn / md if md > 0 else math.inf
    if ratio >= 0.9:
        verdict = "as sure about pure noise as about real digits"
    elif ratio >= 0.6:
        verdict = "nearly as sure about pure noise as about real digits"
    else:
        verdict = "much less sure about pure noise than about real digits"
    return (f"The network is {verdict}: its median confidence (largest output) is {mn:.3f} on uniform-noise images "
            f"and {md:.3f} on test digits (ratio {ratio:.2f}).")


def plot_weight_grid(images, path, title, cols=4):
    """Draw one set of weight images in a grid, with one diverging colour scale centred on zero for the grid."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    vmax = float(np.abs(images).max()) or 1.0
    rows = -(-len(images) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.5 * cols + 1.2, 1.5 * rows + 0.5), squeeze=False)
    im = None
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k < len(images):
            im = ax.imshow(images[k], cmap="RdBu_r", vmin=-vmax, vmax=vmax)
            ax.set_title(f"neuron {k}", fontsize=7)
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.85, label="weight")
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, Path(path).parent, Path(path).name, dpi=100, tight=False)  # the colorbar spans the grid


def memorise(X, y, X_test, y_test, sizes, epochs, batch_size, eta, seed=0, target=0.9, cost="cross_entropy"):
    """Train the same net on true labels and on labels permuted once (seeded); test accuracy uses true labels.

    Returns {"true": History, "shuffled": History, "epochs_to_target": {name: epoch or None}}.
    """
    shuffled = np.random.default_rng(seed).permutation(y)
    out = {"epochs_to_target": {}}
    for name, labels in (("true", y), ("shuffled", shuffled)):
        net = Network(sizes, cost=cost, seed=seed)
        h = net.fit(X, labels, epochs, batch_size, eta, validation_data=(X_test, y_test), seed=seed,
                    monitor=("training_cost", "training_accuracy", "validation_accuracy"))
        out[name] = h
        out["epochs_to_target"][name] = next((i + 1 for i, a in enumerate(h.training_accuracy) if a >= target), None)
    return out


def eta_sweep(X, y, X_val, y_val, sizes, etas, epochs, batch_size, seed=0, cost="quadratic", init="large"):
    """Validation accuracy per epoch for each eta; a diverging eta stops with its epoch recorded.

    Returns {eta: {"accuracy": [...], "diverged_at": epoch or None, "weight_change": ||w - w0|| / ||w0||,
    "chance": the accuracy of always answering the most common label of y_val}}; accuracy[0] is before training.
    """
    out = {}
    chance = float(np.unique(np.asarray(y_val), return_counts=True)[1].max() / len(y_val))
    for eta in etas:
        net = Network(sizes, cost=cost, init=init, seed=seed)
        start = net.params.astype(np.float64)
        rng = np.random.default_rng(seed)
        acc, diverged = [net.accuracy(X_val, y_val)], None
        for epoch in range(1, epochs + 1):
            try:
                with warnings.catch_warnings():  # the sweep goes looking for stuck etas: the verdict reports them
                    warnings.simplefilter("ignore", StuckTrainingWarning)
                    h = net.fit(X, y, 1, batch_size, eta, validation_data=(X_val, y_val), seed=int(rng.integers(2**31)))
            except DivergenceError:
                diverged = epoch
                break
            acc.append(h.validation_accuracy[-1])
        change = float(np.linalg.norm(net.params - start) / np.linalg.norm(start))
        out[eta] = {"accuracy": acc, "diverged_at": diverged, "weight_change": change, "chance": chance}
    return out


# ----------------------------------------------------------------------------- the report
def run_inspection(data, out, epochs=30, batch_size=10, eta=0.5, etas=(0.001, 0.1, 3.0, 100.0), sweep_epochs=15,
                   memorise_n=2000, memorise_width=256, memorise_epochs=60, seed=0, quiet=False, log=print,
                   command=None):
    """Run every experiment on a Dataset and write report.md and the figures into out; returns the numbers."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    started = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    X_test, y_test = (data.X_test, data.y_test) if data.X_test is not None else (data.X_val, data.y_val)
    test_name = "test" if data.X_test is not None else "held-out validation"
    steps = ["13,002-parameter net", "shuffled labels", "learning-rate sweep", "report"]
    bar = progress_bar(len(steps), quiet, unit="step")

    bar.set_description(steps[0])
    net = Network(VIDEO_SIZES, cost="cross_entropy", seed=seed)
    initial = weight_images(net, 0)
    history = net.fit(data.X_train, data.y_train, epochs, batch_size, eta, validation_data=(X_test, y_test), seed=seed)
    trained = weight_images(net, 0)
    acc = history.validation_accuracy[-1]
    log(f"[784,16,16,10] ({net.params.size:,} parameters): {acc:.2%} {test_name} accuracy after {epochs} epochs")
    figures = [plot_weight_grid(initial, out / "weight_images_initial.png", "first hidden layer at initialisation"),
               plot_weight_grid(trained, out / "weight_images_trained.png", f"after {epochs} epochs")]
    noise = np.random.default_rng(seed).random(X_test.shape)
    conf_digits, conf_noise = confidence(net, X_test), confidence(net, noise)
    sentence = confidence_sentence(conf_digits, conf_noise)
    fig, ax = plt.subplots(figsize=(7, 4))
    bins = np.linspace(0, 1, 41)
    ax.hist(conf_digits, bins=bins, alpha=0.6, density=True, label=f"{test_name} digits (median {np.median(conf_digits):.3f})")
    ax.hist(conf_noise, bins=bins, alpha=0.6, density=True, label=f"uniform noise (median {np.median(conf_noise):.3f})")
    ax.set_xlabel("confidence: largest output activation")
    ax.set_ylabel("density")
    ax.legend()
    ax.set_title("How sure is the network?")
    figures.append(save_figure(fig, out, "confidence.png"))
    bar.update(1)

    bar.set_description(steps[1])
    n = min(memorise_n, len(data.X_train))
    mem = memorise(data.X_train[:n], data.y_train[:n], X_test, y_test, (VIDEO_SIZES[0], memorise_width, 10),
                   memorise_epochs, batch_size, eta, seed)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for name, style in (("true", "-"), ("shuffled", "--")):
        h = mem[name]
        ep = np.arange(1, h.epochs + 1)
        ax1.plot(ep, h.training_cost, style, label=f"{name} labels")
        ax2.plot(ep, h.training_accuracy, style, label=f"{name} labels: training")
        ax2.plot(ep, h.validation_accuracy, style, alpha=0.5, label=f"{name} labels: {test_name}")
    ax1.set_ylabel("training cost")
    ax2.set_ylabel("accuracy")
    ax2.axhline(0.1, color="grey", lw=0.8)
    for ax in (ax1, ax2):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Memorising: {n:,} images, [784,{memorise_width},10], true against shuffled labels")
    figures.append(save_figure(fig, out, "shuffled_labels.png"))
    reached = mem["epochs_to_target"]
    log(f"shuffled labels: 90% training accuracy {when(reached['shuffled'], mem['shuffled'].epochs)} "
        f"(true labels: {when(reached['true'], mem['true'].epochs)})")
    bar.update(1)

    bar.set_description(steps[2])
    sweep = eta_sweep(data.X_train, data.y_train, X_test, y_test, (784, 30, 10), etas, sweep_epochs, batch_size,
                      seed)
    fig, ax = plt.subplots(figsize=(7, 4))
    for e, r in sweep.items():
        label = f"eta {e:g}" + (f" (diverged in epoch {r['diverged_at']})" if r["diverged_at"] else "")
        line, = ax.plot(range(len(r["accuracy"])), r["accuracy"], "o-", ms=3, label=label)
        if r["diverged_at"]:
            ax.plot(len(r["accuracy"]) - 1, r["accuracy"][-1], "x", color=line.get_color(), ms=12, mew=3)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{test_name} accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("[784,30,10], quadratic cost, large init: one net, four learning rates")
    figures.append(save_figure(fig, out, "eta_sweep.png"))
    bar.update(1)

    bar.set_description(steps[3])
    numbers = dict(accuracy=acc, test_name=test_name, epochs=epochs, conf_digits=float(np.median(conf_digits)),
                   conf_noise=float(np.median(conf_noise)), sentence=sentence, memorise=mem, memorise_n=n,
                   memorise_width=memorise_width, sweep=sweep, parameters=int(net.params.size),
                   seconds=time.perf_counter() - started)
    write_text(out / "report.md", render(numbers, data, figures, batch_size, eta, command))
    bar.update(1)
    bar.close()
    return numbers


def when(epoch, epochs):
    """'after 12 epochs' for a target reached in epoch 12 (1-based), else 'not reached within {epochs} epochs'."""
    return f"after {epoch} epoch{'s' if epoch != 1 else ''}" if epoch else f"not reached within {epochs} epochs"


def render(r, data, figures, batch_size, eta, command):
    mem = r["memorise"]
    e90 = mem["epochs_to_target"]
    t, s = mem["true"], mem["shuffled"]
    lines = ["# Look inside a trained network", ""]
    if data.is_offline_default:
        lines += [f"> **{data.description}**", ""]
    else:
        lines += [f"Data: {data.description}.", ""]
    lines += [
        "## The 13,002-parameter network", "",
        f"[784,16,16,10], sigmoid, cross-entropy, {r['epochs']} epochs, batch {batch_size}, eta {eta:g}, trained on "
        f"{len(data.X_train):,} images: **{r['accuracy']:.2%}** {r['test_name']} accuracy ({r['parameters']:,} "
        f"weights and biases). 3Blue1Brown's video quotes about {VIDEO_ACCURACY:.0%} on MNIST's 10,000 test digits "
        f"with 60,000 training images.", "",
        "## What the first hidden layer learned", "",
        "Each square is one hidden neuron's 784 incoming weights drawn as a 28x28 image (red positive, blue "
        "negative; one colour scale per grid, so the neurons of a grid can be compared). The initial weights "
        "are noise; the trained ones are not the tidy edge detectors one might hope for either.", "",
        "| at initialisation | after training |", "|---|---|",
        f"| ![initial weights]({figures[0]}) | ![trained weights]({figures[1]}) |", "",
        "## Confidence on noise", "", r["sentence"], "", "![confidence](confidence.png)", "",
        "## Memorising shuffled labels", "",
        f"{r['memorise_n']:,} training images, [784,{r['memorise_width']},10], the same settings, once with true "
        f"labels and once with the labels permuted (seeded). 90% training accuracy: true labels "
        f"{when(e90['true'], t.epochs)}, shuffled labels {when(e90['shuffled'], s.epochs)}. Training cost after "
        f"the first and last "
        f"epoch: true {t.training_cost[0]:.3f} -> {t.training_cost[-1]:.3f}, shuffled {s.training_cost[0]:.3f} -> "
        f"{s.training_cost[-1]:.3f}. Final {r['test_name']} accuracy (true labels): {t.validation_accuracy[-1]:.2%} "
        f"for the net trained on true labels, {s.validation_accuracy[-1]:.2%} for the one trained on shuffled "
        f"labels (chance: 10%). Final training accuracy: {t.training_accuracy[-1]:.2%} and "
        f"{s.training_accuracy[-1]:.2%}.", "", "![shuffled labels](shuffled_labels.png)", "",
        "## The learning-rate lesson (chapter 1)", "",
        "| eta | accuracy after epoch 1 | final accuracy | weights moved | what happened |", "|---|---|---|---|---|"]
    for e, res in r["sweep"].items():
        a = res["accuracy"]
        lines.append(f"| {e:g} | {a[1] if len(a) > 1 else float('nan'):.2%} | {a[-1]:.2%} | "
                     f"{res['weight_change']:.1%} | {sweep_verdict(res)} |")
    lines += ["", "![learning-rate sweep](eta_sweep.png)", ""]
    if command:
        lines += [f"Command: `{command}`; one run, {r['seconds']:.0f} s for the experiments (data loading not "
                  f"counted).", ""]
    return "\n".join(lines)
