"""Hostile vector files (issue 11 items 7 and 8): headers checked before any value is read."""

from __future__ import annotations

import io
import tracemalloc
import zipfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recsys_core.errors import InputError
from recsys_core.features import read_item_vectors
from tests.features.hostile_files import (
    RawMember,
    npy_bytes,
    npy_header,
    repeated_deflate,
    zeros_npz_member,
    zip_of,
)


def _refused_with_peak(data: bytes, name: str) -> tuple[str, float]:
    """The InputError's message and the peak traced allocation (MB) while reading."""
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as err:
            read_item_vectors(data, name)
    finally:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return str(err.value), peak


def test_npz_member_of_a_gigabyte_of_zeros_is_refused_before_decompressing():
    ids = npy_bytes(np.array(["a", "b"]))
    ids_member = RawMember("ids.npy", *repeated_deflate(ids, b"", 0))
    data = zip_of([ids_member, zeros_npz_member("vectors.npy", 1024)])
    assert len(data) < 1.5 * 2**20  # the reproduction: 1 GB of zeros in a 1 MB file
    message, peak = _refused_with_peak(data, "v.npz")
    assert "v.npz: its arrays take 1,024 MB once decompressed" in message
    assert "over the limit of 512 MB (RECSYS_MAX_VECTOR_MB)" in message
    assert peak < 20


def test_npy_header_claiming_a_trillion_rows_is_refused_not_allocated():
    message, peak = _refused_with_peak(npy_header((10**12, 2)) + bytes(16), "v.npy")
    assert "shape (1000000000000, 2)" in message and "RECSYS_MAX_VECTOR_MB" in message
    assert peak < 5
    message, _ = _refused_with_peak(npy_header((1000, 2)) + bytes(16), "v.npy")
    assert "is damaged: its header promises 16,000 bytes of values" in message
    assert "the file holds 16" in message


def test_npz_member_whose_header_promises_more_than_it_holds():
    small = npy_header((10**9, 3)) + bytes(24)
    data = zip_of([RawMember("vectors.npy", *repeated_deflate(small, b"", 0))])
    message, peak = _refused_with_peak(data, "v.npz")
    assert "array 'vectors'" in message and "over the limit" in message and peak < 5
    small = npy_header((100, 3)) + bytes(24)
    ids = npy_bytes(np.arange(100))
    members = [RawMember(n, *repeated_deflate(b, b"", 0)) for n, b in [("v.npy", small)]]
    data = zip_of([*members, RawMember("ids.npy", *repeated_deflate(ids, b"", 0))])
    message, _ = _refused_with_peak(data, "v.npz")
    assert "array 'v': is damaged" in message


@pytest.mark.parametrize(
    ("dtype", "match"),
    [
        (
            np.dtype([("item_id", "U4"), ("v", [("a", "f4"), ("b", "f4")])]),
            "a nested record in field 'v'",
        ),
        (np.dtype([("item_id", "U4"), ("v", "c16")]), "values of type complex128 in field 'v'"),
        (np.dtype([("item_id", "U4"), ("when", "M8[s]")]), "datetime64"),
    ],
)
def test_structured_npy_with_unusable_fields_is_refused(dtype: np.dtype, match: str):
    data = npy_bytes(np.zeros(3, dtype=dtype))
    with pytest.raises(InputError, match=match):
        read_item_vectors(data, "v.npy")


