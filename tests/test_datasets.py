"""The IDX loader: real files, generated fixtures, and every way a file can be broken."""
import gzip
import hashlib
import os
import struct
from pathlib import Path

import numpy as np
import pytest

import fastnn
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
