"""Uploaded per-item vectors: every accepted layout, and every bad input named by row."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recsys_core.columns import Columns
from recsys_core.errors import InputError
from recsys_core.features import attach_item_vectors, read_item_vectors

EXPECTED = {"a": [1.0, 2.0, 3.0], "b": [0.5, -1.0, 0.0]}


def _check(series: pd.Series) -> None:
    assert series.index.tolist() == list(EXPECTED)
    assert series.index.name == Columns.item
    for key, values in EXPECTED.items():
        assert series[key].dtype == np.float32
        np.testing.assert_allclose(series[key], values)


def test_csv_with_value_columns():
    _check(read_item_vectors(b"item_id,v0,v1,v2\na,1,2,3\nb,0.5,-1,0\n", "vec.csv"))


def test_csv_with_one_string_column_and_tsv():
    _check(read_item_vectors(b'id,vector\na,"1 2 3"\nb,"[0.5, -1, 0]"\n', "vec.csv"))
    _check(read_item_vectors(b"item_id\tvector\na\t1 2 3\nb\t0.5 -1 0\n", "vec.tsv"))


def test_numeric_ids_are_read_as_text():
    got = read_item_vectors(b"item_id,v0\n007,1\n12,2\n", "v.csv")
    assert got.index.tolist() == ["007", "12"]


def _parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def test_parquet_with_value_columns_and_with_a_list_column():
    cols = pa.table({"item_id": ["a", "b"], "v0": [1.0, 0.5], "v1": [2.0, -1.0], "v2": [3, 0]})
    _check(read_item_vectors(_parquet(cols), "vec.parquet"))
    lists = pa.table({"item_id": ["a", "b"], "embedding": [[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]]})
    _check(read_item_vectors(_parquet(lists), "vec.parquet"))


def test_npz_with_ids_and_matrix():
    buf = io.BytesIO()
    np.savez(buf, ids=np.array(["a", "b"]), vectors=np.array(list(EXPECTED.values())))
    _check(read_item_vectors(buf.getvalue(), "vec.npz"))


def test_npy_structured_and_matrix_with_id_column():
    dtype = np.dtype([("item_id", "U4"), ("vector", "f4", (3,))])
    arr = np.array([("a", EXPECTED["a"]), ("b", EXPECTED["b"])], dtype=dtype)
    buf = io.BytesIO()
    np.save(buf, arr)
    _check(read_item_vectors(buf.getvalue(), "vec.npy"))
    buf = io.BytesIO()
    np.save(buf, np.array([[7, 1.0, 2.0], [8, 3.0, 4.0]]))
    got = read_item_vectors(buf.getvalue(), "vec.npy")
    assert got.index.tolist() == ["7", "8"]
    np.testing.assert_allclose(got["8"], [3.0, 4.0])


def test_mixed_dimensions_name_the_file_and_rows():
    data = b'item_id,vector\na,"1 2 3"\nb,"1 2"\nc,"1 2 3"\nd,"4 5 6 7"\n'
    with pytest.raises(InputError, match=r"vec\.csv.*rows 2, 4 have \[2, 4\] values"):
        read_item_vectors(data, "vec.csv")


def test_nan_inf_and_text_values_name_the_rows():
    data = b"item_id,v0,v1\na,1,2\nb,nan,2\nc,1,inf\nd,x,1\ne,1,\n"
    with pytest.raises(InputError, match=r"non-numeric or infinite values in row\(s\) 2, 3, 4, 5"):
        read_item_vectors(data, "vec.csv")


def test_missing_and_duplicate_ids_are_both_reported():
    data = b"item_id,v0\na,1\n,2\nb,3\na,4\n"
    with pytest.raises(InputError) as err:
        read_item_vectors(data, "vec.csv")
    message = str(err.value)
    assert "no item id in row(s) 2" in message
    assert "duplicate item ids in row(s) 1, 4 (e.g. 'a')" in message


def test_many_offending_rows_are_summarised():
    rows = "".join(f"x,{i}\n" for i in range(8))
    with pytest.raises(InputError, match=r"1, 2, 3, 4, 5 \(and 3 more\)"):
        read_item_vectors(f"item_id,v0\n{rows}".encode(), "vec.csv")


@pytest.mark.parametrize(
    ("data", "name", "match"),
    [
        (b"a,b\n", "vec.json", "unknown vector file type"),
        (b"not parquet", "vec.parquet", "cannot be read"),
        (b"junk", "vec.npz", "cannot be read"),
        (b"item_id\na\n", "vec.csv", "needs an item id column and vector values"),
        (b"item_id,v0\n", "vec.csv", "holds no rows"),
    ],
)
def test_unreadable_files_raise_input_error(data, name, match):
    with pytest.raises(InputError, match=match):
        read_item_vectors(data, name)


def test_npy_without_ids_and_npz_without_matrix_explain_the_layout():
    buf = io.BytesIO()
    np.save(buf, np.ones(4))
    with pytest.raises(InputError, match="needs item ids"):
        read_item_vectors(buf.getvalue(), "v.npy")
    buf = io.BytesIO()
    np.savez(buf, ids=np.array(["a"]))
    with pytest.raises(InputError, match="one 2-D"):
        read_item_vectors(buf.getvalue(), "v.npz")


def test_attach_item_vectors_adds_the_column_and_new_items():
    items = pd.DataFrame({"title": ["A", "B"]}, index=pd.Index(["a", "b"], name=Columns.item))
    vectors = read_item_vectors(b"item_id,v0\nb,1\nz,2\n", "v.csv")
    out = attach_item_vectors(items, vectors)
    assert out.index.tolist() == ["a", "b", "z"]
    assert pd.isna(out.loc["a", "image"]) and out.loc["z", "image"].tolist() == [2.0]
    assert out.loc["b", "title"] == "B"
