"""One epoch of the compiled kernels against the plain NumPy reference (tests/reference.py)."""
import numba
import numpy as np
import pytest

from numba import njit

import fastnn
from fastnn import kernels
from fastnn.blas import blas_threads as fastnn_blas_threads
from conftest import make_data
import reference as ref
from fastnn.kernels import gemm
from fastnn.kernels.vmath import exp_nonpositive


def flat(weights, biases):
    return np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(weights, biases)])


def epochs_vs_reference(sizes, activation, cost, batch_size, lmbda, momentum, epochs=2, n=45, eta=0.7,
                        nesterov=False, data=None, dtype="float64", sample_weight=None, threads=1):
    """(fastnn's params, the reference's) after the epochs; data: (X, labels or targets), default random labels.
    The reference runs in float64 from fastnn's first weights, whatever fastnn's dtype. sample_weight: fastnn
    gets it as given, the reference scaled to a mean of 1 (as ``Network.check_data`` scales it)."""
    net = fastnn.Network(sizes, activation=activation, cost=cost, dtype=dtype, seed=11)
    X, y = make_data(n, sizes[0], sizes[-1], seed=12) if data is None else data
    W, B = [w.astype(np.float64) for w in net.weights], [b.astype(np.float64) for b in net.biases]
    net.fit(X, y, epochs, batch_size, eta, lmbda=lmbda, momentum=momentum, nesterov=nesterov, shuffle=False,
            sample_weight=sample_weight, threads=threads)
    Y = np.eye(sizes[-1])[y] if y.ndim == 1 else y
    s = None if sample_weight is None else sample_weight * (n / np.sum(sample_weight))
    vw = vb = None
    for _ in range(epochs):  # the velocity carries over between epochs of one fit
        W, B, vw, vb = ref.sgd_epoch(W, B, X, Y, np.arange(n), batch_size, eta, activation, cost, lmbda, momentum,
                                     vw, vb, nesterov=nesterov, sample_weight=s)
    return net.params, flat(W, B)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("lmbda", [0.0, 2.0])
@pytest.mark.parametrize("batch_size", [1, 7, 20, 45])
@pytest.mark.parametrize("cost", ["quadratic", "cross_entropy"])
def test_epoch_matches_reference_sigmoid(cost, batch_size, lmbda, momentum):
    got, want = epochs_vs_reference([10, 8, 6, 4], "sigmoid", cost, batch_size, lmbda, momentum)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


@pytest.mark.parametrize("batch_size", [1, 7])
@pytest.mark.parametrize("activation,cost", [("tanh", "quadratic"), ("relu", "log_likelihood"),
                                             ("tanh", "log_likelihood"), ("relu", "cross_entropy")])
def test_epoch_matches_reference_other_activations(activation, cost, batch_size):
    # eta 0.2: with tanh, momentum 0.5 and eta 0.7 this little net is chaotic (a 1e-15 change of the
    # start moves the weights by 1e-10 after two epochs), so no two summation orders agree to 1e-10.
    got, want = epochs_vs_reference([10, 8, 6, 4], activation, cost, batch_size, 1.0, 0.5, eta=0.2)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


@pytest.mark.parametrize("lmbda", [0.0, 2.0])
@pytest.mark.parametrize("batch_size", [1, 7, 45])
@pytest.mark.parametrize("activation,cost", [("sigmoid", "cross_entropy"), ("tanh", "quadratic"),
                                             ("relu", "log_likelihood")])
def test_nesterov_epoch_matches_reference(activation, cost, batch_size, lmbda):
    got, want = epochs_vs_reference([10, 8, 6, 4], activation, cost, batch_size, lmbda, 0.9, eta=0.2, nesterov=True)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
    # and it is not classical momentum under another name
    classical, _ = epochs_vs_reference([10, 8, 6, 4], activation, cost, batch_size, lmbda, 0.9, eta=0.2)
    assert np.abs(got - classical).max() > 1e-4


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
@pytest.mark.parametrize("batch_size", [1, 7, 45])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_identity_output_epoch_matches_reference_on_real_valued_targets(activation, batch_size, momentum, nesterov):
    # The regression network (MLPRegressor's): a linear output layer, delta^L = a - y, targets of any sign.
    rng = np.random.default_rng(12)
    X, Y = rng.random((45, 10)), 2.0 * rng.standard_normal((45, 3))
    got, want = epochs_vs_reference([10, 8, 3], activation, "quadratic_identity", batch_size, 1.0, momentum, eta=0.05,
                                    nesterov=nesterov, data=(X, Y))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("batch_size", [1, 7, 45])
@pytest.mark.parametrize("activation,cost,targets", [
    ("sigmoid", "quadratic", "one-hot"), ("sigmoid", "cross_entropy", "one-hot"), ("tanh", "cross_entropy", "soft"),
    ("relu", "log_likelihood", "one-hot"), ("relu", "log_likelihood", "soft"), ("relu", "quadratic_identity", "real")])
