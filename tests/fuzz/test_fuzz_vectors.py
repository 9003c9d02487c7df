"""The vector reader on mutated real files, random bytes and generated NPY/NPZ headers: a
float32 vector per item, or an InputError; never another exception (issue 11 item 8)."""

from __future__ import annotations

import datetime
import decimal
import io
import zipfile

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from recsys_core.errors import InputError
from recsys_core.features import read_item_vectors
from tests.features.hostile_files import npy_header
from tests.fuzz.mutations import FUZZ_READER, Mutation, mutate, mutations, vector_seeds

pytestmark = [
    pytest.mark.fuzz,
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]

SEEDS = vector_seeds()
_F32_MAX = float(np.finfo(np.float32).max)


def check_read(data: bytes, name: str) -> None:
    try:
        vectors = read_item_vectors(data, name)
    except InputError as exc:
        assert name in str(exc) or "NPZ" in str(exc) or len(str(exc)) > 20, str(exc)
        return
    assert isinstance(vectors, pd.Series) and len(vectors) > 0
    assert vectors.index.is_unique and all(isinstance(i, str) and i for i in vectors.index)
    matrix = np.stack(vectors.to_list())
    assert matrix.dtype == np.float32 and np.isfinite(matrix).all()


@FUZZ_READER
@given(name=st.sampled_from(sorted(SEEDS)), edits=mutations())
def test_mutated_vector_files(name: str, edits: list[Mutation]) -> None:
    check_read(mutate(SEEDS[name], edits), name)


@FUZZ_READER
@given(
    data=st.binary(max_size=2000), suffix=st.sampled_from(["csv", "tsv", "parquet", "npy", "npz"])
)
def test_random_bytes(data: bytes, suffix: str) -> None:
    check_read(data, f"v.{suffix}")


_descr = st.one_of(
    st.sampled_from(
        ["<f8", ">f4", "<i8", "|u1", "<f2", "|b1", "<c16", "|O", "<U4", "|S3", "|V8", "<M8[s]",
         "<m8[D]", "<f16"]
    ),
    st.just([("item_id", "<U4"), ("v", "<f4", (3,))]),
    st.just([("item_id", "<U4"), ("v", [("a", "<f4")])]),
    st.just([("id", "<i8"), ("v", "|O")]),
    st.just([("id", "<i8"), ("v", "<f4", (0,))]),
    st.just([("id", "<i8")]),
)  # fmt: skip
_dim = st.one_of(st.integers(0, 8), st.sampled_from([-1, 2**31, 2**63 - 1, 10**12]))


@FUZZ_READER
@given(
    shape=st.lists(_dim, max_size=3).map(tuple),
    descr=_descr,
    payload=st.binary(max_size=512),
    as_npz=st.booleans(),
)
def test_generated_npy_headers(shape: tuple[int, ...], descr: object, payload: bytes, as_npz: bool):
    """Headers promising any shape of any dtype, followed by whatever bytes."""
    data = npy_header(shape, descr) + payload
    if as_npz:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("vectors.npy", data)
            zf.writestr("ids.npy", npy_header((shape[0] if shape else 1,), "<U2") + payload[:16])
        check_read(buf.getvalue(), "v.npz")
    else:
        check_read(data, "v.npy")


_COLUMNS = {
    "text": pa.array(["a", "b", None]),
    "ints": pa.array([1, 2**63 - 1, -(2**63)]),
    "floats": pa.array([0.5, float("nan"), 1e39]),
    "halfs": pa.array([1.0, 2.0, 3.0], type=pa.float16()),
    "bools": pa.array([True, False, None]),
    "binary": pa.array([b"\xff", b"1 2", b""]),
    "decimal": pa.array([decimal.Decimal("1.5"), decimal.Decimal("1e30"), None]),
    "time": pa.array([datetime.datetime(2020, 1, 1), None, datetime.datetime(1, 1, 1)]),
    "nulls": pa.array([None, None, None], type=pa.null()),
    "struct": pa.array([{"x": 1.0}, None, {"x": 2.0}]),
    "map": pa.array([[("k", 1.0)], [], None], type=pa.map_(pa.string(), pa.float64())),
    "lists": pa.array([[1.0, 2.0], [3.0], None]),
    "nested": pa.array([[[1.0]], [[2.0]], []]),
    "text_lists": pa.array([["1", "x"], ["2", "3"], None]),
    "vectors": pa.array(["1 2", "[3, 4]", "5;6"]),
    "fixed": pa.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], type=pa.list_(pa.float64(), 2)),
    "dictionary": pa.array(["1 2", "3 4", "1 2"]).dictionary_encode(),
}


@FUZZ_READER
@given(
    names=st.lists(
        st.sampled_from(["item_id", "id", "v0", "v1", "vector", "x"]),
        min_size=1,
        max_size=4,
        unique=True,
    ),
    kinds=st.lists(st.sampled_from(sorted(_COLUMNS)), min_size=4, max_size=4),
)
def test_generated_parquet_tables(names: list[str], kinds: list[str]) -> None:
    """Parquet files of every column type Arrow writes, in any role."""
    table = pa.table({name: _COLUMNS[kind] for name, kind in zip(names, kinds, strict=False)})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    check_read(buf.getvalue(), "v.parquet")
