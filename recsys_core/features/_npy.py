"""NPY and NPZ arrays read header first: shape x dtype is checked before any value is read.

``np.load`` trusts the header: a few bytes claiming shape (10**12, 2) ask for terabytes, a
small NPZ member can inflate to gigabytes, and nested or object dtypes fail deep inside numpy.
Here the header is parsed on its own (``numpy.lib.format``), the dtype must be plain numbers
or text, the size must fit ``RECSYS_MAX_VECTOR_MB`` and match the bytes actually present, and
only then is the data read (for NPZ, only the members asked for are decompressed).
"""

from __future__ import annotations

import io
import math
import tokenize
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO

import numpy as np
from numpy.lib import format as npy_format

from recsys_core.errors import InputError
from recsys_core.features._limits import MB, VECTOR_MB, ZIP_ENTRIES

#: dtype kinds an array or a field may hold: integers, floats, and text (for ids).
_KINDS = "iufUS"
#: What zipfile and zlib raise for a damaged, encrypted or exotic member.
_ZIP_ERRORS = (
    zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError, ValueError, OSError
)  # fmt: skip
_HEADER_BYTES = 16 + 10_000  # magic, length and numpy's largest accepted header


@dataclass(frozen=True)
class Header:
    """What an NPY header promises: shape, dtype, memory order and where the data starts."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool
    offset: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def read_header(fp: IO[bytes], label: str) -> Header:
    """Parse and check the header at ``fp``'s position (left just after it).

    Raises:
        InputError: not an NPY header, a version numpy's public reader does not parse, a
            negative dimension, or a dtype other than flat numbers and text.
    """
    try:
        version = npy_format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dtype = npy_format.read_array_header_2_0(fp)
        else:
            raise InputError(
                f"{label}: NPY format version {version[0]}.{version[1]} is not read here; "
                "save with np.save and ASCII field names (format 1.0 or 2.0)."
            )
    except InputError:
        raise
    except (ValueError, EOFError, SyntaxError, tokenize.TokenError) as exc:
        # numpy parses the header as a Python literal: a damaged one fails in its tokenizer
        raise InputError(f"{label}: not a readable NPY array ({exc}).") from None
    if any(d < 0 for d in shape):
        raise InputError(f"{label}: the NPY header has a negative dimension {shape}.")
    problem = dtype_problem(dtype)
    if problem is not None:
        raise InputError(f"{label}: holds {problem}; save numbers (and ids as numbers or text).")
    return Header(tuple(shape), dtype, bool(fortran), fp.tell())


def dtype_problem(dtype: np.dtype) -> str | None:
    """Why ``dtype`` is refused, or None: flat numbers/text, or a record of such fields."""
    if dtype.names is None:
        if dtype.hasobject:
            return "Python objects (pickled data is never loaded)"
        return None if dtype.kind in _KINDS else f"values of type {dtype}"
    for field in dtype.names:
        base = dtype.fields[field][0].base  # type: ignore[index]
        if base.names is not None:
            return f"a nested record in field {field!r}"
        if base.hasobject or base.kind not in _KINDS:
            return f"values of type {base} in field {field!r}"
    return None


def check_size(header: Header, present: int, label: str) -> None:
    """Refuse an array over the limit, or whose data is not exactly the ``present`` bytes."""
    limit = VECTOR_MB.value() * MB
    if header.nbytes > limit:
        raise InputError(
            f"{label}: an array of shape {header.shape} x {header.dtype.itemsize} bytes "
            f"({header.nbytes / MB:,.0f} MB) is over the limit of {VECTOR_MB.describe()}."
        )
    if present != header.nbytes:
        raise InputError(
            f"{label}: is damaged: its header promises {header.nbytes:,} bytes of values "
            f"(shape {header.shape}) but the file holds {present:,}."
        )


def _array(buffer: bytes, header: Header) -> np.ndarray:
    flat = np.frombuffer(buffer, dtype=header.dtype, count=math.prod(header.shape))
    if header.fortran:
        return flat.reshape(header.shape[::-1]).T
    return flat.reshape(header.shape)


def npy_array(data: bytes, name: str) -> np.ndarray:
    """The array of an NPY file, after its header passed every check."""
    fp = io.BytesIO(data)
    header = read_header(fp, name)
    check_size(header, len(data) - header.offset, name)
    return _array(data[header.offset :], header)


def npz_headers(archive: zipfile.ZipFile, name: str) -> dict[str, tuple[zipfile.ZipInfo, Header]]:
    """Each member's header (keys as ``np.load`` names them), from the ZIP directory first.

    The members' declared sizes are summed and checked before anything is decompressed; then
    only each header (a few hundred bytes) is inflated.
    """
    infos = [i for i in archive.infolist() if not i.filename.endswith("/")]  # is_dir() fails on ""
    if len(infos) > ZIP_ENTRIES.value():
        raise InputError(f"{name}: holds {len(infos):,} arrays, over {ZIP_ENTRIES.describe()}.")
    total = sum(i.file_size for i in infos)
    if total > VECTOR_MB.value() * MB:
        raise InputError(
            f"{name}: its arrays take {total / MB:,.0f} MB once decompressed, over the limit "
            f"of {VECTOR_MB.describe()}."
        )
    out = {}
    for info in infos:
        key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        label = f"{name}: array {key!r}"
        header = read_header(io.BytesIO(_extract(archive, info, label, _HEADER_BYTES)), label)
        check_size(header, info.file_size - header.offset, label)
        out[key] = (info, header)
    return out


def npz_array(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, header: Header, label: str
) -> np.ndarray:
    """One member's array (its size was checked by ``npz_headers``)."""
    buffer = _extract(archive, info, label)
    if len(buffer) != header.offset + header.nbytes:
        raise InputError(f"{label} is damaged (its size does not match its header).")
    return _array(buffer[header.offset :], header)


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, limit: int = -1) -> bytes:
    """A member's bytes (at most ``limit``); inflating never exceeds its declared size."""
    try:
        with archive.open(info) as fp:
            return fp.read(limit)
    except _ZIP_ERRORS as exc:  # a damaged archive fails in zipfile or zlib
        raise InputError(f"{label} cannot be extracted ({exc}).") from None
