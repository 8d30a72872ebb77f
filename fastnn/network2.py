"""Drop-in replacement for the book's network2.py (chapter 3).

    import fastnn.network2 as network2
    net = network2.Network([784, 30, 10], cost=network2.CrossEntropyCost)
    evaluation_cost, evaluation_accuracy, training_cost, training_accuracy = net.SGD(
        training_data, 30, 10, 0.5, lmbda=5.0, evaluation_data=validation_data,
        monitor_evaluation_accuracy=True)

Same classes, methods, prints, return values, JSON files and numbers as the
book's module; the epoch runs in compiled code (float64). ``load`` reads only
the book's two cost classes by name (an allow-list, never ``getattr``).
"""
import numpy as np

from . import serialization
from ._book import BookNetwork, sigmoid, sigmoid_prime
from .model import Network as _FastNetwork


class QuadraticCost:
    @staticmethod
    def fn(a, y):
        """Cost of output a against desired output y."""
        return 0.5 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        """Error delta from the output layer."""
        return (a - y) * sigmoid_prime(z)


class CrossEntropyCost:
    @staticmethod
    def fn(a, y):
        """Cost of output a against desired output y (np.nan_to_num handles log(0))."""
        return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        """Error delta from the output layer."""
        return a - y


COSTS = {"quadratic": QuadraticCost, "cross_entropy": CrossEntropyCost}


def _cost_name(cost):
    """The kernels' name of a cost class: this module's two, or a class whose fn and delta give theirs' values
    (the book's own classes) on a probe; the name alone is not enough, as the kernels compute the cost."""
    for name, known in COSTS.items():
        if cost is known or _same_cost(cost, known):
            return name
    raise ValueError(f"cost must be QuadraticCost or CrossEntropyCost, or a class whose fn and delta compute the "
                     f"same (the compiled kernels implement only these two; custom costs are not supported), got "
                     f"{cost!r}")


