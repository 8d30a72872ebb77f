"""Backprop against centred finite differences and against the NumPy reference."""
import numpy as np
import pytest

import fastnn
from conftest import make_data
from fastnn.kernels import gemm
from fastnn.registry import ACTIVATIONS, COSTS
import reference as ref

ACTS = list(ACTIVATIONS)
DEPTHS = {1: [6, 5, 3], 2: [6, 5, 4, 3], 3: [6, 5, 4, 5, 3], 4: [6, 4, 5, 4, 5, 3]}


@pytest.mark.parametrize("depth", sorted(DEPTHS))
@pytest.mark.parametrize("cost", COSTS)
@pytest.mark.parametrize("activation", ACTS)
def test_gradient_matches_centred_finite_differences(activation, cost, depth):
    net = fastnn.Network(DEPTHS[depth], activation=activation, cost=cost, dtype="float64", seed=depth)
    X, y = make_data(8, 6, 3, seed=depth)
    nabla_b, nabla_w = net.gradient(X, y)
    analytic = np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(nabla_w, nabla_b)])
    numeric = np.empty_like(net.params)
    h = 1e-5
    for i in range(len(net.params)):
        keep = net.params[i]
        net.params[i] = keep + h
        up = net.total_cost(X, y)
        net.params[i] = keep - h
        down = net.total_cost(X, y)
        net.params[i] = keep
        numeric[i] = (up - down) / (2 * h)
    rel = np.linalg.norm(analytic - numeric) / np.linalg.norm(analytic + numeric)
    assert rel < 1e-6, rel


@pytest.mark.parametrize("cost", COSTS)
@pytest.mark.parametrize("activation", ACTS)
def test_backprop_matches_reference_per_example(activation, cost):
    net = fastnn.Network([7, 6, 5, 4], activation=activation, cost=cost, dtype="float64", seed=3)
    X, y = make_data(5, 7, 4, seed=4)
    for x, label in zip(X, y):
        target = np.eye(4)[label]
        nabla_b, nabla_w = net.backprop(x, label)
        rb, rw = ref.backprop(net.weights, net.biases, x, target, activation, cost)
        for a, b in zip(nabla_b + nabla_w, rb + rw):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_gradient_over_many_blocks_matches_reference():
    # 600 examples: the kernel sums the gradient over blocks of 256 (kernels.forward.CHUNK), the bias gradient
    # along the rows of the deltas from 32 examples (backprop.column_sums), and adds each block to the ones before
    # (the last one of 88 examples); on an AVX2 machine 70 neurons of 20 inputs take register tiles, 70 of 70
    # BLAS in float64 (both BLAS on an AVX-512 one).
    on = gemm.AVX2_ROUTES
    assert gemm.add_outer_takes_tiles_on(on, 256, 70, 20, 8) and gemm.add_outer_takes_blas_on(on, 256, 70, 70, 8)
    net = fastnn.Network([20, 70, 70, 3], dtype="float64", seed=8)
    X, y = make_data(600, 20, 3, seed=9)
    nabla_b, nabla_w = net.gradient(X, y)
    want_b = [np.zeros_like(b) for b in nabla_b]
    want_w = [np.zeros_like(w) for w in nabla_w]
    for x, label in zip(X, y):
        rb, rw = ref.backprop(net.weights, net.biases, x, np.eye(3)[label], "sigmoid", "cross_entropy")
        for acc, g in zip(want_b + want_w, rb + rw):
            acc += g / len(X)
    for got, want in zip(nabla_b + nabla_w, want_b + want_w):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert max(np.abs(b).max() for b in nabla_b) > 1e-3  # a real gradient, not zeros
