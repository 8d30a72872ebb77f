"""The book's algorithm as its network.py runs it: a Python loop over examples, NumPy per example (float64).

Same maths as fastnn's sigmoid/quadratic kernels: per-example backprop on column
vectors, gradients summed over the mini-batch, then one update per mini-batch.
"""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def epoch(weights, biases, X, Y, order, batch_size, eta):
    """One epoch over X[order]; weights (n_out, n_in) and biases (n_out, 1) lists are updated in place."""
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        nabla_b = [np.zeros(b.shape) for b in biases]
        nabla_w = [np.zeros(w.shape) for w in weights]
        for i in batch:
            activation = X[i].reshape(-1, 1)
            activations, zs = [activation], []
            for b, w in zip(biases, weights):
                z = np.dot(w, activation) + b
                zs.append(z)
                activation = sigmoid(z)
                activations.append(activation)
            delta = (activations[-1] - Y[i].reshape(-1, 1)) * activations[-1] * (1 - activations[-1])
            nabla_b[-1] += delta
            nabla_w[-1] += np.dot(delta, activations[-2].T)
            for l in range(2, len(weights) + 1):
                a = activations[-l]
                delta = np.dot(weights[-l + 1].T, delta) * a * (1 - a)
                nabla_b[-l] += delta
                nabla_w[-l] += np.dot(delta, activations[-l - 1].T)
        m = len(batch)
        for w, nw in zip(weights, nabla_w):
            w -= (eta / m) * nw
        for b, nb in zip(biases, nabla_b):
            b -= (eta / m) * nb
