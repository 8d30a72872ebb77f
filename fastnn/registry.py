"""Registries mapping the user's names to the kernels' integer codes: one dict per kind of name."""
from typing import NamedTuple

import numpy as np

from . import kernels


class Cost(NamedTuple):
    """A cost function: its kernel code, the output layer's activation code (None: the hidden
    layers' activation) and the class name the book's network2 uses for it in model files."""

    code: int
    output: int
    book_name: str


ACTIVATIONS = {"sigmoid": kernels.SIGMOID, "tanh": kernels.TANH, "relu": kernels.RELU, "identity": kernels.IDENTITY}
# The output layer's activation comes with the cost: the quadratic cost uses the hidden layers' own
# (the book's networks), or the identity (a regression network's linear output: delta^L = a - y).
# Costs the book lacks get class names the book's network2.load refuses, rather than misreads.
COSTS = {
    "quadratic": Cost(kernels.QUADRATIC, None, "QuadraticCost"),
    "quadratic_identity": Cost(kernels.QUADRATIC, kernels.IDENTITY, "QuadraticIdentityCost"),
    "cross_entropy": Cost(kernels.CROSS_ENTROPY, kernels.SIGMOID, "CrossEntropyCost"),
    "log_likelihood": Cost(kernels.LOG_LIKELIHOOD, kernels.SOFTMAX, "LogLikelihoodCost"),
}
# Update rules. Network.fit selects one from momentum and nesterov; the study and the CLI by name.
OPTIMIZERS = {"sgd": kernels.SGD, "momentum": kernels.MOMENTUM, "nesterov": kernels.NESTEROV}
INITS = ("default", "large")
DTYPES = {"float32": np.dtype(np.float32), "float64": np.dtype(np.float64)}
MONITORS = ("training_cost", "training_accuracy", "validation_cost", "validation_accuracy")


def lookup(registry, name, what):
    """registry[name], or a ValueError that lists the valid names."""
    key = np.dtype(name).name if what == "dtype" and not isinstance(name, str) else name
    try:
        return registry[key]
    except (KeyError, TypeError):
        raise ValueError(f"unknown {what} {name!r}; choose one of {', '.join(map(repr, registry))}") from None


def activation_name(code):
    """The name of an activation code: a key of ACTIVATIONS, or "softmax" (output layers only)."""
    names = {c: name for name, c in ACTIVATIONS.items()} | {kernels.SOFTMAX: "softmax"}
    return names[code]


def cost_from_book_name(book_name):
    """The cost's name for a class name of the book's network2 ("CrossEntropyCost"), or None."""
    return next((name for name, c in COSTS.items() if c.book_name == book_name), None)
