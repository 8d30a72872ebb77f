"""Integer codes for activations and costs, and the fastmath flags every kernel uses.

Kernels switch on these small integers instead of receiving functions, because
passing jitted functions as arguments breaks ``cache=True`` (numba issue 2956).
"""

SIGMOID = 0
TANH = 1
RELU = 2
SOFTMAX = 3  # output layer only, with the log-likelihood cost

QUADRATIC = 0
CROSS_ENTROPY = 1
LOG_LIKELIHOOD = 2

# Every fast-math flag except "nnan" and "ninf": with those two LLVM may assume
# no NaN or inf ever appears, and the divergence checks would mean nothing.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
