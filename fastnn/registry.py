"""Registries mapping the user's names to the kernels' integer codes."""
import numpy as np

from . import kernels

ACTIVATIONS = {"sigmoid": kernels.SIGMOID, "tanh": kernels.TANH, "relu": kernels.RELU}
COSTS = {
    "quadratic": kernels.QUADRATIC,
    "cross_entropy": kernels.CROSS_ENTROPY,
    "log_likelihood": kernels.LOG_LIKELIHOOD,
}
# The output layer's activation for each cost; None means "the hidden activation".
OUTPUT_ACTIVATIONS = {"quadratic": None, "cross_entropy": kernels.SIGMOID, "log_likelihood": kernels.SOFTMAX}
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