@pytest.mark.parametrize("weighted", [False, True])
def test_epoch_loss_is_the_mean_cost_of_each_example_at_the_weights_it_saw(activation, cost, targets, batch_size,
                                                                           momentum, weighted):
    # History.loss, which the kernels add up as they go, against the reference replayed step by step: the cost
    # of every example before its update (before its mini-batch's), averaged over each epoch; weighted: each
    # example's cost times its weight (scaled to a mean of 1), which the log costs take with a log per term.
    rng = np.random.default_rng(5)
    w = rng.uniform(0.0, 3.0, 45) if weighted else None
    s = None if w is None else w * (45 / w.sum())
    X = rng.random((45, 10))
    if targets == "one-hot":
        Y = np.eye(4)[rng.integers(0, 4, 45)]
    elif targets == "soft":  # targets strictly between 0 and 1 take their logs one by one
        Y = rng.uniform(0.05, 0.95, (45, 4))
        if cost == "log_likelihood":
            Y /= Y.sum(axis=1, keepdims=True)
    else:
        Y = 2.0 * rng.standard_normal((45, 4))
    net = fastnn.Network([10, 8, 6, 4], activation=activation, cost=cost, dtype="float64", seed=11)
    W, B = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    history = net.fit(X, Y, 2, batch_size, 0.2, lmbda=1.0, momentum=momentum, shuffle=False, sample_weight=w)
    vw = vb = None
    for epoch in range(2):
        losses = []
        W, B, vw, vb = ref.sgd_epoch(W, B, X, Y, np.arange(45), batch_size, 0.2, activation, cost, 1.0, momentum,
                                     vw, vb, losses=losses, sample_weight=s)
        assert len(losses) == 45
        assert history.loss[epoch] == pytest.approx(np.mean(losses), rel=0, abs=1e-10)
    np.testing.assert_allclose(net.params, flat(W, B), rtol=0, atol=1e-10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cost", ["cross_entropy", "log_likelihood"])
def test_epoch_loss_clips_saturated_outputs_as_scikit_learn_does(cost, dtype):
    # Huge weights saturate the outputs to exactly 0 and 1: the loss is -ln(eps) per wrong output, not inf.
    net = fastnn.Network([2, 3], cost=cost, dtype=dtype, seed=0)
    net.weights = [np.array([[1e4, 0.0], [-1e4, 0.0], [-1e4, 0.0]])]
    net.biases = [np.zeros(3)]
    d = net.check_data(np.array([[1.0, 0.0]]), np.array([1]))  # the output says class 0, surely
    loss = net.train_epoch(d.X, d.Y, np.arange(1), 1, 1e-30)
    eps = np.finfo(dtype).eps
    wrong = 2 if cost == "cross_entropy" else 1  # sigmoid: a_0 = 1 where y = 0, a_1 = 0 where y = 1
    assert np.isfinite(loss) and loss == pytest.approx(-wrong * np.log(eps), rel=1e-6)


def test_remainder_batch_uses_its_real_size():
    # 45 examples in batches of 20: the last batch has 5 examples and must be divided by 5, not 20.
    got, want = epochs_vs_reference([5, 4, 3], "sigmoid", "quadratic", 20, 0.0, 0.0, epochs=1)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
    net = fastnn.Network([5, 4, 3], cost="quadratic", dtype="float64", seed=11)
    X, y = make_data(45, 5, 3, seed=12)
    W, B = net.weights, net.biases
    wrong, _, _, _ = ref.sgd_epoch(W, B, X[:40], np.eye(3)[y[:40]], np.arange(40), 20, 0.7, "sigmoid", "quadratic")
    assert not np.allclose(got, flat(wrong, B), atol=1e-6)


def test_one_sgd_step_worked_by_hand():
    # sizes [1, 1], w = 0.5, b = 0, x = 1, y = 1, quadratic cost, eta = 1:
    # z = 0.5, a = sigmoid(0.5) = 0.6224593312018546, sigma'(z) = a(1 - a) = 0.2350037122015945,
    # delta = (a - y) sigma'(z) = -0.3775406688 * 0.2350037122 = -0.0887234587; w <- w - eta delta x, b <- b - eta delta.
    net = fastnn.Network([1, 1], cost="quadratic", dtype="float64")
    net.weights = [np.array([[0.5]])]
    net.biases = [np.array([0.0])]
    net.fit(np.array([[1.0]]), np.array([[1.0]]), 1, 1, 1.0, shuffle=False)
    assert net.weights[0][0, 0] == pytest.approx(0.5887234587, abs=1e-10)
    assert net.biases[0][0] == pytest.approx(0.0887234587, abs=1e-10)


@pytest.mark.parametrize("cost", ["quadratic", "cross_entropy", "log_likelihood"])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_inference_matches_reference(activation, cost):
    net = fastnn.Network([9, 7, 5], activation=activation, cost=cost, dtype="float64", seed=2)
    X, y = make_data(300, 9, 5, seed=3)  # more than one 256-row chunk
    out = np.array([ref.feedforward(net.weights, net.biases, x, activation, cost) for x in X])
    np.testing.assert_allclose(net.feedforward(X), out, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(net.predict(X), out.argmax(axis=1))
    assert net.accuracy(X, y) == np.mean(out.argmax(axis=1) == y)
    want = ref.total_cost(net.weights, net.biases, X, np.eye(5)[y], activation, cost, lmbda=3.0)
    assert net.total_cost(X, y, lmbda=3.0) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("activation,cost", [("relu", "quadratic_identity"), ("sigmoid", "log_likelihood")])
def test_a_rows_output_does_not_depend_on_the_rows_computed_with_it(activation, cost):
    # float32, where a different summation order shows: one row at a time, in blocks of 6 and of 7, and
    # in 256-row chunks with a single row left over (n = 257) give the same bits.
    net = fastnn.Network([20, 30, 3], activation=activation, cost=cost, dtype="float32", seed=1)
    X = np.random.default_rng(2).standard_normal((257, 20)).astype(np.float32)
    full = net.feedforward(X)
    np.testing.assert_array_equal(np.concatenate([net.feedforward(X[i:i + 1]) for i in range(257)]), full)
    np.testing.assert_array_equal(np.concatenate([net.feedforward(X[i:i + 7]) for i in range(0, 257, 7)]), full)
    np.testing.assert_array_equal(np.concatenate([net.feedforward(X[i:i + 6]) for i in range(0, 257, 6)]), full)
    np.testing.assert_array_equal([net.predict(X[i:i + 1])[0] for i in range(257)], full.argmax(axis=1))
    np.testing.assert_array_equal(net.predict(X), full.argmax(axis=1))


@pytest.mark.parametrize("batch_size", [10, 40])
def test_float32_agrees_with_float64(batch_size):
    # Same initial weights (rounded to float32), 2 epochs of 300 examples at batch 10 on [20, 15, 5].
    # float32 carries ~7 significant digits; each of the 60 updates adds a relative round-off of about
    # 1e-7 per weight, and sigmoid nets of this size are not chaotic over so few steps, so the weights
    # should agree to ~1e-5; we allow 1e-4 (absolute, weights are O(1)). On an AVX2 machine the updates take
    # register tiles (kernels.tiles) in both dtypes at batch 40, the loops at batch 10; BLAS on an AVX-512 one.
    for itemsize in (4, 8):
        assert gemm.add_outer_takes_tiles_on(gemm.AVX2_ROUTES, batch_size, 15, 20, itemsize) == (batch_size == 40)
    X, y = make_data(300, 20, 5, seed=5)
    n64 = fastnn.Network([20, 15, 5], dtype="float64", seed=6)
    n32 = fastnn.Network([20, 15, 5], dtype="float32", seed=6)
    n64.params[:] = n32.params
    for net in (n32, n64):
        net.fit(X, y, 2, batch_size, 0.5, lmbda=1.0, momentum=0.5, seed=7)
    assert n32.params.dtype == np.float32
    np.testing.assert_allclose(n32.params, n64.params, rtol=0, atol=1e-4)
    assert abs(np.max(np.abs(n32.params - n64.params))) > 0  # float32 really ran in float32
    np.testing.assert_allclose(n32.feedforward(X), n64.feedforward(X), atol=1e-4)


# Shapes that hit every remainder of the blocking: rows not a multiple of 4 (linear) or 3 (add_outer),
# an odd number of examples, fewer than 4 examples, 1, 2 or 3 examples after the groups of 4, more inputs than one
# k-chunk (kernels.gemm.KC) and more examples than one block of linear (kernels.gemm.EB); the register tiles of
# add_outer in float32 (kernels.tiles: from 32 examples, up to 128 rows below 100 examples, 64 from there), with rows not a multiple of 6 and
# columns not a multiple of 16 (masked tiles), and more examples than one block of tiles (kernels.gemm.TILE_BLOCK);
# two above the BLAS thresholds: (40, 130, 80) takes BLAS in add_outer only, (520, 260, 70) in linear, in
# add_outer and in add_outer with D transposed; and (40, 150, 30), more rows than the tiles' limit but fewer
# columns than BLAS_COLUMNS: tiles both ways (test_gemm_shapes_cover_every_path checks which); and (530, 40, 100),
# whose forward product takes the tiles over transposed weights on an AVX-512 CPU (given the scratch).
GEMM_SHAPES = [(1, 1, 1), (2, 3, 5), (7, 10, 9), (20, 30, 784), (5, 4, 600), (13, 31, 257), (45, 6, 50),
               (6, 8, 33), (33, 13, 270), (90, 101, 100), (40, 130, 80), (520, 260, 70), (40, 150, 30),
               (530, 40, 100)]


def gemm_paths(dtype, routes):
    """For each of GEMM_SHAPES: the routes of linear, add_outer and add_outer with D transposed, under routes."""
    size = np.dtype(dtype).itemsize

    def route(m, n, K):
        if gemm.add_outer_takes_tiles_on(routes, m, n, K, size):
            return "tiles"
        return "BLAS" if gemm.add_outer_takes_blas_on(routes, m, n, K, size) else "loops"
    def forward(m, n, K):
        if gemm.linear_takes_tiles_on(routes, m, n):
            return "tiles"
        return "BLAS" if gemm.linear_takes_blas_on(routes, m, n, K, size) else "loops"
    return [(forward(m, n, K), route(m, n, K), route(n, m, K)) for m, n, K in GEMM_SHAPES]


def test_this_machine_takes_the_routes_of_its_vector_width():
    avx512 = gemm.host_has_avx512()
    zen4 = gemm.host_cpu_name() in ("znver3", "znver4")  # with AVX-512 (see gemm.host_routes)
    avx2 = gemm.ZEN1_ROUTES if gemm.host_cpu_name() == "znver1" else gemm.AVX2_ROUTES
    assert gemm.ROUTES == (avx2 if not avx512 else gemm.ZEN4_ROUTES if zen4 else gemm.AVX512_ROUTES)
    assert gemm.add_outer_takes_blas(10, 30, 784, 4) == avx512  # batch 10's update: BLAS only with AVX-512
    assert gemm.linear_takes_blas(100, 1000, 784, 4) == avx512
    assert gemm.add_outer_takes_tiles(100, 30, 784, 4)  # the first layer of [784, 30, 10] at batch 100: both
    assert gemm.linear_takes_tiles(1000, 30) == avx512  # its forward product at batch 1000: tiles only with AVX-512
    assert kernels.tiles.columns(4) == (32 if avx512 else 16)  # two vectors of 64 or 32 bytes


def test_gemm_shapes_cover_every_path_on_avx2():
    on = gemm.AVX2_ROUTES
    loops = ("loops",) * 3
    tiles_only = ("loops", "tiles", "loops")
    narrow = ("loops", "tiles", "tiles")
    assert gemm_paths("float32", on) == [loops] * 6 + [tiles_only, loops, tiles_only] + [
        ("loops", "tiles", "BLAS"), ("loops", "BLAS", "tiles"), ("BLAS", "BLAS", "BLAS"), narrow,
        ("loops", "tiles", "BLAS")]
    assert gemm_paths("float64", on) == [loops] * 6 + [tiles_only, loops, tiles_only] + [
        ("loops", "BLAS", "BLAS"), ("loops", "BLAS", "tiles"), ("BLAS", "BLAS", "BLAS"), narrow,
        ("loops", "tiles", "BLAS")]
    assert not any(gemm.linear_takes_tiles_on(on, m, n) for m in (512, 1000, 10_000) for n in (16, 30, 63))
    tiles, blas, linear_blas = (gemm.add_outer_takes_tiles_on, gemm.add_outer_takes_blas_on,
                                gemm.linear_takes_blas_on)
    # the benchmark shapes, float32: the first layer's update takes tiles from 32 examples up to 64 rows,
    # up to 128 rows below 100 examples, and BLAS above; linear goes to BLAS from 200 examples and 64 rows
    for width in (30, 64):
        assert not tiles(on, 20, width, 784, 4) and tiles(on, 32, width, 784, 4)
        assert tiles(on, 1000, width, 784, 4) and not blas(on, 1000, width, 784, 4)
    assert tiles(on, 32, 100, 784, 4) and tiles(on, 99, 128, 784, 4)
    assert not tiles(on, 99, 129, 784, 4) and blas(on, 99, 129, 784, 4)
    assert blas(on, 100, 65, 784, 4) and blas(on, 1000, 100, 784, 4)
    assert not tiles(on, 100, 300, 784, 4) and blas(on, 32, 300, 784, 4)
    # float64 takes tiles up to 40 rows (the first layer of [784,30,10] from 32 examples, output layers of 10),
    # and [784,100,10]'s first layer goes to BLAS from 32 examples
    assert tiles(on, 32, 30, 784, 8) and tiles(on, 1000, 10, 100, 8)
    assert not tiles(on, 20, 30, 784, 8) and tiles(on, 100, 40, 784, 8)
    assert not tiles(on, 100, 41, 784, 8) and blas(on, 100, 41, 784, 8)
    assert not blas(on, 31, 100, 784, 8) and blas(on, 32, 100, 784, 8)
    # fewer columns than BLAS_COLUMNS: tiles up to 200 rows in both dtypes, BLAS above
    assert tiles(on, 32, 200, 63, 8) and not tiles(on, 32, 200, 64, 8)
    assert blas(on, 1000, 201, 30, 4) and not blas(on, 1000, 201, 15, 4)
    # from 32 examples and 16 columns one of the two takes the product, never both, never the loops
    for m, n, K in [(32, 1, 16), (32, 49, 63), (100, 10_000, 16), (32, 129, 64), (1000, 300, 100), (32, 41, 784), (32, 201, 63)]:
        for itemsize in (4, 8):
            assert tiles(on, m, n, K, itemsize) != blas(on, m, n, K, itemsize)
    assert not linear_blas(on, 1000, 63, 784, 4) and not linear_blas(on, 199, 1000, 784, 4)
    assert linear_blas(on, 200, 64, 784, 4) and linear_blas(on, 1000, 100, 784, 4)


def test_gemm_shapes_cover_every_path_on_avx512():
    # the tiles (64-byte vectors there) within the same limits as on AVX2; what they leave goes to BLAS from
    # 6 examples and 16 columns; the forward product to BLAS from 50 examples into 64 neurons, and to the tiles
    # over transposed weights from 512 examples into 30 to 63 neurons (bench/routes-avx512.md, bench/ab-avx512-tiles.md)
    on = gemm.AVX512_ROUTES
    loops, blas = ("loops",) * 3, ("loops", "BLAS", "BLAS")
    tiles_blas = ("loops", "tiles", "BLAS")
    assert gemm_paths("float32", on) == [loops] * 3 + [blas, loops, blas, tiles_blas, blas, tiles_blas] + [
        ("BLAS", "tiles", "BLAS"), ("loops", "BLAS", "tiles"), ("BLAS",) * 3, ("loops", "tiles", "tiles"),
        ("tiles", "tiles", "BLAS")]
    assert gemm_paths("float64", on) == [loops] * 3 + [blas, loops, blas, tiles_blas, blas, tiles_blas] + [
        ("BLAS",) * 3, ("loops", "BLAS", "tiles"), ("BLAS",) * 3, ("loops", "tiles", "tiles"),
        ("tiles", "tiles", "BLAS")]
    tiles, blas, linear_blas, linear_tiles = (gemm.add_outer_takes_tiles_on, gemm.add_outer_takes_blas_on,
                                              gemm.linear_takes_blas_on, gemm.linear_takes_tiles_on)
    for itemsize in (4, 8):
        assert not blas(on, 5, 1000, 784, itemsize) and blas(on, 6, 1000, 784, itemsize)
        assert not blas(on, 1000, 1000, 15, itemsize) and blas(on, 1000, 1000, 16, itemsize)
        # from 6 examples and 16 columns one of the two takes the product, never both, never the loops
        for m, n, K in [(6, 1, 16), (31, 64, 784), (32, 64, 784), (100, 65, 784), (1000, 300, 100), (32, 201, 63)]:
            assert tiles(on, m, n, K, itemsize) != blas(on, m, n, K, itemsize)
    # the first layer's update of [784, 30, 10] and [784, 64, 10] from 32 examples in tiles, [784, 100, 10]'s
    # below 100 examples; below 32 examples BLAS
    for width in (30, 64):
        assert blas(on, 31, width, 784, 4) and tiles(on, 32, width, 784, 4) and tiles(on, 1000, width, 784, 4)
    assert tiles(on, 99, 100, 784, 4) and blas(on, 100, 100, 784, 4)
    assert not linear_blas(on, 49, 1000, 784, 4) and not linear_blas(on, 1000, 63, 784, 4)
    assert linear_blas(on, 50, 64, 784, 4) and linear_blas(on, 100, 1000, 784, 4) and linear_blas(on, 100, 100, 784, 4)
    assert not linear_tiles(on, 511, 30) and linear_tiles(on, 512, 30) and linear_tiles(on, 10_000, 63)
    assert not linear_tiles(on, 1000, 29) and not linear_tiles(on, 1000, 64)


def test_zen4_keeps_the_first_layers_forward_product_on_the_loops_and_more_of_its_update_in_tiles():
    # AMD Zen 4 (AVX-512 in two 32-byte halves): float32, 784 inputs into 64 to 255 neurons, linear's loops
    # ran ahead of BLAS below 512 examples, and the register tiles ahead of BLAS for the update of up to 300
    # rows of 784 columns from 100 examples (bench/routes-zen4.md); paired epochs: bench/ab-zen4-routes.md,
    # bench/ab-zen4-wide-tiles.md.
    # Everything else as on other AVX-512 CPUs.
    on, intel = gemm.ZEN4_ROUTES, gemm.AVX512_ROUTES
    linear_blas, tiles, blas = gemm.linear_takes_blas_on, gemm.add_outer_takes_tiles_on, gemm.add_outer_takes_blas_on
    for n in (64, 100, 255):
        assert not linear_blas(on, 511, n, 784, 4) and linear_blas(gemm.shared_routes(on), 512, n, 784, 4)
        assert linear_blas(intel, 50, n, 784, 4)
    assert linear_blas(on, 50, 256, 784, 4) and linear_blas(on, 50, 100, 511, 4)  # wide, or fewer inputs
    assert linear_blas(on, 50, 100, 784, 8)  # float64: BLAS as elsewhere
    assert tiles(on, 100, 300, 784, 4) and not tiles(on, 100, 301, 784, 4) and blas(on, 100, 301, 784, 4)
    assert not tiles(on, 99, 129, 784, 4)  # below 100 examples the limit of other CPUs (128 rows)
    assert not tiles(intel, 100, 100, 784, 4)
    assert tiles(on, 100, 100, 512, 4) and not tiles(on, 100, 100, 511, 4) and blas(on, 100, 100, 511, 4)
    assert not tiles(on, 100, 100, 784, 8)  # float64: as elsewhere
    # from 512 examples (gemm.BLAS_SPLIT_EXAMPLES) the loops and tiles keep those products while BLAS runs on
    # one thread (own_large_alone: one thread's epochs of [784,100,10] at batch 600 and 1000 took 0.97 of the
    # time, bench/ab-zen4-own-large.md); with BLAS on two threads (two threads' BLAS split) BLAS takes them
    shared = gemm.shared_routes(on)
    assert gemm.blas_thread_count() == 1  # as OpenBLAS is loaded (kernels.gemm._load_openblas)
    for m in (511, 512, 1000, 10_000):
        assert not linear_blas(on, m, 100, 784, 4) and tiles(on, m, 100, 784, 4) and tiles(on, m, 300, 784, 4)
        assert linear_blas(shared, m, 100, 784, 4) == (m >= 512) and tiles(shared, m, 100, 784, 4) == (m < 512)
    assert blas(on, 1000, 301, 784, 4) and linear_blas(on, 1000, 256, 784, 4)  # beyond the limits: as below 512
    with fastnn_blas_threads(2):
        assert gemm.blas_thread_count() == 2
        assert linear_blas(on, 512, 100, 784, 4) and blas(on, 512, 100, 784, 4) and blas(on, 1000, 300, 784, 4)
        assert not linear_blas(on, 511, 100, 784, 4) and tiles(on, 511, 300, 784, 4)  # below 512: as alone
    assert not linear_blas(on, 1000, 100, 784, 4)  # alone again
    assert intel == shared._replace(tile_max_rows=intel.tile_max_rows, tile_large_rows=intel.tile_large_rows,
                                    loops_long_below=0, tiles_keep_layout=False)
    assert gemm.shared_routes(intel) == intel


def test_zen1_keeps_the_first_layer_of_a_large_batch_off_blas_and_its_update_in_long_passes():
    # AMD Zen 1 (AVX2 in 16-byte halves, 512 KB of L2): from 512 examples, while BLAS runs on one thread
    # (own_large_alone, as on Zen 4), the first layer's forward product of 784 inputs into fewer than 256 neurons
    # stays on linear's loops and the tiles take its update up to 100 rows (BLAS above); below 512 examples, and
    # with BLAS on two threads, as on other AVX2 CPUs. Tiles over rows of 784 columns take 512 examples a pass
    # (bench/ab-zen1-routes.md).
    on, avx2 = gemm.ZEN1_ROUTES, gemm.AVX2_ROUTES
    linear_blas, tiles, blas = gemm.linear_takes_blas_on, gemm.add_outer_takes_tiles_on, gemm.add_outer_takes_blas_on
    assert gemm.blas_thread_count() == 1
    for m in (512, 1000, 10_000):
        assert tiles(on, m, 100, 784, 4) and not blas(on, m, 100, 784, 4)
        assert blas(on, m, 101, 784, 4) and blas(avx2, m, 100, 784, 4)
        assert blas(on, m, 100, 511, 4) and blas(on, m, 100, 784, 8)  # shorter rows, float64: as on AVX2
        assert not linear_blas(on, m, 100, 784, 4) and linear_blas(avx2, m, 100, 784, 4)
        assert linear_blas(on, m, 256, 784, 4) and linear_blas(on, m, 100, 784, 8)
    for m in (200, 511):
        assert blas(on, m, 100, 784, 4) and tiles(on, m, 64, 784, 4) and linear_blas(on, m, 100, 784, 4)
    with fastnn_blas_threads(2):
        assert blas(on, 1000, 100, 784, 4) and linear_blas(on, 1000, 100, 784, 4)
    assert gemm.shared_routes(on) == avx2._replace(tile_large_rows=100, tile_long_block=512)
    assert (on.tile_long_block, avx2.tile_long_block, gemm.ZEN4_ROUTES.tile_long_block) == (512, 128, 128)
    assert gemm.TILE_LONG_BLOCK == gemm.ROUTES.tile_long_block and gemm.TILE_BLOCK == 128


def update_case(m, n, K, dtype, seed):
    """C (n, K), D (m, n) and A (m, K) of the update's product C += -0.25 D^T A, the result in float64, and
    the tolerance for it."""
    rng = np.random.default_rng(seed)
    C = rng.standard_normal((n, K)).astype(dtype)
    D = rng.standard_normal((m, n)).astype(dtype)
    A = rng.standard_normal((m, K)).astype(dtype)
    want = C.astype(np.float64) - 0.25 * D.T.astype(np.float64) @ A
    return C, D, A, want, (1e-12 if dtype == "float64" else 1e-5) * np.sqrt(m) * 4


@njit(cache=False)
def tiles_add_outer(C, alpha, D, A):
    gemm.tile_add_outer(C, alpha, D, A)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("m,n,K", [(1, 1, 1), (3, 7, 16), (5, 6, 17), (33, 13, 270), (129, 101, 100), (300, 12, 48),
                                   (1100, 13, 790)])
def test_register_tiles_match_numpy_in_both_dtypes(m, n, K, dtype):
    # the tiles themselves (kernels.tiles), float64 beyond the 40 rows add_outer sends them: every
    # row remainder (1-5 rows after the tiles of 6), masked columns, more than one block of examples, D transposed;
    # rows of LONG_INPUTS columns or more take blocks of Routes.tile_long_block examples (512 on Zen 1; 1100: two
    # and a remainder, or eight of 128 and one)
    C, D, A, want, tol = update_case(m, n, K, dtype, m + n + K)
    for d in (D, np.asfortranarray(D)):
        got = C.copy()
        tiles_add_outer(got, got.dtype.type(-0.25), d, A)
        np.testing.assert_allclose(got, want, rtol=0, atol=tol)
    # the masked tiles write nothing beyond the row: C as a view of the first K columns of a wider array
    wide = np.full((n, K + 20), 7.0, dtype=dtype)
    wide[:, :K] = C
    tiles_add_outer(wide[:, :K], C.dtype.type(-0.25), D, A)
    np.testing.assert_allclose(wide[:, :K], want, rtol=0, atol=tol)
    assert (wide[:, K:] == 7.0).all()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_last_columns_of_the_tiles_in_one_vector_or_two_match_numpy(dtype):
    # a row's last columns take masked tiles of one vector a row where they fit in one (the branch in
    # kernels.tiles._tile_codegen), of two where they do not: counts of last columns either side of that line,
    # every row remainder after the tiles of 6 (n = 1 to 7, and 13), and after AVX-512's tiles of 12 (12 to 24)
    width = kernels.tiles.columns(np.dtype(dtype).itemsize)
    vector = width // kernels.tiles.LANES
    for K in (1, vector - 1, vector, vector + 1, width - 1, width + vector, width + vector + 1):
        for n in (1, 2, 3, 4, 5, 6, 7, 12, 13, 18, 23, 24):
            C, D, A, want, tol = update_case(40, n, K, dtype, K * 100 + n)
            wide = np.full((n, K + width), 7.0, dtype=dtype)  # nothing written past the row's K columns
            wide[:, :K] = C
            tiles_add_outer(wide[:, :K], C.dtype.type(-0.25), D, A)
            np.testing.assert_allclose(wide[:, :K], want, rtol=0, atol=tol)
            assert (wide[:, K:] == 7.0).all()


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="about the compiled tiles; with the JIT off NumPy's product "
                    "stands in, whose order may depend on the block")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_rows_result_in_the_tiles_does_not_depend_on_the_tiles_height(dtype):
    # AVX-512 takes tiles of 12 rows before tiles of 6 and the last 1-5 rows (kernels.tiles.WIDE_TILE_ROWS):
    # every element is the same chain of multiply-adds over the examples in any of them, so 29 rows updated
    # at once equal each row updated alone, bit for bit, with full and masked columns and two blocks of examples
    width = kernels.tiles.columns(np.dtype(dtype).itemsize)
    C, D, A, want, tol = update_case(kernels.gemm.TILE_BLOCK + 30, 29, 2 * width + 5, dtype, 29)
    together = C.copy()
    tiles_add_outer(together, C.dtype.type(-0.25), D, A)
    np.testing.assert_allclose(together, want, rtol=0, atol=tol)
    for j in range(29):
        alone = C[j:j + 1].copy()
        tiles_add_outer(alone, C.dtype.type(-0.25), np.ascontiguousarray(D[:, j:j + 1]), A)
        assert np.array_equal(alone[0], together[j]), j


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("m,n_out,n_in", GEMM_SHAPES)
def test_linear_matches_numpy(m, n_out, n_in, dtype):
    rng = np.random.default_rng(m * 1000 + n_out)
    W = rng.standard_normal((n_out, n_in)).astype(dtype)
    b = rng.standard_normal(n_out).astype(dtype)
    A = rng.standard_normal((m, n_in)).astype(dtype)
    want = A.astype(np.float64) @ W.T.astype(np.float64) + b
    tol = 1e-12 if dtype == "float64" else 1e-5
    # without a scratch, and with the one alloc_acts reserves (the route this machine takes), and a short one
    size = gemm.linear_scratch_size(np.array([n_in, n_out]), m)
    for scratch in (None, np.full(size, np.nan, dtype=dtype), np.full(max(size - 1, 0), np.nan, dtype=dtype)):
        Z = np.full((m, n_out), np.nan, dtype=dtype)
        gemm.linear(W, b, A, Z, scratch)
        np.testing.assert_allclose(Z, want, rtol=0, atol=tol * np.sqrt(n_in) * 4)


@njit(cache=False)
def tile_linear(W, b, A, Z, WT):
    gemm.tile_linear(W, b, A, Z, WT)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("m,n_out,n_in", [(1, 1, 1), (7, 33, 20), (13, 17, 300), (530, 40, 100), (600, 63, 129)])
def test_tile_linear_matches_numpy(m, n_out, n_in, dtype):
    # the forward product through the tiles itself, whichever route linear takes here: masked columns (fewer
    # neurons than a tile's width, or some over), rows after the tiles of 6, more inputs than one block of tiles
    rng = np.random.default_rng(m + n_out + n_in)
    W = rng.standard_normal((n_out, n_in)).astype(dtype)
    b = rng.standard_normal(n_out).astype(dtype)
    A = rng.standard_normal((m, n_in)).astype(dtype)
    WT = np.full((n_in, n_out), np.nan, dtype=dtype)
    Z = np.full((m, n_out + 3), 7.0, dtype=dtype)  # the tiles write nothing beyond each row's n_out columns
    tile_linear(W, b, A, Z[:, :n_out], WT)
    np.testing.assert_array_equal(WT, W.T)
    tol = (1e-12 if dtype == "float64" else 1e-5) * np.sqrt(n_in) * 4
    np.testing.assert_allclose(Z[:, :n_out], A.astype(np.float64) @ W.T.astype(np.float64) + b, rtol=0, atol=tol)
    assert (Z[:, n_out:] == 7.0).all()
    if numba.config.DISABLE_JIT:  # the twin is NumPy's product, whose order may depend on the block
        return
    # a row's output does not depend on the rows it is computed with
    one = np.empty((1, n_out), dtype=dtype)
    for i in (0, m // 2, m - 1):
        tile_linear(W, b, A[i:i + 1], one, WT)
        np.testing.assert_array_equal(one[0], Z[i, :n_out])


def test_activation_buffers_hold_linears_scratch_where_it_takes_the_tiles():
    X = np.zeros((1, 784), dtype=np.float32)
    for m in (100, 512, 1000):
        acts, a_off = kernels.layout.alloc_acts(np.array([784, 30, 40, 10]), m, X)
        takes = gemm.linear_takes_tiles(m, 30)
        assert gemm.linear_takes_tiles(m, 40) == takes and not gemm.linear_takes_tiles(m, 10)
        assert a_off[1] == (784 * 30 if takes else 0)  # the larger of the two layers that take them
        assert len(acts) == a_off[1] + m * (30 + 40 + 10) and a_off[2] == a_off[1] + m * 30
        acts, a_off = kernels.layout.alloc_acts(np.array([784, 30, 40, 10]), m, X, False)
        assert a_off[1] == 0 and len(acts) == m * 80
        # the two-thread buffer S: the same blocks from offset 0, activations and deltas
        assert kernels.parallel.shared_blocks(np.array([784, 30, 40, 10]), m) == (2, m * 80)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("m,n,K", GEMM_SHAPES)
def test_add_outer_matches_numpy(m, n, K, dtype):
    rng = np.random.default_rng(m * 1000 + n)
    C = rng.standard_normal((n, K)).astype(dtype)
    D = rng.standard_normal((m, n)).astype(dtype)
    A = rng.standard_normal((m, K)).astype(dtype)
    want = C.astype(np.float64) - 0.25 * D.T.astype(np.float64) @ A
    gemm.add_outer(C, C.dtype.type(-0.25), D, A)
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(C, want, rtol=0, atol=tol * np.sqrt(m) * 4)
    # D given transposed (an F-ordered view): add_outer takes any strides for D.
    C2 = np.zeros((m, K), dtype=dtype)
    B = rng.standard_normal((n, K)).astype(dtype)
    gemm.add_outer(C2, C.dtype.type(1), D.T, B)
    np.testing.assert_allclose(C2, D.astype(np.float64) @ B, rtol=0, atol=tol * np.sqrt(n) * 4)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("m,n_out,n_in", [(1, 3, 8), (7, 6, 8), (20, 10, 30), (100, 10, 100), (40, 30, 784),
                                          (1000, 100, 100), (33, 1, 16), (40, 40, 30)])
def test_delta_below_matches_numpy(m, n_out, n_in, dtype):
    """D_prev = D W on every route add_outer has (each gets the view D.T; (40, 40, 30) takes the tiles on
    AVX2 and AVX-512 CPUs, (1000, 100, 100) BLAS, most others the loops), with D, W and D_prev as column
    ranges of wider arrays too: a D whose columns are not one element apart must not go to BLAS, which
    refuses it and leaves D_prev as it was."""
    rng = np.random.default_rng(m + 7 * n_out + 13 * n_in)
    tol = 1e-12 if dtype == "float64" else 1e-5
    Dbig = rng.standard_normal((m, 2 * n_out + 3)).astype(dtype)
    Wbig = rng.standard_normal((n_out, n_in + 5)).astype(dtype)
    for D in (np.ascontiguousarray(Dbig[:, :n_out]), Dbig[:, 3:3 + n_out], Dbig[:, ::2][:, :n_out]):
        for W, width in ((np.ascontiguousarray(Wbig[:, :n_in]), n_in), (Wbig[:, 5:], n_in + 5)):
            out = np.full((m, width), np.nan, dtype=dtype)
            D_prev = out[:, width - n_in:]
            kernels.backprop.delta_below(D, W, D_prev)
            want = D.astype(np.float64) @ W.astype(np.float64)
            scale = np.abs(D).max() * np.abs(W).max() * n_out
            np.testing.assert_allclose(D_prev, want, rtol=0, atol=tol * scale)
            assert np.isnan(out[:, :width - n_in]).all()  # nothing written beside D_prev


_ROUTE_LAYOUTS = """
import numpy as np
from numba.core import ir
from fastnn.kernels import gemm
rng = np.random.default_rng(3)
C, D, A = rng.random((8, 12)), rng.random((3, 17)), rng.random((3, 12))
for d in (np.ascontiguousarray(D[:, :8]), np.asfortranarray(D[:, :8]), D[:, 4:12]):  # C, F, neither
    gemm.add_outer(C, 1.0, d, A)
gemm.tile_linear(C, C[:, 0].copy(), A, np.empty((3, 8)), np.empty((12, 8)))  # Z = b + A C^T in the tiles
routes = ("tile_add_outer", "blas_add_outer", "add_outer_loops")
for kernel in (gemm.add_outer, gemm.tile_linear):
    for sig, compiled in kernel.overloads.items():
        types = compiled.type_annotation
        for inst, call in types.calltypes.items():
            if isinstance(inst, ir.Expr) and inst.op == "call":
                callee = [r for r in routes if r in str(types.typemap[inst.func.name])]
                if callee:
                    print(kernel.__name__, sig[2].layout if kernel is gemm.add_outer else "-", callee[0],
                          call.args[2].layout)
"""


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="about compiled code; with the JIT off there is none")
def test_add_outer_routes_are_compiled_once_for_every_layout_of_D(tmp_path):
    """add_outer hands its routes (tiles, BLAS, loops) D as an array of any layout (views.any_layout), and
    tile_linear hands the tiles its transposed input likewise, so the update's C-ordered deltas,
    delta_below's transposed ones, the threads' column ranges and the forward pass share one compiled copy
    of each route: a second copy of every route cost about 5 s of a cold start. Read from the types of the
    calls in the compiled code, in a fresh process with an empty cache (code loaded from a cache keeps no
    types)."""
    import os
    import subprocess
    import sys
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    out = subprocess.run([sys.executable, "-c", _ROUTE_LAYOUTS], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    calls = sorted(tuple(line.split()) for line in out.stdout.splitlines())
    want = sorted([("add_outer", d, r, "A") for d in "CFA" for r in ("tile_add_outer", "blas_add_outer",
                                                                       "add_outer_loops")]
                  + [("tile_linear", "-", "tile_add_outer", "A")])
    assert calls == want


@njit(cache=False)
def blas_add_outer(C, alpha, D, A):
    gemm.blas_add_outer(C, alpha, D, A)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("m,n,K", [(40, 1, 30), (1, 40, 30), (40, 30, 1), (6, 2, 16), (33, 13, 270)])
def test_blas_add_outer_matches_numpy_with_a_single_row_or_column(m, n, K, dtype):
    # the BLAS route itself, whichever route add_outer takes here: one neuron (a regression's output layer,
    # whose deltas (m, 1) are both C- and F-contiguous), one example, one input; D as given and transposed
    C, D, A, want, tol = update_case(m, n, K, dtype, m + 10 * n + 100 * K)
    cases = [(C.copy(), d, A) for d in (D, np.asfortranarray(D), D.T.copy().T)]
    if n == 1:  # one row of C as a view of a 1-D array: NumPy may give it any first stride
        cases.append((C[0].copy()[None, :], D, A))
    if m == 1:
        cases.append((C.copy(), D, A[0].copy()[None, :]))
    for got, d, a in cases:
        blas_add_outer(got, got.dtype.type(-0.25), d, a)
        np.testing.assert_allclose(got, want, rtol=0, atol=tol)


def odd_strides(X):
    """X's values in arrays whose rows BLAS cannot read as they are: rows in reverse (a negative stride), and,
    for a single distinct row repeated, rows that stay on it (a zero stride)."""
    yield X[::-1].copy()[::-1]
    yield np.broadcast_to(X[0], X.shape)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("m,n,K", [(200, 100, 100), (40, 130, 80), (40, 30, 60), (3, 8, 12)])
def test_add_outer_and_linear_take_any_row_strides(m, n, K, dtype):
    """add_outer and linear with operands whose rows step back or stay put, on every route their shapes take
    (BLAS at the first two here): BLAS cannot read such rows by a leading dimension (it refused them and the
    product was skipped, or read past the buffer: NaN), so they take the tiles or the loops, which step by
    the strides."""
    C, D, A, _, tol = update_case(m, n, K, dtype, m + n + K)
    alpha = C.dtype.type(-0.25)
    for which in "CDA":
        originals = {"C": C, "D": D, "A": A}
        for odd in odd_strides(originals[which]):
            args = dict(originals, **{which: odd})
            if which == "C":
                if odd.strides[0] == 0:
                    continue  # rows that stay put cannot be written
                args["C"] = np.ascontiguousarray(C[::-1])[::-1]
            want = args["C"].astype(np.float64) - 0.25 * args["D"].T.astype(np.float64) @ args["A"]
            got = args["C"].copy() if which != "C" else args["C"]
            gemm.add_outer(got, alpha, args["D"], args["A"])
            np.testing.assert_allclose(got, want, rtol=0, atol=tol, err_msg=which)
    W, b = C[:, :K], D[0].copy()  # linear: Z (m, n) = b + A W^T
    for which in "WAZ":
        for odd in odd_strides({"W": W, "A": A, "Z": np.zeros((m, n), dtype)}[which]):
            if which == "Z" and odd.strides[0] == 0:
                continue
            w, a = (odd if which == "W" else W), (odd if which == "A" else A)
            Z = odd if which == "Z" else np.zeros((m, n), dtype)
            gemm.linear(w, b, a, Z, np.empty(n * K, dtype))
            want = a.astype(np.float64) @ w.T.astype(np.float64) + b
            np.testing.assert_allclose(Z, want, rtol=0, atol=tol * np.sqrt(K), err_msg=which)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("m,n,K", GEMM_SHAPES)
def test_add_outer_loops_match_numpy(m, n, K, dtype):
    # the register-blocked loops themselves, at every shape, whichever route add_outer takes on this machine
    C, D, A, want, tol = update_case(m, n, K, dtype, m * 1000 + n + 1)
    for d in (D, np.asfortranarray(D)):
        got = C.copy()
        gemm.add_outer_loops(got, got.dtype.type(-0.25), d, A)
        np.testing.assert_allclose(got, want, rtol=0, atol=tol)


@njit
def _column_sums(D, out):
    return kernels.backprop.column_sums(D, out)  # inline="always": reachable only from compiled code


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("m", [1, 2, kernels.backprop.SMALL_BLOCK - 1, kernels.backprop.SMALL_BLOCK, 1000])
def test_column_sums_add_each_column_in_example_order(m, dtype):
    """The bias gradient: down the columns below SMALL_BLOCK examples, along the rows from it; both
    add a column's entries in example order, so each sum equals Python's left-to-right sum exactly."""
    rng = np.random.default_rng(m)
    D = (rng.standard_normal((m, 37)) * 10.0 ** rng.integers(-3, 4, (m, 37))).astype(dtype)
    out = np.full(30, np.nan, dtype=dtype)
    got = _column_sums(D[:, 5:35], out)  # a range of columns, as a thread's share of the neurons is passed
    assert np.shares_memory(got, out)
    want = np.array([sum(D[:, j], start=D.dtype.type(0)) for j in range(5, 35)], dtype=dtype)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_allclose(out, D[:, 5:35].astype(np.float64).sum(axis=0), rtol=0,
                               atol=(1e-4 if dtype == "float32" else 1e-12) * np.abs(D).sum(axis=0).max())


@pytest.mark.parametrize("batch_size", [1, 5, 9])
def test_epoch_matches_reference_wide_input(batch_size):
    # 300 inputs: more than one k-chunk of the blocked update; 7 and 5 neurons: remainders of every blocking.
    got, want = epochs_vs_reference([300, 7, 5], "sigmoid", "cross_entropy", batch_size, 1.0, 0.0, n=40)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


@pytest.mark.parametrize("batch_size,n", [(40, 100), (520, 560)])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_epoch_matches_reference_through_blas(batch_size, n, momentum):
    # 260 neurons of 80 inputs: the update's product goes to BLAS from 40 examples, the forward product
    # too from 520; each epoch ends on a short batch (100 = 2 x 40 + 20, 560 = 520 + 40).
    assert gemm.add_outer_takes_blas(batch_size, 260, 80, 8)
    assert gemm.linear_takes_blas(batch_size, 260, 80, 8) == (batch_size == 520)
    got, want = epochs_vs_reference([80, 260, 5], "sigmoid", "quadratic", batch_size, 1.0, momentum, n=n)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_epoch_matches_reference_through_the_tiles_forward(momentum):
    # 40 and 30 neurons at batch 520: on an AVX-512 CPU both forward products take the tiles over transposed
    # weights (the scratch at the head of the activations), the short last batch of 80 the loops
    assert gemm.linear_takes_tiles(520, 40) == gemm.linear_takes_tiles(520, 30) == gemm.host_has_avx512()
    got, want = epochs_vs_reference([50, 40, 30, 5], "sigmoid", "quadratic", 520, 1.0, momentum, n=600)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


@pytest.mark.parametrize("sizes", [[80, 70, 5], [80, 64]])
@pytest.mark.parametrize("momentum,nesterov,lmbda", [(0.0, False, 1.0), (0.9, False, 0.0), (0.9, True, 2.0)])
def test_float32_epoch_with_the_first_layer_transposed_matches_reference(sizes, momentum, nesterov, lmbda):
    # batches of 60 into 64 or 70 neurons in float32: on an AVX-512 CPU the epoch keeps the first layer's weights
    # (and velocity) transposed, the forward product from W^T in BLAS, and puts them back after each of the two
    # epochs; 130 examples end on a short batch of 10. [80, 64]: the transposed layer is the output layer.
    # float32 against the float64 reference: round-off over 6 updates left at most 2e-7 here; a weight put back
    # in the wrong place, or a step or a velocity missed, is off by far more (the velocity's: 1e-3 and up).
    # The same kernels in float64, to 1e-10: test_transposed_first_layer_kernels_match_the_untransposed_ones.
    assert gemm.first_layer_transposed(60, sizes[1], sizes[0], 4) == gemm.host_has_avx512()
    got, want = epochs_vs_reference(sizes, "sigmoid", "quadratic", 60, lmbda, momentum, n=130, nesterov=nesterov,
                                    dtype="float32")
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)


def test_float32_epoch_on_the_loops_where_zen4_keeps_them_matches_reference():
    # 600 inputs into 70 neurons at batch 60 in float32: on Zen 4 the first layer's forward product stays on
    # linear's loops and the layer is not transposed; elsewhere with AVX-512 it goes to BLAS from W^T
    zen4 = gemm.ROUTES == gemm.ZEN4_ROUTES
    assert gemm.linear_takes_blas(60, 70, 600, 4) == (gemm.host_has_avx512() and not zen4)
    assert gemm.first_layer_transposed(60, 70, 600, 4) == (gemm.host_has_avx512() and not zen4)
    got, want = epochs_vs_reference([600, 70, 5], "sigmoid", "quadratic", 60, 1.0, 0.9, n=130, dtype="float32")
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)


