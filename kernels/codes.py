"""Integer codes for activations, costs and update rules, and the fastmath flags every kernel uses.

Kernels switch on these small integers instead of receiving functions, because
passing jitted functions as arguments breaks ``cache=True`` (numba issue 2956).
Every switch ends in an error for a code it does not know.
"""

SIGMOID = 0
TANH = 1
RELU = 2
SOFTMAX = 3  # output layer only, with the log-likelihood cost
IDENTITY = 4  # sigma(z) = z: a regression network's output layer (or a linear hidden layer)

QUADRATIC = 0
CROSS_ENTROPY = 1
LOG_LIKELIHOOD = 2

SGD = 0  # the book's rule
MOMENTUM = 1  # classical momentum
NESTEROV = 2  # Nesterov's accelerated gradient, in Sutskever et al.'s (2013) form

# The optimizer's hyper-parameters travel together in one small array ``hyper`` of the
# parameters' dtype: hyper[ETA] = eta, hyper[DECAY] = eta*lmbda/n (the L2 weight decay of
# one update), hyper[MU] = the momentum coefficient.
ETA, DECAY, MU = 0, 1, 2
N_HYPER = 3

# Every fast-math flag except "nnan" and "ninf": with those two LLVM may assume
# no NaN or inf ever appears, and the divergence checks would mean nothing.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
