"""Numba kernels of fastnn: compiled numeric code over flat arrays, no Python objects.

Installed as ``fastnn.kernels``. See ``layout`` for the parameter buffer, ``forward``,
``backprop``, ``update`` (the update rules) and ``sgd`` (one epoch per call) for the
algorithms, ``gemm`` for the blocked matrix products they spend their time in (and the routes that send the large
ones to BLAS, per kind of CPU), ``denormals`` for the flush to zero every kernel sets while it runs, ``parallel``
for one thread's share of a multi-threaded epoch, ``codes`` for the activation, cost and
update-rule codes; ``cache`` keys Numba's cache of every kernel by all of their source files.
"""
from . import cache  # noqa: F401 -- first: keys the cache before any kernel is compiled or loaded
from .backprop import accumulate_gradient
from .codes import (CROSS_ENTROPY, IDENTITY, LOG_LIKELIHOOD, MOMENTUM, NESTEROV, QUADRATIC, RELU, SGD, SIGMOID,
                    SOFTMAX, TANH)
from .costs import squared_weights, total_cost
from .forward import accuracy, feedforward, predict
from .layout import param_offsets
from .noise import minibatch_gradient_spread
from .sgd import minibatch_epoch, online_epoch