def test_float32_epoch_with_the_wide_first_layer_in_tiles_where_zen4_keeps_it_matches_reference():
    # 600 inputs into 260 neurons at batch 100 in float32: on Zen 4 the tiles take the first layer's update and
    # the layer is not transposed (tiles_keep_layout); elsewhere with AVX-512 the layer is transposed and its
    # update goes to BLAS. 230 examples end on a short batch of 30, whose update is too short for the tiles.
    zen4 = gemm.ROUTES == gemm.ZEN4_ROUTES
    assert gemm.add_outer_takes_tiles(100, 260, 600, 4) == zen4
    assert gemm.first_layer_transposed(100, 260, 600, 4) == (gemm.host_has_avx512() and not zen4)
    got, want = epochs_vs_reference([600, 260, 5], "sigmoid", "quadratic", 100, 1.0, 0.9, n=230, dtype="float32")
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)


def test_float32_epoch_of_large_batches_where_zen4_keeps_loops_and_tiles_alone_matches_reference():
    # 600 inputs into 70 neurons at batch 520 in float32, one thread: on Zen 4 and Zen 1 (own_large_alone) the
    # forward product on linear's loops and the update in the tiles; elsewhere both in BLAS. The two-thread epoch
    # with BLAS on both cores is checked against this one in tests/test_parallel.py.
    own = gemm.ROUTES.own_large_alone
    assert own == (gemm.ROUTES in (gemm.ZEN4_ROUTES, gemm.ZEN1_ROUTES))
    assert gemm.linear_takes_blas(520, 70, 600, 4) == (not own)
    assert gemm.add_outer_takes_tiles(520, 70, 600, 4) == own
    # 580 examples: a batch of 520 and a short one of 60 an epoch, two epochs (the velocity carries over)
    got, want = epochs_vs_reference([600, 70, 5], "sigmoid", "quadratic", 520, 1.0, 0.9, n=580, dtype="float32")
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_streamed_first_layer_equals_gather_then_linear_to_the_bit(dtype):
    # sgd._gather_forward gathers a batch EB rows at a time and multiplies each EB rows as they arrive: the
    # loops take EB examples a block anyway, so every output is the one linear gives for the whole batch,
    # including the blocks that end on one or two examples (gemm._rows_by_two)
    rng = np.random.default_rng(5)
    X = rng.standard_normal((300, 70)).astype(dtype)
    W, b = rng.standard_normal((13, 70)).astype(dtype), rng.standard_normal(13).astype(dtype)
    order = rng.permutation(300)
    eb = gemm.EB
    for start, m in [(0, 2), (5, eb - 1), (7, eb), (0, eb + 1), (40, 2 * eb + 2), (1, 200), (100, 200)]:
        assert kernels.sgd.first_layer_streamed(m, 13, 70, X.itemsize)
        Xb, Z = np.full((200, 70), np.nan, dtype), np.full((200, 13), np.nan, dtype)
        got = kernels.sgd._gather_forward(W, b, X, order, start, m, min(m, 300 - start - m), Xb, Z[:m])
        want = np.empty((m, 13), dtype)
        gemm.linear(W, b, np.ascontiguousarray(X[order[start:start + m]]), want, np.empty(0, dtype))
        np.testing.assert_array_equal(got, X[order[start:start + m]])
        np.testing.assert_array_equal(Z[:m], want)
        assert np.isnan(Z[m:]).all() and np.isnan(Xb[m:]).all()  # nothing past the batch
    # one example goes through linear's matrix-vector loop, BLAS and the tiles keep their blocks whole
    assert not kernels.sgd.first_layer_streamed(1, 13, 70, 8)
    assert kernels.sgd.first_layer_streamed(1000, 100, 784, 4) == gemm.ROUTES.own_large_alone  # Zen 4, Zen 1
    assert not kernels.sgd.first_layer_streamed(1000, 300, 784, 4)  # BLAS on every CPU
    assert kernels.sgd.first_layer_streamed(100, 30, 784, 4)  # the loops on every CPU (tiles from 512)
    assert kernels.sgd.first_layer_streamed(1000, 30, 784, 4) == (not gemm.host_has_avx512())