def test_object_and_odd_npy_arrays_are_refused_with_a_reason():
    buf = io.BytesIO()
    np.save(buf, np.array([["a", 1.0]], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="Python objects"):
        read_item_vectors(buf.getvalue(), "v.npy")
    with pytest.raises(InputError, match="values of type bool"):
        read_item_vectors(npy_bytes(np.ones((2, 3), dtype=bool)), "v.npy")
    record = np.zeros((), dtype=[("item_id", "U4"), ("v", "f4", (3,))])
    with pytest.raises(InputError, match=r"one row per item.*shape \(\)"):
        read_item_vectors(npy_bytes(record), "v.npy")
    version3 = bytearray(npy_bytes(np.ones((2, 3))))
    version3[6] = 3
    with pytest.raises(InputError, match=r"NPY format version 3\.0"):
        read_item_vectors(bytes(version3), "v.npy")


def test_fortran_order_npy_and_text_ids_in_npz_still_read():
    matrix = np.asfortranarray([[7.0, 1.0, 2.0], [8.0, 3.0, 4.0]])
    got = read_item_vectors(npy_bytes(matrix), "v.npy")
    np.testing.assert_allclose(got["8"], [3.0, 4.0])
    buf = io.BytesIO()
    np.savez_compressed(buf, item_id=np.array(["x", "yy"]), embeddings=np.eye(2), extra=np.ones(3))
    got = read_item_vectors(buf.getvalue(), "v.npz")
    assert got.index.tolist() == ["x", "yy"]


def test_values_that_overflow_float32_are_refused_with_their_rows():
    data = b"item_id,v0,v1\na,1,2\nb,1e39,2\nc,3,-4e38\nd,3.4e38,0\n"
    with pytest.raises(InputError, match=r"too large for the 32-bit floats.*row\(s\) 2, 3\. "):
        read_item_vectors(data, "v.csv")
    matrix = np.array([[1.0, 0.5], [2.0, 1e300]])
    with pytest.raises(InputError, match=r"too large.*row\(s\) 2"):
        read_item_vectors(npy_bytes(matrix), "v.npy")


def test_parquet_larger_than_the_limit_once_decompressed(monkeypatch: pytest.MonkeyPatch):
    buf = io.BytesIO()
    table = pa.table({"item_id": np.arange(200_000).astype(str), "v0": np.zeros(200_000)})
    pq.write_table(table, buf)
    monkeypatch.setenv("RECSYS_MAX_VECTOR_MB", "1")
    with pytest.raises(InputError, match=r"over the limit of 1 MB \(RECSYS_MAX_VECTOR_MB\)"):
        read_item_vectors(buf.getvalue(), "v.parquet")


def test_npz_that_is_not_a_zip_or_has_a_broken_member():
    with pytest.raises(InputError, match="cannot be read as NPZ"):
        read_item_vectors(b"PK\x03\x04 not really", "v.npz")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ids.npy", b"not an array")
    with pytest.raises(InputError, match="array 'ids': not a readable NPY array"):
        read_item_vectors(buf.getvalue(), "v.npz")


def test_npy_header_that_numpy_cannot_tokenize_is_an_input_error():
    """Found by the fuzz suite: numpy raises SyntaxError or TokenError, not ValueError."""
    data = bytearray(npy_bytes(np.ones((2, 3))))
    data[8], data[10] = 0x2C ^ data[8], 0x2C ^ data[10]
    with pytest.raises(InputError, match="not a readable NPY array"):
        read_item_vectors(bytes(data), "v.npy")
    nul = bytearray(npy_bytes(np.ones((2, 3))))
    nul[20] = 0
    with pytest.raises(InputError, match="not a readable NPY array"):
        read_item_vectors(bytes(nul), "v.npy")


def test_text_vectors_are_parsed_without_an_object_per_value():
    """Numbers in a text column follow pandas' rules: '+5', '.5', '1e5' read, '0x10' does not."""
    data = b'id,vector\na,"[+5, .5; 1e5]"\nb,"0x10 1 2"\nc,"1 2 \xd9\xa3"\nd,"  7   8 9 "\n'
    with pytest.raises(InputError, match=r"non-numeric or infinite values in row\(s\) 2, 3\. "):
        read_item_vectors(data, "v.csv")
    got = read_item_vectors(b'id,vector\na,"[+5, .5; 1e5]"\nd,"  7   8 9 "\n', "v.csv")
    np.testing.assert_allclose(got["a"], [5, 0.5, 1e5])
    np.testing.assert_allclose(got["d"], [7, 8, 9])


def test_a_text_vector_column_with_missing_cells_names_the_rows():
    table = pa.table({"item_id": ["a", "b", "c"], "vector": ["1 2", None, "3 4"]})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    with pytest.raises(InputError, match=r"rows 2 have \[0\] values"):
        read_item_vectors(buf.getvalue(), "v.parquet")
