"""The Network API: parameters, training options, history, reproducibility, bad input, divergence, files."""
import json

import numpy as np
import pytest

import fastnn
from conftest import make_data, make_learnable


@pytest.fixture
def data():
    return make_data(60, 8, 3, seed=1)


def test_weights_and_biases_are_views_into_one_buffer():
    net = fastnn.Network([4, 3, 2], dtype="float64", seed=0)
    assert [w.shape for w in net.weights] == [(3, 4), (2, 3)]
    assert [b.shape for b in net.biases] == [(3,), (2,)]
    net.weights[1][0, 0] = 7.0
    assert 7.0 in net.params
    net.biases[0] = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(net.biases[0], [1, 2, 3])
    net.weights = [np.zeros((3, 4)), np.ones((2, 3))]
    assert net.params[:12].sum() == 0 and net.weights[1].sum() == 6
    with pytest.raises(ValueError, match="shape"):
        net.weights[0] = np.zeros((4, 3))
    with pytest.raises(ValueError, match="2 arrays"):
        net.weights = [np.zeros((3, 4))]


def test_default_and_large_init_have_the_books_spread():
    default = fastnn.Network([400, 300, 10], init="default", dtype="float64", seed=0)
    large = fastnn.Network([400, 300, 10], init="large", dtype="float64", seed=0)
    assert default.weights[0].std() == pytest.approx(1 / np.sqrt(400), rel=0.02)
    assert large.weights[0].std() == pytest.approx(1.0, rel=0.02)
    assert default.biases[0].std() == pytest.approx(1.0, rel=0.2)