def test_first_layer_is_transposed_in_float32_from_50_examples_into_64_neurons_or_more():
    # paired epochs: 0.95-0.99 of the time at batch 64 to 300 in float32, level at 500, slower at batch 200
    # into 300 neurons and in float64 (bench/ab-transposed-first.md); never on AVX2, where it was not measured
    t, on = gemm.first_layer_transposed_on, gemm.AVX512_ROUTES
    assert t(on, 50, 64, 784, 4) and t(on, 100, 100, 784, 4) and t(on, 399, 255, 784, 4) and t(on, 199, 1000, 784, 4)
    assert not t(on, 49, 100, 784, 4) and not t(on, 400, 100, 784, 4) and not t(on, 100, 63, 784, 4)
    assert not t(on, 100, 100, 784, 8) and not t(on, 200, 256, 784, 4) and not t(on, 200, 300, 784, 4)
    assert not any(t(gemm.AVX2_ROUTES, m, n, 784, 4) for m in (50, 100, 200, 399) for n in (64, 100, 1000))
    assert gemm.first_layer_transposed(100, 100, 80, 4) == gemm.host_has_avx512()
    # on Zen 4 a first layer of 512 inputs or more into fewer than 256 neurons stays on linear's loops below 512
    # examples, so it is not transposed there; wider layers, and layers of fewer inputs, as elsewhere
    zen4 = gemm.ZEN4_ROUTES
    assert not t(zen4, 100, 100, 784, 4) and t(zen4, 100, 100, 511, 4)
    # nor where the tiles take its update (tiles_keep_layout): 300 neurons from 100 examples; 1000 neurons, or
    # fewer than 100 examples, go on as elsewhere
    assert not t(zen4, 100, 300, 784, 4) and not t(zen4, 199, 300, 784, 4)
    assert t(zen4, 100, 1000, 784, 4) and t(zen4, 99, 300, 784, 4) and t(zen4, 50, 300, 784, 4)
    assert t(on, 100, 300, 784, 4)  # on other AVX-512 CPUs the tiles take 64 rows from 100 examples


