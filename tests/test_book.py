"""fastnn.network / fastnn.network2 against the book's own network.py / network2.py (tests/book)."""
import random

import numpy as np
import pytest

from book import network as book_network
from book import network2 as book_network2
from conftest import make_learnable
from fastnn import network, network2


def book_data(n, n_in, n_out, seed=0, vector_labels=True):
    X, y = make_learnable(n, n_in, n_out, seed)
    if vector_labels:
        return [(x.reshape(-1, 1), np.eye(n_out)[t].reshape(-1, 1)) for x, t in zip(X, y)]
    return [(x.reshape(-1, 1), int(t)) for x, t in zip(X, y)]


def seeded(make, seed=42):
    np.random.seed(seed)
    random.seed(seed)
    return make()


def assert_same_params(ours, theirs, atol=1e-10):
    assert len(ours.weights) == len(theirs.weights)
    for a, b in zip(ours.weights + ours.biases, theirs.weights + theirs.biases):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=0, atol=atol)


@pytest.mark.parametrize("batch_size", [1, 5, 10])
def test_network_sgd_gives_the_books_numbers_and_output(batch_size, capsys):
    train = book_data(53, 6, 3, seed=1)
    test = book_data(30, 6, 3, seed=2, vector_labels=False)
    theirs = seeded(lambda: book_network.Network([6, 5, 3]))
    theirs.SGD(list(train), 4, batch_size, 3.0, test_data=test)
    their_out = capsys.readouterr().out
    ours = seeded(lambda: network.Network([6, 5, 3]))
    ours.SGD(list(train), 4, batch_size, 3.0, test_data=test)
    assert capsys.readouterr().out == their_out
    assert their_out.count("Epoch") == 4
    assert_same_params(ours, theirs)
    assert ours.evaluate(test) == theirs.evaluate(test)
    x = train[0][0]
    np.testing.assert_allclose(ours.feedforward(x), theirs.feedforward(x), atol=1e-12)
    assert ours.feedforward(x).shape == (3, 1)
    for a, b in zip(sum(ours.backprop(*train[0]), []), sum(theirs.backprop(*train[0]), [])):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_network_without_test_data_prints_epoch_complete(capsys):
    net = network.Network([6, 4, 3])
    net.SGD(book_data(20, 6, 3), 2, 5, 1.0)
    assert capsys.readouterr().out == "Epoch 0 complete\nEpoch 1 complete\n"


@pytest.mark.parametrize("cost", ["QuadraticCost", "CrossEntropyCost"])
@pytest.mark.parametrize("init", ["default", "large"])
def test_network2_sgd_gives_the_books_numbers_and_monitoring_lists(cost, init, capsys):
    # 10 outputs: the book's vectorized_result (used by total_cost(convert=True)) assumes 10 classes.
    train = book_data(47, 6, 10, seed=3)
    evaluation = book_data(25, 6, 10, seed=4, vector_labels=False)
    runs = []
    for module in (book_network2, network2):
        def make():
            net = module.Network([6, 5, 4, 10], cost=getattr(module, cost))
            if init == "large":
                net.large_weight_initializer()
            return net
        net = seeded(make)
        lists = net.SGD(list(train), 3, 10, 0.5, lmbda=2.0, evaluation_data=evaluation,
                        monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                        monitor_training_cost=True, monitor_training_accuracy=True)
        runs.append((net, lists, capsys.readouterr().out))
    (theirs, their_lists, their_out), (ours, our_lists, our_out) = runs
    assert_same_params(ours, theirs)
    for mine, book in zip(our_lists, their_lists):
        assert len(mine) == len(book) == 3
        np.testing.assert_allclose(mine, book, rtol=1e-10)
    assert all(isinstance(a, int) for a in our_lists[1] + our_lists[3])
    # The printed costs may differ in the last digit (fastnn computes the log costs stably); the rest is identical.
    def no_costs(text):
        return [line for line in text.splitlines() if not line.startswith("Cost on")]
    assert no_costs(our_out) == no_costs(their_out)
    assert ours.accuracy(train, convert=True) == theirs.accuracy(train, convert=True)
    assert ours.total_cost(evaluation, 2.0, convert=True) == pytest.approx(
        theirs.total_cost(evaluation, 2.0, convert=True), rel=1e-10)


def books_early_stop(accuracies, n):
    """How many epochs the book's network2.SGD (upstream, with early_stopping_n=n) runs, given the evaluation
    accuracy of each epoch: the best starts at 0, and it returns once n epochs in a row have not beaten it."""
    best, since = 0, 0
    for j, accuracy in enumerate(accuracies):
        best, since = (accuracy, 0) if accuracy > best else (best, since + 1)
        if since == n:
            return j + 1
    return len(accuracies)