def book_order_init(sizes, init, dtype, seed):
    """The initial parameters as Network.initialize drew them before it drew layer by layer: every layer in
    float64 at once (biases first, then weights), the weights divided by sqrt(n_in) for "default", then cast."""
    rng = np.random.default_rng(seed)
    biases = [rng.standard_normal(n) for n in sizes[1:]]
    weights = [rng.standard_normal((n_out, n_in)) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    if init == "default":
        weights = [w / np.sqrt(w.shape[1]) for w in weights]
    return [a.astype(dtype) for a in weights + biases]


@pytest.mark.parametrize("sizes", [[4, 3, 2], [784, 30, 10], [1500, 800, 7, 10]])  # 1.2M weights: two chunks
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("init", ["default", "large"])
@pytest.mark.parametrize("seed", [0, 12345])
def test_initial_weights_are_bitwise_those_of_drawing_every_layer_at_once(sizes, dtype, init, seed):
    net = fastnn.Network(sizes, init=init, dtype=dtype, seed=seed)
    for ours, expected in zip(net.weights + net.biases, book_order_init(sizes, init, dtype, seed)):
        assert ours.dtype == expected.dtype and ours.tobytes() == expected.tobytes()


def test_initial_weights_do_not_depend_on_the_draw_chunk(monkeypatch):
    import fastnn.model
    monkeypatch.setattr(fastnn.model, "DRAW_CHUNK", 7)  # chunks that split rows and layers unevenly
    net = fastnn.Network([13, 11, 5], dtype="float32", seed=3)
    for ours, expected in zip(net.weights + net.biases, book_order_init([13, 11, 5], "default", "float32", 3)):
        assert ours.tobytes() == expected.tobytes()


PEAK = """
import resource, sys
import fastnn
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
before = peak()
net = fastnn.Network([784, 4000, 4000, 10], dtype=sys.argv[1], seed=0)
print((peak() - before) / net.params.nbytes)
"""


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_building_a_network_needs_little_memory_beyond_its_parameters(dtype):
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", PEAK, dtype], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < 1.3  # 4.9 (float32) and 3.0 (float64) when every layer was drawn at once


@pytest.mark.parametrize("sizes, problem", [
    ([784, 10**13, 10], r"sizes \[784, 10000000000000, 10\] describe 7,950,000,000,000,010 parameters, "
                        r"31,800,000,000,000,040 bytes in float32: more than this machine's memory can give"),
    ([2**32, 2**32, 10], r"describe 18,446,744,120,954,191,882 parameters, 73,786,976,483,816,767,528 bytes in float32: more than any machine can address")])
def test_sizes_beyond_memory_are_a_value_error_naming_parameters_and_bytes(sizes, problem):
    with pytest.raises(ValueError, match=problem):
        fastnn.Network(sizes)


def test_same_seed_gives_bitwise_identical_training(data):
    X, y = data
    a = fastnn.Network([8, 6, 3], seed=5)
    b = fastnn.Network([8, 6, 3], seed=5)
    for net in (a, b):
        net.fit(X, y, 3, 4, 0.5, momentum=0.3, seed=9)
    assert np.array_equal(a.params, b.params)
    c = fastnn.Network([8, 6, 3], seed=5)
    c.fit(X, y, 3, 4, 0.5, momentum=0.3, seed=10)
    assert not np.array_equal(a.params, c.params)


def test_one_seed_drives_the_initial_weights_and_the_shuffles(data):
    X, y = data
    a, b, unshuffled = (fastnn.Network([8, 6, 3], dtype="float64", seed=5) for _ in range(3))
    for net in (a, b):
        net.fit(X, y, 2, 4, 0.5)  # no seed: the shuffles come from the network's seed
    unshuffled.fit(X, y, 2, 4, 0.5, shuffle=False)
    assert np.array_equal(a.params, b.params) and not np.array_equal(a.params, unshuffled.params)
    # the shuffle stream is derived from the seed, not the initial weights' stream reused
    c = fastnn.Network([8, 6, 3], dtype="float64", seed=5)
    order = np.random.default_rng(np.random.SeedSequence(5).spawn(1)[0]).permutation(60)
    c.train_epoch(*c.check_data(X, y)[:2], order, 4, 0.5)
    d = fastnn.Network([8, 6, 3], dtype="float64", seed=5)
    d.fit(X, y, 1, 4, 0.5)
    assert np.array_equal(c.params, d.params)
    # a second fit continues the stream: from the same start weights, it does not repeat the first order
    g = fastnn.Network([8, 6, 3], dtype="float64", seed=5)
    g.fit(X, y, 1, 4, 0.5)
    g.params[:] = fastnn.Network([8, 6, 3], dtype="float64", seed=5).params
    g.fit(X, y, 1, 4, 0.5)
    assert not np.array_equal(g.params, d.params)
    # an explicit fit seed still wins, and a network without a seed shuffles from fresh entropy
    e, f = (fastnn.Network([8, 6, 3], dtype="float64", seed=5) for _ in range(2))
    e.fit(X, y, 1, 4, 0.5, seed=9)
    f.fit(X, y, 1, 4, 0.5, seed=9)
    assert np.array_equal(e.params, f.params) and not np.array_equal(e.params, d.params)
    assert fastnn.Network([8, 6, 3], seed=None).rng.integers(2**62) != fastnn.Network([8, 6, 3]).rng.integers(2**62)


def test_a_seed_must_be_a_non_negative_integer():
    for bad in (-1, 1.5, "0"):
        with pytest.raises(ValueError, match="seed must be"):
            fastnn.Network([2, 2], seed=bad)


def test_read_only_data_is_copied_instead_of_compiling_read_only_kernels(data):
    X, y = data
    X, Y = X.copy(), np.eye(3)[y]
    for A in (X, Y):
        A.flags.writeable = False  # as a memory-mapped file, or joblib's inputs in a worker process
    net = fastnn.Network([8, 6, 3], dtype="float64", seed=0)
    d = net.check_data(X, Y)
    assert d.X.flags.writeable and d.Y.flags.writeable and not X.flags.writeable
    np.testing.assert_array_equal(d.X, X)
    net.fit(X, Y, 1, 4, 0.5)
    net.predict(X)
    from numba import types
    from fastnn import kernels
    for kernel in (kernels.minibatch_epoch, kernels.predict):
        assert not [t for sig in kernel.signatures for t in sig if isinstance(t, types.Array) and not t.mutable]


def test_an_unpickled_network_has_writable_aligned_arrays_even_from_a_read_only_memory_map(tmp_path):
    # joblib memory-maps large arrays read-only (scikit-learn's check_estimator pickles fitted estimators
    # that way); kernels called on them would be compiled again, for read-only arrays.
    import joblib
    net = fastnn.Network([784, 100, 10], seed=0)
    net.reset_optimizer()
    joblib.dump(net, tmp_path / "net.joblib")
    back = joblib.load(tmp_path / "net.joblib", mmap_mode="r")
    arrays = [a for a in back.kernel_args() if isinstance(a, np.ndarray)]
    assert len(arrays) == 4 and all(a.flags.writeable for a in arrays)
    assert back.params.ctypes.data % 64 == 0
    np.testing.assert_array_equal(back.params, net.params)
    X = np.random.default_rng(0).random((3, 784))
    np.testing.assert_array_equal(back.predict(X), net.predict(X))


def test_shuffle_false_processes_examples_in_the_given_order(data):
    X, y = data
    a = fastnn.Network([8, 6, 3], dtype="float64", seed=5)
    b = fastnn.Network([8, 6, 3], dtype="float64", seed=5)
    a.fit(X, y, 1, 1, 0.5, shuffle=False)
    b.train_epoch(X, np.eye(3)[y], np.arange(60), 1, 0.5)
    assert np.array_equal(a.params, b.params)


def test_history_records_what_was_monitored(data):
    X, y = data
    net = fastnn.Network([8, 6, 3], seed=1)
    h = net.fit(X[:40], y[:40], 4, 5, 0.5, validation_data=(X[40:], y[40:]),
                monitor=("training_cost", "training_accuracy", "validation_cost", "validation_accuracy"))
    assert h.epochs == 4 and len(h.epoch_time) == 4
    for values in (h.training_cost, h.training_accuracy, h.validation_cost, h.validation_accuracy):
        assert len(values) == 4
    assert h.training_cost[-1] == pytest.approx(net.total_cost(X[:40], y[:40]))
    assert h.validation_accuracy[-1] == net.accuracy(X[40:], y[40:])
    assert all(0 <= a <= 1 for a in h.training_accuracy)
    assert fastnn.Network([8, 6, 3]).fit(X, y, 2, 5, 0.5).validation_accuracy == []


@pytest.mark.parametrize("batch_size", [1, 10])
def test_training_learns_a_learnable_problem(batch_size):
    X, y = make_learnable(600, 8, 3, seed=4)
    net = fastnn.Network([8, 16, 3], seed=1)
    before = net.total_cost(X[:400], y[:400])
    net.fit(X[:400], y[:400], 30, batch_size, 0.5, seed=2)
    assert net.total_cost(X[:400], y[:400]) < 0.5 * before
    assert net.accuracy(X[400:], y[400:]) > 0.75  # chance is 1/3


def test_early_stopping_restores_the_best_weights(data):
    X, y = data
    net = fastnn.Network([8, 20, 3], seed=1)
    h = net.fit(X[:30], y[:30], 200, 1, 3.0, validation_data=(X[30:], y[30:]), early_stopping=3, seed=0)
    assert h.stopped_early
    assert h.epochs < 200
    best = max(h.validation_accuracy)
    assert h.validation_accuracy[h.best_epoch] == best
    assert h.epochs == h.best_epoch + 1 + 3
    assert net.accuracy(X[30:], y[30:]) == best


def test_targets_and_labels_train_identically(data):
    X, y = data
    a = fastnn.Network([8, 6, 3], seed=1)
    b = fastnn.Network([8, 6, 3], seed=1)
    a.fit(X, y, 2, 3, 0.5, seed=1)
    b.fit(X, np.eye(3)[y], 2, 3, 0.5, seed=1)
    assert np.array_equal(a.params, b.params)


@pytest.mark.parametrize("kwargs,match", [
    (dict(sizes=[5]), "at least 2 layers"),
    (dict(sizes=[5, 0, 2]), "positive integer"),
    (dict(sizes=[5, 2.5, 2]), "positive integer"),
    (dict(activation="softplus"), "unknown activation 'softplus'; choose one of 'sigmoid'"),
    (dict(cost="hinge"), "unknown cost"),
    (dict(init="xavier"), "unknown init"),
    (dict(dtype="float16"), "unknown dtype"),
])
def test_bad_constructor_arguments_are_named(kwargs, match):
    args = dict(sizes=[5, 3, 2])
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        fastnn.Network(args.pop("sizes"), **args)


def bad_fit_cases():
    X, y = make_data(10, 8, 3)
    nan_X = X.copy()
    nan_X[4, 2] = np.nan
    inf_y = np.eye(3)[y]
    inf_y[1, 1] = np.inf
    return [
        (dict(X=X[:, :7]), "X has 7 columns but the network's input layer has 8"),
        (dict(X=X[0]), "X must be 2-D"),
        (dict(X=X[:0], y=y[:0]), "X is empty"),
        (dict(X=nan_X), r"X contains NaN or inf \(first in row 4\)"),
        (dict(X=X.astype(str)), "X must hold numbers"),
        (dict(y=y[:9]), "y has 9 rows but X has 10"),
        (dict(y=np.where(np.arange(10) == 6, 3, y)), r"y has label 3 at row 6, outside \[0, 3\)"),
        (dict(y=np.where(np.arange(10) == 2, -1, y)), "label -1 at row 2"),
        (dict(y=y + 0.5), "integer class labels"),
        (dict(y=inf_y), r"y contains NaN or inf \(first in row 1\)"),
        (dict(y=np.eye(4)[y]), r"labels of shape \(10,\) or targets of shape \(10, 3\)"),
        (dict(batch_size=0), "batch_size must be at least 1"),
        (dict(batch_size=2.0), "batch_size must be an integer"),
        (dict(eta=0.0), "eta must be positive"),
        (dict(eta=-1.0), "eta must be positive"),
        (dict(eta=float("nan")), "eta must be a finite number"),
        (dict(epochs=-1), "epochs must be at least 0"),
        (dict(lmbda=-0.1), "lmbda must be at least 0"),
        (dict(momentum=1.0), "momentum must be below 1"),
        (dict(validation_data=(X[:, :5], y)), "validation_data X has 5 columns"),
        (dict(validation_data=X), "validation_data must be a pair"),
        (dict(early_stopping=2), "early_stopping needs validation_data"),
        (dict(monitor=("validation_cost",)), "needs validation_data"),
        (dict(monitor=("test_accuracy",)), "unknown monitor"),
    ]


@pytest.mark.parametrize("change,match", bad_fit_cases())
def test_bad_fit_arguments_raise_a_named_error(change, match):
    X, y = make_data(10, 8, 3)
    args = dict(X=X, y=y, epochs=1, batch_size=2, eta=0.5)
    args.update(change)
    net = fastnn.Network([8, 4, 3], seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match=match):
        net.fit(**args)
    assert np.array_equal(net.params, before)


def test_divergence_stops_with_the_epoch_and_keeps_the_last_finite_weights():
    X, y = make_data(50, 8, 3, seed=2)
    net = fastnn.Network([8, 30, 30, 3], activation="relu", cost="quadratic", init="large", dtype="float32", seed=0)
    with pytest.raises(fastnn.DivergenceError, match=r"diverged in epoch \d+ .*smaller learning rate"):
        net.fit(X, y, 50, 1, 1e6, seed=0)
    assert np.isfinite(net.params).all()


@pytest.mark.parametrize("suffix", [".json", ".npz"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_and_load_round_trip(tmp_path, suffix, dtype, data):
    X, _ = data
    net = fastnn.Network([8, 5, 3], activation="tanh", cost="log_likelihood", dtype=dtype, seed=3)
    path = tmp_path / f"net{suffix}"
    net.save(path)
    back = fastnn.load(path)
    assert (back.sizes, back.activation, back.cost, back.dtype) == (net.sizes, "tanh", "log_likelihood", net.dtype)
    assert np.array_equal(back.params, net.params)
    assert np.array_equal(back.feedforward(X), net.feedforward(X))
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


def test_corrupt_or_mismatched_model_files_raise_clear_errors(tmp_path):
    net = fastnn.Network([4, 3, 2], dtype="float64", seed=0)
    good = tmp_path / "good.json"
    net.save(good)
    doc = json.loads(good.read_text())
    cases = {
        "truncated.json": good.read_text()[:50],
        "shape.json": json.dumps(dict(doc, sizes=[4, 4, 2])),
        "nan.json": json.dumps(doc).replace(str(doc["weights"][0][0][0]), "NaN", 1),
        "cost.json": json.dumps(dict(doc, cost="os.system", fastnn={})),
        "keys.json": json.dumps({"sizes": [4, 3, 2]}),
    }
    messages = {"truncated.json": "not a valid JSON", "shape.json": "shape", "nan.json": "NaN",
                "cost.json": "unknown cost 'os.system'", "keys.json": "needs 'sizes', 'weights'"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(fastnn.ModelFileError, match=messages[name]):
            fastnn.load(tmp_path / name)
    npz = tmp_path / "good.npz"
    net.save(npz)
    (tmp_path / "cut.npz").write_bytes(npz.read_bytes()[:200])
    with pytest.raises(fastnn.ModelFileError, match="not a valid .npz"):
        fastnn.load(tmp_path / "cut.npz")
    with pytest.raises(ValueError, match="use .json or .npz"):
        net.save(tmp_path / "net.pkl")


def test_a_failed_save_leaves_the_old_file_untouched(tmp_path, monkeypatch):
    net = fastnn.Network([4, 3, 2], seed=0)
    path = tmp_path / "net.npz"
    net.save(path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        net.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["net.npz"]


@pytest.mark.parametrize("version, problem", [(99, "format version 99 is newer than the version 1 this fastnn reads"),
                                               ("banana", "format version 'banana' is unknown to this fastnn, which "
                                                          "reads format version 1"),
                                               (0, "format version 0 is unknown")])
@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_a_model_file_of_an_unknown_or_newer_format_version_is_refused_naming_both(tmp_path, suffix, version, problem):
    net = fastnn.Network([4, 3, 2], seed=0)
    path = tmp_path / f"net{suffix}"
    net.save(path)
    if suffix == ".json":
        doc = json.loads(path.read_text())
        doc["fastnn"]["format_version"] = version
        path.write_text(json.dumps(doc))
    else:
        with np.load(path) as f:
            arrays = dict(f)
        meta = json.loads(str(arrays["meta"]))
        arrays["meta"] = np.array(json.dumps(dict(meta, format_version=version)))
        np.savez(path, **arrays)
    with pytest.raises(fastnn.ModelFileError, match=problem):
        fastnn.load(path)


def test_a_json_value_beyond_float32_is_refused_naming_the_field(tmp_path):
    path = tmp_path / "net.json"
    fastnn.Network([4, 3, 2], dtype="float32", seed=0).save(path)
    doc = json.loads(path.read_text())
    doc["weights"][1][0][2] = 1e300
    path.write_text(json.dumps(doc))
    with pytest.raises(fastnn.ModelFileError, match=r"weights\[1\] holds 1e\+300, beyond the range of the file's dtype "
                                                    r"float32"):
        fastnn.load(path)
    doc["fastnn"]["dtype"] = "float64"  # the same value is fine in float64
    path.write_text(json.dumps(doc))
    assert fastnn.load(path).weights[1][0, 2] == 1e300


def test_assigning_values_beyond_the_dtype_is_refused_and_changes_nothing():
    net = fastnn.Network([4, 3, 2], dtype="float32", seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match="beyond the range of float32"):
        net.weights[0] = np.full((3, 4), 1e300)
    assert np.array_equal(net.params, before)


def test_a_failed_save_names_the_users_path_not_the_temporary_file(tmp_path):
    net = fastnn.Network([4, 3, 2], seed=0)
    with pytest.raises(ValueError, match="the folder .*nodir does not exist"):
        net.save(tmp_path / "nodir" / "x.json")
    (tmp_path / "folder.json").mkdir()
    with pytest.raises(ValueError, match="folder.json is a folder"):
        net.save(tmp_path / "folder.json")
    assert [p.name for p in tmp_path.iterdir()] == ["folder.json"]
    assert list((tmp_path / "folder.json").iterdir()) == []


def test_atomic_write_reports_an_os_error_about_the_users_path(tmp_path):
    from fastnn.serialization import atomic_write
    with pytest.raises(FileNotFoundError, match=r"No such file or directory: '.*nodir/x.json'$"):
        atomic_write(tmp_path / "nodir" / "x.json", lambda f: f.write(b"x"))
    (tmp_path / "x.json").mkdir()
    with pytest.raises(IsADirectoryError, match=r"Is a directory: '.*/x.json'$"):
        atomic_write(tmp_path / "x.json", lambda f: f.write(b"x"))
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # the temporary file is gone


def test_verbose_shows_progress_per_epoch(data, capsys, monkeypatch):
    X, y = data
    fastnn.Network([8, 6, 3], seed=0).fit(X, y, 3, 5, 0.5, validation_data=(X, y), verbose=True)
    err = capsys.readouterr().err
    assert "3/3" in err and "validation_accuracy" in err  # tqdm's bar with the metrics
    import builtins
    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    fastnn.Network([8, 6, 3], seed=0).fit(X, y, 2, 5, 0.5, verbose=True)
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["epoch 1", "epoch 2"]


def test_monitor_may_be_one_name_as_a_string(data):
    X, y = data
    history = fastnn.Network([8, 5, 3], seed=0).fit(X, y, 2, 10, 0.5, validation_data=(X, y),
                                                    monitor="validation_cost")
    assert len(history.validation_cost) == 2 and history.validation_accuracy == []
    with pytest.raises(ValueError, match="unknown monitor 'validation'"):
        fastnn.Network([8, 5, 3], seed=0).fit(X, y, 1, 10, 0.5, validation_data=(X, y), monitor="validation")


def test_fit_calls_the_callback_after_each_epoch_with_its_measurements_and_stops_on_true(data):
    X, y = data
    seen = []

    def callback(history):
        seen.append((history.epochs, len(history.validation_accuracy)))
        return history.epochs == 3
    history = fastnn.Network([8, 5, 3], seed=0).fit(X, y, 10, 10, 0.5, validation_data=(X, y), callback=callback)
    assert seen == [(1, 1), (2, 2), (3, 3)] and history.epochs == 3
    with pytest.raises(ValueError, match="callback must be a function"):
        fastnn.Network([8, 5, 3], seed=0).fit(X, y, 1, 10, 0.5, callback=3)