@pytest.mark.parametrize("rule", [kernels.codes.SGD, kernels.codes.MOMENTUM, kernels.codes.NESTEROV])
def test_transposed_first_layer_kernels_match_the_untransposed_ones(rule):
    # float64, to 1e-10: the forward product from W^T (gemm.blas_linear_transposed) against the one from W,
    # and update.update_transposed on W^T (its velocity too) against update_rows on W, with weight decay
    rng = np.random.default_rng(rule)
    m, n, K = 60, 70, 80
    W, V = rng.standard_normal((n, K)), rng.standard_normal((n, K))
    b, vb = rng.standard_normal(n), rng.standard_normal(n)
    X, D = rng.random((m, K)), rng.standard_normal((m, n))
    Z, ZT = np.empty((m, n)), np.empty((m, n))
    gemm.blas_linear(W, b, X, Z)
    gemm.blas_linear_transposed(np.ascontiguousarray(W.T), b, X, ZT)
    np.testing.assert_allclose(ZT, X @ W.T + b, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ZT, Z, rtol=0, atol=1e-10)
    hyper = np.array([0.7, 0.01, 0.9])
    WT, VT, bT, vbT = np.ascontiguousarray(W.T), np.ascontiguousarray(V.T), b.copy(), vb.copy()
    W0 = W.copy()
    kernels.update.update_rows(rule, hyper, W, b, V, vb, D, X, np.empty(n * (K + 1)))
    kernels.update.update_transposed(rule, hyper, WT, bT, VT, vbT, D, X, np.empty(n * (K + 1)))
    for got, want in ((WT.T, W), (bT, b)) + (((VT.T, V), (vbT, vb)) if rule != kernels.codes.SGD else ()):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
    assert np.abs(W - W0).max() > 1e-3  # the update changed the weights


