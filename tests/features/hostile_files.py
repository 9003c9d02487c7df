"""Builders of hostile files that are tiny on disk and huge once expanded, made in milliseconds.

A deflate stream of repeated data is built from one compressed block repeated: after a full
flush the compressor forgets its history, so each copy of the block decodes on its own. The
ZIP is written by hand around such a stream (``zipfile`` would compress the whole payload).
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from numpy.lib import format as npy_format

_BLOCK = 2**20


@dataclass(frozen=True)
class RawMember:
    """A ZIP member as stored: name, raw deflate bytes, CRC-32 and size of the payload."""

    name: str
    compressed: bytes
    crc: int
    size: int


def repeated_deflate(prefix: bytes, unit: bytes, repeats: int) -> tuple[bytes, int, int]:
    """Raw deflate of ``prefix + unit * repeats``, with its CRC-32 and its length."""
    head = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = head.compress(prefix) + head.flush(zlib.Z_FULL_FLUSH)
    block = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = block.compress(unit) + block.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # an empty final block
    crc = zlib.crc32(prefix)
    for _ in range(repeats):
        crc = zlib.crc32(unit, crc)
    return start + body * repeats + end, crc, len(prefix) + len(unit) * repeats


def zip_of(members: list[RawMember]) -> bytes:
    """A ZIP (no ZIP64, sizes under 4 GB) holding the deflated members as given."""
    out, central = io.BytesIO(), io.BytesIO()
    for m in members:
        name = m.name.encode()
        offset = out.tell()
        fields = (8, 0, 0x21, m.crc, len(m.compressed), m.size, len(name))
        out.write(struct.pack("<4sHHHHHLLLHH", b"PK\x03\x04", 20, 0, *fields, 0))
        out.write(name + m.compressed)
        entry = struct.pack(
            "<4sHHHHHHLLLHHHHHLL", b"PK\x01\x02", 20, 20, 0, *fields, *[0] * 5, offset
        )
        central.write(entry + name)
    start, directory = out.tell(), central.getvalue()
    out.write(directory)
    n = len(members)
    out.write(struct.pack("<4sHHHHLLH", b"PK\x05\x06", 0, 0, n, n, len(directory), start, 0))
    return out.getvalue()


def npy_header(shape: tuple[int, ...], descr: object = "<f8") -> bytes:
    """An NPY header alone (version 1.0), promising ``shape`` values of ``descr``."""
    buf = io.BytesIO()
    npy_format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def zeros_npz_member(name: str, megabytes: int) -> RawMember:
    """An NPY member of ``megabytes`` MB of float64 zeros (about 1 KB per MB compressed)."""
    header = npy_header((megabytes * _BLOCK // 8, 1))
    data, crc, size = repeated_deflate(header, bytes(_BLOCK), megabytes)
    return RawMember(name, data, crc, size)


def solid_png(width: int, height: int, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A valid PNG of one colour; 6000 x 6000 takes about a kilobyte."""
    row = b"\x00" + bytes(colour) * width
    per_block = max(1, _BLOCK // len(row))
    blocks, rest = divmod(height, per_block)
    raw, _, _ = repeated_deflate(b"", row * per_block, blocks)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = raw[:-2] + tail.compress(row * rest) + tail.flush()  # drop the empty final block
    adler = 1
    for _ in range(blocks):
        adler = zlib.adler32(row * per_block, adler)
    adler = zlib.adler32(row * rest, adler)
    idat = b"\x78\xda" + raw + struct.pack(">L", adler)
    ihdr = struct.pack(">LLBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">L", len(data)) + kind + data + struct.pack(">L", zlib.crc32(kind + data))
