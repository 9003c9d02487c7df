"""The vector reader on mutated real files, random bytes and generated NPY/NPZ headers: a
float32 vector per item, or an InputError; never another exception (issue 11 item 8)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
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