@pytest.mark.parametrize("sizes", [[12, 5], [12, 9, 7, 5]])
@pytest.mark.parametrize("activation,cost", [("sigmoid", "quadratic"), ("tanh", "cross_entropy"),
                                             ("relu", "log_likelihood")])
def test_online_without_momentum_matches_reference(sizes, activation, cost):
    # Online learning without momentum applies the first layer's updates in blocks (kernels.sgd.BLOCK):
    # 40 examples are two full blocks and a partial one; lmbda > 0 exercises the per-step decay factors.
    got, want = epochs_vs_reference(sizes, activation, cost, 1, 1.5, 0.0, n=40, eta=0.2)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


def whole_weights(n, seed=3):
    """Weights 0 to 4: zeros (examples that count as none) and repeats."""
    return np.random.default_rng(seed).integers(0, 5, n).astype(np.float64)


@pytest.mark.parametrize("batch_size", [1, 7, 45])
@pytest.mark.parametrize("activation,cost,momentum", [("sigmoid", "quadratic", 0.0), ("sigmoid", "cross_entropy", 0.9),
                                                      ("tanh", "log_likelihood", 0.5), ("relu", "quadratic", 0.0)])
def test_weighted_epoch_matches_reference(activation, cost, momentum, batch_size):
    # Weighted examples: each example's gradients times its weight, scaled to a mean of 1. Batch 1 without
    # momentum is online learning's blocked first layer (kernels.sgd), with momentum its example-by-example rule.
    w = whole_weights(45)
    got, want = epochs_vs_reference([10, 8, 6, 4], activation, cost, batch_size, 1.0, momentum, eta=0.2,
                                     sample_weight=w)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
    unweighted, _ = epochs_vs_reference([10, 8, 6, 4], activation, cost, batch_size, 1.0, momentum, eta=0.2)
    assert np.abs(got - unweighted).max() > 1e-3  # the weights changed the training