def _same_cost(cost, known):
    """Whether cost.fn and cost.delta give known's values on a probe of 10 outputs (the book's shapes)."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((10, 1))
    a, y = sigmoid(z), vectorized_result(3)
    try:
        with np.errstate(all="ignore"):
            return bool(np.allclose(cost.fn(a, y), known.fn(a, y), rtol=1e-12, atol=0)
                        and np.allclose(cost.delta(z, a, y), known.delta(z, a, y), rtol=1e-12, atol=0))
    except Exception:  # anything the probe makes a user's class raise: it is not one of the two
        return False


class Network(BookNetwork):
    """The book's chapter-3 network, with a choice of cost and weight initialisation."""

    def __init__(self, sizes, cost=CrossEntropyCost):
        super().__init__(sizes, _cost_name(cost))
        self._cost_class = cost
        self.default_weight_initializer()

    @property
    def cost(self):
        return self._cost_class

    @cost.setter
    def cost(self, cost):
        name = _cost_name(cost)
        self._net = _with_cost(self._net, name)
        self._cost_class = cost

    def default_weight_initializer(self):
        """Weights ~ N(0, 1/n_in), biases ~ N(0, 1)."""
        self._draw(scaled=True)

    def large_weight_initializer(self):
        """Weights and biases ~ N(0, 1), as in chapter 1."""
        self._draw(scaled=False)

    def SGD(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0, evaluation_data=None,
            monitor_evaluation_cost=False, monitor_evaluation_accuracy=False,
            monitor_training_cost=False, monitor_training_accuracy=False, early_stopping_n=0):
        """Train by mini-batch SGD with L2 regularisation.

        Returns (evaluation_cost, evaluation_accuracy, training_cost, training_accuracy),
        one entry per epoch for each quantity monitored; accuracies are counts.
        """
        training_data = list(training_data)
        n = len(training_data)
        train = self._arrays(training_data, "training_data")
        if evaluation_data:
            evaluation_data = list(evaluation_data)
            n_data = len(evaluation_data)
            ev = self._arrays(evaluation_data, "evaluation_data")
        elif monitor_evaluation_cost or monitor_evaluation_accuracy:
            raise ValueError("monitoring the evaluation cost or accuracy needs evaluation_data")
        evaluation_cost, evaluation_accuracy = [], []
        training_cost, training_accuracy = [], []
        state = {"best": 0, "no_change": 0}
        net = self._net

        def after_epoch(j):
            print("Epoch %s training complete" % j)
            if monitor_training_cost:
                cost = net.total_cost(train, lmbda=lmbda)
                training_cost.append(cost)
                print("Cost on training data: {}".format(cost))
            if monitor_training_accuracy:
                accuracy = int(round(net.accuracy(train) * n))
                training_accuracy.append(accuracy)
                print("Accuracy on training data: {} / {}".format(accuracy, n))
            if monitor_evaluation_cost:
                cost = net.total_cost(ev, lmbda=lmbda)
                evaluation_cost.append(cost)
                print("Cost on evaluation data: {}".format(cost))
            if monitor_evaluation_accuracy:
                accuracy = int(round(net.accuracy(ev) * n_data))
                evaluation_accuracy.append(accuracy)
                print("Accuracy on evaluation data: {} / {}".format(accuracy, n_data))
            print()
            if early_stopping_n > 0:
                if not monitor_evaluation_accuracy:
                    raise ValueError("early_stopping_n needs monitor_evaluation_accuracy=True")
                if evaluation_accuracy[-1] > state["best"]:
                    state["best"], state["no_change"] = evaluation_accuracy[-1], 0
                else:
                    state["no_change"] += 1
                if state["no_change"] == early_stopping_n:  # the book's print of this is commented out
                    return True
            return False

        self._train(train, epochs, mini_batch_size, eta, lmbda, after_epoch)
        return evaluation_cost, evaluation_accuracy, training_cost, training_accuracy

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        """One gradient-descent step on mini_batch, with L2 regularisation for a training set of size n."""
        self._update(list(mini_batch), eta, lmbda, n)

    def accuracy(self, data, convert=False):
        """Number of inputs in data for which the network outputs the correct result.

        y may be a label or a one-hot vector; the format is detected from the data,
        so ``convert`` (the book's flag for which format it is) is accepted but not needed.
        """
        return self._correct(list(data), "data")

    def total_cost(self, data, lmbda, convert=False):
        """Mean cost over data plus the L2 term; y may be a label or a vector (see accuracy)."""
        return self._net.total_cost(self._arrays(list(data), "data"), lmbda=lmbda)

    def save(self, filename):
        """Save the network to filename as JSON, in the book's format (written atomically)."""
        serialization.check_finite(self._net)
        doc = serialization.model_dict(self.sizes, self.weights, self._net.biases, self._net.cost)
        data = serialization.json.dumps(doc).encode()
        serialization.atomic_write(filename, lambda f: f.write(data))


def _with_cost(net, cost):
    new = _FastNetwork(net.sizes, activation="sigmoid", cost=cost, dtype="float64", seed=0)
    new.params[:] = net.params
    return new


def load(filename):
    """Load a network saved by save (or by the book's network2.save); returns a network2.Network."""
    sizes, weights, biases, meta = serialization.read_json_model(filename)
    if meta["activation"] != "sigmoid" or meta["cost"] not in ("quadratic", "cross_entropy"):
        raise serialization.ModelFileError(
            f"{filename}: network2 supports sigmoid neurons with the quadratic or cross-entropy cost; this file "
            f"has {meta['activation']} and {meta['cost']} (use fastnn.load)")
    net = Network(sizes, cost=COSTS[meta["cost"]])
    net.weights = weights
    net.biases = biases
    return net


def vectorized_result(j, n=10):
    """A (n, 1) unit vector with 1.0 in the j-th position."""
    e = np.zeros((n, 1))
    e[j] = 1.0
    return e


__all__ = ["Network", "QuadraticCost", "CrossEntropyCost", "load", "vectorized_result", "sigmoid", "sigmoid_prime"]