@pytest.mark.parametrize("eta, n", [(0.05, 2), (3.0, 3)])
def test_network2_early_stopping_runs_the_books_epochs_and_prints_nothing_more(eta, n, capsys):
    train, ev = book_data(40, 6, 3, seed=6), book_data(15, 6, 3, seed=5, vector_labels=False)
    monitor = dict(evaluation_data=ev, monitor_evaluation_accuracy=True)
    theirs = seeded(lambda: book_network2.Network([6, 4, 3]))
    stop = books_early_stop(theirs.SGD(list(train), 40, 10, eta, **monitor)[1], n)
    assert stop < 40
    capsys.readouterr()
    theirs = seeded(lambda: book_network2.Network([6, 4, 3]))
    their_lists = theirs.SGD(list(train), stop, 10, eta, **monitor)
    their_out = capsys.readouterr().out
    ours = seeded(lambda: network2.Network([6, 4, 3]))
    our_lists = ours.SGD(list(train), 40, 10, eta, early_stopping_n=n, **monitor)
    assert our_lists == their_lists and len(our_lists[1]) == stop
    assert capsys.readouterr().out == their_out  # no "Early-stopping" line: the book's is commented out
    assert_same_params(ours, theirs)


def test_json_files_move_between_the_book_and_fastnn(tmp_path):
    theirs = seeded(lambda: book_network2.Network([6, 5, 3], cost=book_network2.QuadraticCost))
    theirs.save(str(tmp_path / "book.json"))
    ours = network2.load(str(tmp_path / "book.json"))
    assert ours.cost is network2.QuadraticCost
    assert_same_params(ours, theirs, atol=0)
    from fastnn import load
    arr = load(tmp_path / "book.json")
    assert arr.cost == "quadratic" and arr.dtype == np.float64
    ours.save(str(tmp_path / "ours.json"))
    back = book_network2.load(str(tmp_path / "ours.json"))
    assert back.cost is book_network2.QuadraticCost
    assert_same_params(ours, back, atol=0)


def test_book_weights_and_biases_have_the_books_shapes_and_assign_through():
    net = network2.Network([4, 3, 2])
    assert [b.shape for b in net.biases] == [(3, 1), (2, 1)]
    net.biases = [np.ones((3, 1)), np.zeros((2, 1))]
    net.biases[1] = np.full((2, 1), 5.0)
    net.weights[0][:] = 0.0
    np.testing.assert_allclose(net.feedforward(np.zeros((4, 1))),
                                  book_network2.sigmoid(net.weights[1] @ book_network2.sigmoid(np.ones((3, 1))) + 5), rtol=1e-14)
    cols = np.random.default_rng(0).random((4, 7))
    assert net.feedforward(cols).shape == (2, 7)


def test_network2_refuses_a_cost_it_cannot_compile():
    class HingeCost:
        pass
    with pytest.raises(ValueError, match="QuadraticCost or CrossEntropyCost"):
        network2.Network([3, 2], cost=HingeCost)


def test_network2_load_refuses_what_network2_cannot_represent(tmp_path):
    import fastnn
    fastnn.Network([3, 2], activation="relu", cost="log_likelihood").save(tmp_path / "relu.json")
    with pytest.raises(fastnn.ModelFileError, match="use fastnn.load"):
        network2.load(tmp_path / "relu.json")


def test_network2_accepts_the_books_cost_classes_and_refuses_impostors_named_like_them():
    net = network2.Network([6, 4, 3], cost=book_network2.CrossEntropyCost)
    assert net._net.cost == "cross_entropy"
    assert network2.Network([6, 4, 3], cost=book_network2.QuadraticCost)._net.cost == "quadratic"

    class CrossEntropyCost:  # the book's name, another cost
        @staticmethod
        def fn(a, y):
            return np.sum(np.abs(a - y))

        @staticmethod
        def delta(z, a, y):
            return np.sign(a - y)
    with pytest.raises(ValueError, match="custom costs are not supported"):
        network2.Network([6, 4, 3], cost=CrossEntropyCost)
    with pytest.raises(ValueError, match="custom costs are not supported"):
        net.cost = CrossEntropyCost
    assert net.cost is book_network2.CrossEntropyCost  # unchanged by the refused assignment


def test_a_label_out_of_range_is_named_as_the_label():
    data = [(np.zeros((6, 1)), 0), (np.zeros((6, 1)), 3)]
    with pytest.raises(ValueError, match=r"^test_data y has label 3 at row 1, outside \[0, 3\)"):
        network.Network([6, 4, 3]).evaluate(data)
    with pytest.raises(ValueError, match=r"^data y has label 3 at row 1"):
        network2.Network([6, 4, 3]).accuracy(data)