# The weights touch one kernel function, output_delta, which test_weighted_epoch_matches_reference covers with the
# JIT off too; the two tests below are about the compiled routes around it (a minute of CI's run without the JIT).
COMPILED_ROUTES = pytest.mark.skipif(numba.config.DISABLE_JIT, reason="about the compiled routes")


@COMPILED_ROUTES
@pytest.mark.parametrize("batch_size,threads", [(40, 1), (520, 1), (40, 2), (520, 2)])
def test_weighted_epoch_matches_reference_through_blas_and_on_two_threads(batch_size, threads):
    # test_epoch_matches_reference_through_blas's shapes (the update's product in BLAS from 40 examples, the
    # forward product too from 520), weighted; two threads split every mini-batch's work between them.
    if threads > fastnn.checks.usable_cores():
        pytest.skip("needs 2 cores")
    got, want = epochs_vs_reference([80, 260, 5], "sigmoid", "quadratic", batch_size, 1.0, 0.9, n=560,
                                    sample_weight=whole_weights(560), threads=threads)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


@COMPILED_ROUTES
@pytest.mark.parametrize("sizes,batch_size,n", [([80, 70, 5], 60, 130), ([600, 260, 5], 100, 230),
                                                ([600, 70, 5], 520, 600)])
def test_weighted_float32_epochs_on_the_large_routes_match_reference(sizes, batch_size, n):
    # The float32 routes of the tests above (first layer transposed; the wide first layer's update in the
    # tiles; large batches on the loops and tiles or BLAS), weighted: float32 round-off, as there.
    got, want = epochs_vs_reference(sizes, "sigmoid", "quadratic", batch_size, 1.0, 0.9, n=n, dtype="float32",
                                    sample_weight=whole_weights(n))
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)


