"""PyTorch eager mode, hand-written backprop (no autograd), one thread: the same mini-batch SGD as fastnn.

Sigmoid neurons, quadratic cost, any dtype. Batch size 1 is online learning, one example at a time.
torch.set_num_threads(1) sets the intra-op pool; the benchmarks also pin every thread of the process
to one CPU (bench/conftest.py::one_cpu), because thread settings alone left JAX on two cores
(bench/peers/jax_scan.py has the numbers), and a pin leaves no doubt about any library's pools.
"""
import numpy as np
import torch

torch.set_num_threads(1)


def to_torch(weights, biases):
    return [torch.from_numpy(w) for w in weights], [torch.from_numpy(b) for b in biases]


@torch.no_grad()
def epoch(weights, biases, X, Y, order, batch_size, eta):
    """One epoch over X[order]; weights (n_out, n_in) and biases (n_out,) are torch tensors, updated in place."""
    order = torch.from_numpy(np.asarray(order))
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        A = [X[batch]]
        for w, b in zip(weights, biases):
            A.append(torch.sigmoid(torch.addmm(b, A[-1], w.T)))
        delta = (A[-1] - Y[batch]) * A[-1] * (1 - A[-1])
        step = eta / len(batch)
        for l in range(len(weights) - 1, -1, -1):
            grad_w = delta.T @ A[l]
            grad_b = delta.sum(dim=0)
            if l > 0:
                delta = (delta @ weights[l]) * A[l] * (1 - A[l])
            weights[l].sub_(grad_w, alpha=step)
            biases[l].sub_(grad_b, alpha=step)
