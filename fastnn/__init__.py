"""fastnn: fully-connected feedforward networks trained by Numba-compiled SGD epochs.

    import fastnn
    net = fastnn.Network([784, 30, 10], cost="cross_entropy", seed=1)
    history = net.fit(X, y, epochs=10, batch_size=10, eta=0.5, validation_data=(X_val, y_val))

Book-compatible modules: ``fastnn.network`` and ``fastnn.network2``.
"""
from .health import StuckTrainingWarning
from .datasets import (DataFileError, DataUnavailable, load_book_pickle, load_dataset, load_fashion_mnist,
                       load_idx, load_mnist, load_npz)
from .model import Data, DivergenceError, History, Network, load
from .serialization import ModelFileError
from .training import Optimizer

__version__ = "0.1.0"
__all__ = ["Network", "History", "Data", "Optimizer", "DivergenceError", "StuckTrainingWarning", "ModelFileError",
           "DataFileError", "DataUnavailable", "load", "load_idx", "load_mnist", "load_fashion_mnist", "load_npz",
           "load_book_pickle", "load_dataset"]