@njit(fastmath=kernels.codes.FASTMATH)  # as the kernels call it: with their fast-math flags
def _exp_nonpositive_all(x, out):
    for i in range(len(x)):
        out[i] = exp_nonpositive(x[i])


@pytest.mark.parametrize("dtype,lowest", [(np.float32, -87.3), (np.float64, -708.3)])
def test_vectorised_exp_is_within_2_ulp_of_the_true_value(dtype, lowest):
    rng = np.random.default_rng(0)
    x = np.concatenate([-rng.exponential(5.0, 200_000), np.linspace(lowest, 0, 200_000), [0.0, -0.0, -1e-30]])
    x = x.astype(dtype)
    out = np.empty_like(x)
    _exp_nonpositive_all(x, out)
    true = np.exp(x.astype(np.longdouble))
    ulps = np.abs((out.astype(np.longdouble) - true) / np.spacing(true.astype(dtype)))
    assert ulps.max() <= 2.0, (float(ulps.max()), x[np.argmax(ulps)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vectorised_exp_at_the_edges(dtype):
    x = np.array([0.0, -np.inf, -1000.0, np.nan], dtype=dtype)
    out = np.empty_like(x)
    _exp_nonpositive_all(x, out)
    assert out[0] == 1.0 and out[1] == 0.0 and out[2] == 0.0 and np.isnan(out[3])


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="counts compiled code's allocations; with the JIT off there are none")
@pytest.mark.parametrize("batch_size", [1, 7])
def test_epochs_free_every_buffer_they_allocate(batch_size):
    """The kernels' array views (kernels.views.view2d) hold references to their buffers: none may leak."""
    from numba.core.runtime import _nrt_python, rtsys
    _nrt_python.memsys_enable_stats()  # or NUMBA_NRT_STATS=1
    net = fastnn.Network([12, 9, 5, 3], seed=0)
    X, y = make_data(40, 12, 3)
    net.fit(X, y, 1, batch_size, 0.5, momentum=0.5 if batch_size > 1 else 0.0)  # compile first
    before = rtsys.get_allocation_stats()
    net.fit(X, y, 2, batch_size, 0.5, momentum=0.5 if batch_size > 1 else 0.0,
            validation_data=(X, y), monitor=["training_cost", "validation_accuracy"])
    after = rtsys.get_allocation_stats()
    assert after.alloc - before.alloc > 0  # the epochs did allocate their work buffers
    assert after.alloc - before.alloc == after.free - before.free
    assert after.mi_alloc - before.mi_alloc == after.mi_free - before.mi_free


def test_view2d_is_the_reshaped_slice():
    from fastnn.kernels.views import view2d

    @njit
    def views(buf, start, rows, cols):
        v = view2d(buf, start, rows, cols)
        v[0, 0] += 0.0  # a view, not a copy
        return v.copy(), v.strides, v.flags.c_contiguous

    buf = np.arange(24.0)
    out, strides, contiguous = views(buf, 5, 3, 4)
    np.testing.assert_array_equal(out, buf[5:17].reshape(3, 4))
    assert strides == (32, 8) and contiguous
    grid = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(views(grid, 0, 1, 12)[0], grid.reshape(1, 12))


_TRAIN_AND_PRINT = """
import sys
import numpy as np
import fastnn
rng = np.random.default_rng(3)
X, y = rng.random((300, 12)), rng.integers(0, 3, 300)
out = []
for dtype in ("float64", "float32"):
    for batch_size, momentum, nesterov in ((1, 0.0, False), (1, 0.9, False), (1, 0.9, True), (4, 0.0, False),
                                           (4, 0.9, False), (4, 0.9, True)):
        net = fastnn.Network([12, 8, 5, 3], dtype=dtype, seed=0)
        net.fit(X, y, 2, batch_size, 0.3, lmbda=1.0, momentum=momentum, nesterov=nesterov, seed=1)
        out.append(net.params.astype(np.float64).tobytes().hex())
print(" ".join(out))
"""


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="about compiled code and Numba's cache; with the JIT off there is neither")
def test_a_fresh_compilation_and_the_cached_code_compute_the_same_bits(tmp_path):
    """Plain SGD, online and mini-batch, gives the same bits whether its code was just compiled or
    loaded from the cache, so a study's Dask workers agree with its serial runs exactly.

    Seen: SGD written w - decay*w - u compiled, under fast-math, to code whose rounding differed
    between the process that compiled it and the processes that loaded it (1 ulp in the weights).
    With momentum the two still differ by up to a few ulp (4e-16 measured) in some builds: they
    are held to 1e-12 here, and the cause is not yet found.
    """
    import os
    import subprocess
    import sys
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    runs = [subprocess.run([sys.executable, "-c", _TRAIN_AND_PRINT], env=env, capture_output=True, text=True,
                           check=True).stdout.split() for _ in range(2)]  # the first compiles and writes the cache
    cases = [(dtype, b, mu) for dtype in ("float64", "float32")
             for b, mu in ((1, 0.0), (1, 0.9), (1, 0.9), (4, 0.0), (4, 0.9), (4, 0.9))]
    assert len(runs[0]) == len(runs[1]) == len(cases)
    for (dtype, b, mu), fresh, cached in zip(cases, *runs):
        if mu == 0.0:
            assert fresh == cached, (dtype, b)
        else:
            f, c = (np.frombuffer(bytes.fromhex(x)) for x in (fresh, cached))
            np.testing.assert_allclose(f, c, rtol=0, atol=1e-12 if dtype == "float64" else 1e-5)
