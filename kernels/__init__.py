"""Numba kernels of fastnn: compiled numeric code over flat arrays, no Python objects.

See ``layout`` for the parameter buffer, ``forward``, ``backprop`` and ``sgd``
for the algorithms, ``gemm`` for the blocked matrix products they spend their
time in, ``codes`` for the activation and cost codes.
"""
from .backprop import accumulate_gradient
from .codes import (CROSS_ENTROPY, LOG_LIKELIHOOD, QUADRATIC, RELU, SIGMOID,
                    SOFTMAX, TANH)
from .costs import total_cost
from .forward import accuracy, feedforward, predict
from .layout import param_offsets
from .sgd import minibatch_epoch, online_epoch
from .noise import minibatch_gradient_spread
from .parallel import hogwild_epoch, minibatch_epoch_parallel
