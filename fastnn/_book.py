"""Machinery shared by the book-compatible modules ``fastnn.network`` and ``fastnn.network2``.

A book network wraps a float64 ``fastnn.Network`` with sigmoid neurons and
shows its parameters in the book's shapes: weights (n_out, n_in), biases
(n_out, 1). The book's data lists of (x, y) column-vector tuples are converted
once per call to contiguous arrays; the example order comes from
``random.shuffle`` on a list of indices, which consumes the random module's
state exactly as the book's ``random.shuffle(training_data)`` does and yields
the same permutation.
"""
import random

import numpy as np

from .checks import check_int
from .model import Network, ParamList
from .training import Optimizer, run


def sigmoid(z):
    """The sigmoid function."""
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """Derivative of the sigmoid function."""
    return sigmoid(z) * (1 - sigmoid(z))


class BookNetwork:
    """Base of network.Network and network2.Network (see the module docstring)."""

    def __init__(self, sizes, cost):
        self._net = Network(sizes, activation="sigmoid", cost=cost, dtype="float64", seed=0)
        self.num_layers = len(sizes)
        self.sizes = list(sizes)

    # The book draws biases first, then weights, from np.random.randn.
    def _draw(self, scaled):
        self.biases = [np.random.randn(y, 1) for y in self.sizes[1:]]
        if scaled:
            self.weights = [np.random.randn(y, x) / np.sqrt(x) for x, y in zip(self.sizes[:-1], self.sizes[1:])]
        else:
            self.weights = [np.random.randn(y, x) for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    @property
    def weights(self):
        return self._net.weights

    @weights.setter
    def weights(self, values):
        self._net.weights = values

    @property
    def biases(self):
        return ParamList(b.reshape(-1, 1) for b in self._net.biases)

    @biases.setter
    def biases(self, values):
        self._net.biases = values

    def feedforward(self, a):
        """Return the output of the network for input column a (n_in, 1), or columns (n_in, k)."""
        a = np.asarray(a)
        if a.ndim == 2 and a.shape[0] == self.sizes[0]:
            return self._net.feedforward(a.T).T
        if a.size == self.sizes[0]:
            return self._net.feedforward(a.reshape(1, -1)).reshape(-1, 1)
        raise ValueError(f"feedforward needs a column of {self.sizes[0]} inputs, got shape {a.shape}")

    def backprop(self, x, y):
        """Return (nabla_b, nabla_w), the gradient of the cost for one example, in the book's shapes."""
        nabla_b, nabla_w = self._net.backprop(x, y)
        return [b.reshape(-1, 1) for b in nabla_b], nabla_w

    def cost_derivative(self, output_activations, y):
        """dC_x/da for the quadratic cost."""
        return output_activations - y

    # ------------------------------------------------------------ data and training
    def _arrays(self, data, name):
        """fastnn.Data (X, Y, labels) for a book data list of (x, y) tuples, y a column vector or an int label."""
        if len(data) == 0:
            raise ValueError(f"{name} is empty")
        try:
            X = np.stack([np.reshape(x, -1) for x, _ in data])
            ys = [y for _, y in data]
            y = np.array(ys) if np.ndim(ys[0]) == 0 else np.stack([np.reshape(t, -1) for t in ys])
        except (TypeError, ValueError) as e:
            raise ValueError(f"{name} must be a list of (x, y) pairs of equal shapes ({e})") from None
        return self._net.check_data(X, y, name=f"{name} x")

    def _train(self, data, epochs, mini_batch_size, eta, lmbda, after_epoch):
        """The book's SGD loop over checked data; after_epoch(j) runs after each epoch, True stops."""
        epochs = check_int(epochs, "epochs", 0)
        mini_batch_size = check_int(mini_batch_size, "mini_batch_size", 1)
        order = list(range(len(data.X)))

        def shuffled(epoch):
            random.shuffle(order)
            return np.array(order, dtype=np.int64)
        run(self._net, data, epochs, mini_batch_size, Optimizer(eta, lmbda), order=shuffled,
            on_epoch=lambda pos: after_epoch(pos.epoch - 1))

    def _update(self, mini_batch, eta, lmbda, n):
        d = self._arrays(mini_batch, "mini_batch")
        self._net.train_epoch(d.X, d.Y, np.arange(len(d.X)), len(d.X), Optimizer(eta, lmbda), n)

    def _correct(self, data, name):
        d = self._arrays(data, name)
        return int(round(self._net.accuracy(d) * len(d.X)))
