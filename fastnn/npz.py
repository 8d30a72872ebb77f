"""Reading .npz archives without trusting them: every member's header is checked before its data is read.

``numpy.load`` trusts an archive. A member whose .npy header claims a 2 TB array makes it
allocate that before reading a byte, and the zip directory decides how far a member
decompresses. Here each member's header is read from the zip stream first
(``numpy.lib.format.read_magic`` and ``read_array_header_1_0``/``2_0``), so a caller can
check the shape and dtype it claims, and the claim is checked against the archive itself:

- the member's size in the zip directory must be the header plus exactly the bytes the
  header declares (what ``numpy.save`` writes), so decompression stops there;
- its compressed size must fit in the file, and deflate cannot expand more than
  ``DEFLATE_RATIO`` times, so a small file cannot claim a large array;
- object arrays (pickles) are refused.

Data are then read into the array in chunks, as they decompress.
"""
import os
import zipfile
from typing import NamedTuple

import numpy as np
from numpy.lib import format as npy

DEFLATE_RATIO = 1032  # deflate's largest expansion (258 bytes from a 2-bit code), rounded up
CHUNK = 1 << 20


class Member(NamedTuple):
    """A checked .npy member of an archive: what its header claims."""

    name: str  # without ".npy"
    shape: tuple
    dtype: np.dtype
    fortran_order: bool
    nbytes: int  # the data's size, as declared by shape and dtype
    info: zipfile.ZipInfo


def members(zf, path, error):
    """{name: Member} of every .npy member of the open ZipFile zf, each header checked (see the module docstring).

    error is the exception class to raise (ModelFileError, DataFileError), with a message naming path.
    """
    size = os.path.getsize(path)
    out = {}
    for info in zf.infolist():
        if not info.filename.endswith(".npy"):
            continue
        name = info.filename[:-4]
        if info.compress_size > size or info.file_size > DEFLATE_RATIO * info.compress_size + 1024:
            raise error(f"{path}: member {name!r} claims {info.file_size:,} bytes from {info.compress_size:,} "
                        f"compressed in a file of {size:,}; the archive is corrupt")
        try:
            with zf.open(info) as f:
                version = npy.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = npy.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, fortran, dtype = npy.read_array_header_2_0(f)
                else:
                    raise error(f"{path}: member {name!r} is a .npy file of version {version}, which is not read here")
                header = f.tell()
        except error:
            raise
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, SyntaxError, TypeError) as e:
            raise error(f"{path}: member {name!r} has no valid .npy header ({e})") from None
        if dtype.hasobject:
            raise error(f"{path}: member {name!r} holds Python objects, which would need pickle; refused")
        nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if header + nbytes != info.file_size:
            raise error(f"{path}: member {name!r} claims shape {shape} of {dtype} ({nbytes:,} bytes) but holds "
                        f"{info.file_size - header:,} bytes; the file is corrupt or truncated")
        out[name] = Member(name, tuple(shape), dtype, fortran, nbytes, info)
    return out


def read(zf, member, path, error):
    """The array of a checked member, read in chunks as it decompresses."""
    out = np.empty(member.nbytes, dtype=np.uint8)
    view = memoryview(out)
    try:
        with zf.open(member.info) as f:
            f.seek(member.info.file_size - member.nbytes)  # past the header (a forward seek reads and drops it)
            done = 0
            while done < member.nbytes:
                n = f.readinto(view[done:done + CHUNK])
                if not n:
                    raise error(f"{path}: member {member.name!r} ends after {done:,} of its {member.nbytes:,} bytes")
                done += n
    except error:
        raise
    except (OSError, EOFError, zipfile.BadZipFile, ValueError) as e:
        raise error(f"{path}: member {member.name!r} is corrupt ({e})") from None
    array = out.view(member.dtype)
    return array.reshape(member.shape, order="F" if member.fortran_order else "C")
