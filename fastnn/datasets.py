"""Reading data sets: the IDX format of MNIST and Fashion-MNIST.

IDX files (``.gz`` or raw) start with a magic number whose third byte gives the
element type (0x08: unsigned byte) and whose fourth the number of dimensions,
followed by the dimensions as big-endian 32-bit integers, then the data.
"""
import gzip
import struct
import zlib
from pathlib import Path

import numpy as np


class DataFileError(ValueError):
    """A data file is missing, truncated, corrupt or not in the expected format."""


def read_idx(path, ndim):
    """Read an IDX file of unsigned bytes with ``ndim`` dimensions; returns a uint8 array."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataFileError(f"{path}: cannot read ({e.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise DataFileError(f"{path}: corrupt or truncated gzip file ({e})") from None
    if len(raw) < 4:
        raise DataFileError(f"{path}: too short to be an IDX file ({len(raw)} bytes)")
    zero, dtype_code, dims = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08 or dims != ndim:
        raise DataFileError(f"{path}: bad IDX magic number 0x{raw[:4].hex()}; expected 0x000008{ndim:02x} "
                            f"(unsigned bytes, {ndim} dimensions)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFileError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape, dtype=np.int64))
    if len(raw) - header != expected:
        raise DataFileError(f"{path}: header says shape {shape} ({expected} bytes of data) but the file holds "
                            f"{len(raw) - header}; the file is truncated or corrupt")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def load_idx(images, labels, dtype=np.float32):
    """Load an IDX image file and its label file.

    Parameters
    ----------
    images, labels : str or Path
        ``*-images-idx3-ubyte[.gz]`` and ``*-labels-idx1-ubyte[.gz]``.
    dtype : numpy dtype
        dtype of X.

    Returns
    -------
    X : array (n, rows*cols) of dtype, pixel intensities scaled to [0, 1]
    y : array (n,) of int64 labels

    Raises
    ------
    DataFileError
        If a file is unreadable, truncated or corrupt, or the two files disagree in length.
    """
    img = read_idx(images, 3)
    lab = read_idx(labels, 1)
    if len(img) != len(lab):
        raise DataFileError(f"{images} holds {len(img)} images but {labels} holds {len(lab)} labels")
    dtype = np.dtype(dtype)
    X = img.reshape(len(img), -1).astype(dtype) / dtype.type(255)
    return X, lab.astype(np.int64)
