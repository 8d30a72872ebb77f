"""Drop-in replacement for the book's network.py (chapter 1).

    import fastnn.network as network   # instead of: import network
    net = network.Network([784, 30, 10])
    net.SGD(training_data, 30, 10, 3.0, test_data=test_data)

Same class, methods, prints and numbers (seeded with ``np.random.seed`` and
``random.seed`` as the book's scripts are); the epoch runs in compiled code.
Sigmoid neurons, quadratic cost, float64. As in the Python 3 versions of the
book's code, SGD shuffles a copy of the order, not the caller's list.
"""
from ._book import BookNetwork, sigmoid, sigmoid_prime  # noqa: F401  (book names)


class Network(BookNetwork):
    """The book's chapter-1 network: weights and biases drawn from N(0, 1)."""

    def __init__(self, sizes):
        super().__init__(sizes, "quadratic")
        self._draw(scaled=False)

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None):
        """Train by mini-batch stochastic gradient descent; with test_data, print its accuracy each epoch."""
        train = self._arrays(list(training_data), "training_data")
        if test_data:
            test_data = list(test_data)
            n_test = len(test_data)
            test = self._arrays(test_data, "test_data")

        def after_epoch(j):
            if test_data:
                correct = int(round(self._net.accuracy(test) * n_test))
                print("Epoch {0}: {1} / {2}".format(j, correct, n_test))
            else:
                print("Epoch {0} complete".format(j))

        self._train(train, epochs, mini_batch_size, eta, 0.0, after_epoch)

    def update_mini_batch(self, mini_batch, eta):
        """One gradient-descent step on the list of (x, y) tuples mini_batch."""
        self._update(list(mini_batch), eta, 0.0, 1)

    def evaluate(self, test_data):
        """Number of test inputs (x, label) for which the network outputs the correct label."""
        return self._correct(list(test_data), "test_data")
