"""A plain NumPy version of the book's algorithms, written for clarity, not speed.

Follows network2.py: per-example backprop, gradients summed over a mini-batch,
then the update w <- (1 - eta*lmbda/n) w - (eta/m) nabla_w. Extended with
tanh/ReLU/identity, the softmax/log-likelihood output, the identity output with the quadratic cost
(regression), classical momentum and Nesterov's momentum, exactly as fastnn documents them
(fastnn/kernels/update.py). Weights are lists of (n_out, n_in) arrays, biases lists of (n_out,)
arrays, examples are 1-D vectors.
"""
import numpy as np


def sigma(z, name):
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "identity":
        return z
    if name == "softmax":
        e = np.exp(z - z.max())
        return e / e.sum()
    raise ValueError(name)


def sigma_prime(z, name):
    if name == "sigmoid":
        s = sigma(z, "sigmoid")
        return s * (1 - s)
    if name == "tanh":
        return 1 - np.tanh(z) ** 2
    if name == "relu":
        return (z > 0).astype(float)
    if name == "identity":
        return np.ones_like(z)
    raise ValueError(name)


def output_activation(activation, cost):
    return {"quadratic": activation, "quadratic_identity": "identity", "cross_entropy": "sigmoid",
            "log_likelihood": "softmax"}[cost]


def cost_fn(a, y, cost):
    if cost in ("quadratic", "quadratic_identity"):
        return 0.5 * np.sum((a - y) ** 2)
    if cost == "cross_entropy":
        return np.sum(-y * np.log(a) - (1 - y) * np.log(1 - a))
    if cost == "log_likelihood":
        return -np.sum(y * np.log(a))
    raise ValueError(cost)


def feedforward(weights, biases, x, activation, cost):
    a = x
    for l, (w, b) in enumerate(zip(weights, biases)):
        last = l == len(weights) - 1
        a = sigma(w @ a + b, output_activation(activation, cost) if last else activation)
    return a


def backprop(weights, biases, x, y, activation, cost):
    """Return (nabla_b, nabla_w) for one example, as the book's backprop does."""
    out_act = output_activation(activation, cost)
    activations, zs = [x], []
    a = x
    for l, (w, b) in enumerate(zip(weights, biases)):
        z = w @ a + b
        zs.append(z)
        a = sigma(z, out_act if l == len(weights) - 1 else activation)
        activations.append(a)
    if cost in ("quadratic", "quadratic_identity"):
        delta = (activations[-1] - y) * sigma_prime(zs[-1], out_act)
    else:
        delta = activations[-1] - y
    nabla_b = [None] * len(weights)
    nabla_w = [None] * len(weights)
    nabla_b[-1] = delta
    nabla_w[-1] = np.outer(delta, activations[-2])
    for l in range(2, len(weights) + 1):
        delta = (weights[-l + 1].T @ delta) * sigma_prime(zs[-l], activation)
        nabla_b[-l] = delta
        nabla_w[-l] = np.outer(delta, activations[-l - 1])
    return nabla_b, nabla_w


def sgd_epoch(weights, biases, X, Y, order, batch_size, eta, activation, cost,
              lmbda=0.0, mu=0.0, vw=None, vb=None, nesterov=False, losses=None, sample_weight=None):
    """One epoch over X[order] in mini-batches; returns new (weights, biases, vw, vb).

    sample_weight: example i's cost (its loss and its gradients) times sample_weight[i], as given.

    With mu > 0: v <- mu v - (eta/m) nabla - (eta lmbda/n) w (no L2 term for biases), then
    w <- w + v (classical momentum) or w <- w + mu v - (eta/m) nabla - (eta lmbda/n) w (Nesterov).
    losses: a list to which the cost of every example is appended, at the weights before its
    mini-batch's update (the epochs' loss curve).
    """
    n = len(order)
    weights = [w.copy() for w in weights]
    biases = [b.copy() for b in biases]
    vw = [np.zeros_like(w) for w in weights] if vw is None else [v.copy() for v in vw]
    vb = [np.zeros_like(b) for b in biases] if vb is None else [v.copy() for v in vb]
    for start in range(0, n, batch_size):
        batch = order[start:start + batch_size]
        m = len(batch)
        nb = [np.zeros_like(b) for b in biases]
        nw = [np.zeros_like(w) for w in weights]
        for i in batch:
            w_i = 1.0 if sample_weight is None else sample_weight[i]
            if losses is not None:
                losses.append(w_i * cost_fn(feedforward(weights, biases, X[i], activation, cost), Y[i], cost))
            db, dw = backprop(weights, biases, X[i], Y[i], activation, cost)
            db, dw = [w_i * d for d in db], [w_i * d for d in dw]
            nb = [a + d for a, d in zip(nb, db)]
            nw = [a + d for a, d in zip(nw, dw)]
        if mu == 0.0:
            weights = [(1 - eta * (lmbda / n)) * w - (eta / m) * g for w, g in zip(weights, nw)]
            biases = [b - (eta / m) * g for b, g in zip(biases, nb)]
        else:
            step_w = [(eta / m) * g + (eta * lmbda / n) * w for g, w in zip(nw, weights)]
            step_b = [(eta / m) * g for g in nb]
            vw = [mu * v - s for v, s in zip(vw, step_w)]
            vb = [mu * v - s for v, s in zip(vb, step_b)]
            if nesterov:
                weights = [w + mu * v - s for w, v, s in zip(weights, vw, step_w)]
                biases = [b + mu * v - s for b, v, s in zip(biases, vb, step_b)]
            else:
                weights = [w + v for w, v in zip(weights, vw)]
                biases = [b + v for b, v in zip(biases, vb)]
    return weights, biases, vw, vb


def total_cost(weights, biases, X, Y, activation, cost, lmbda=0.0):
    n = len(X)
    c = sum(cost_fn(feedforward(weights, biases, x, activation, cost), y, cost) for x, y in zip(X, Y)) / n
    return c + 0.5 * (lmbda / n) * sum(np.sum(w ** 2) for w in weights)
