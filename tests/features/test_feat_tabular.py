"""Column kinds, multi-hot indicators and scaled numbers on hand-checked tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_core.features.tabular import (
    classify_columns,
    has_value,
    multi_hot,
    scaled_numeric,
    tokens,
)


def test_classify_columns_follows_the_importer_rules():
    frame = pd.DataFrame(
        {
            "title": [f"The long story number {i}" for i in range(60)],
            "brand": ["acme", "globex", "acme", "initech"] * 15,
            "genres": ["Action|Drama", "Comedy", "Drama", "Action"] * 15,
            "tags": [["a", "b"], [], ["c"], None] * 15,
            "price": np.linspace(1.0, 9.0, 60),
            "vector": [np.zeros(3, dtype=np.float32)] * 60,
            "empty": [None] * 60,
        }
    )
    kinds = classify_columns(frame)
    assert kinds.text == ["title"]
    assert kinds.categorical == ["brand"]
    assert kinds.multi_valued == ["genres", "tags"]
    assert kinds.numeric == ["price"]


def test_tokens_split_lists_and_pipe_strings_and_drop_blanks():
    got = tokens(pd.Series(["A|B", None, " C |", "A"], index=["x", "y", "z", "w"]))
    assert got.tolist() == ["A", "B", "C", "A"]
    assert got.index.tolist() == [0, 0, 2, 3]
    assert tokens(pd.Series([["x", "y"], [], None, ["x"]])).index.tolist() == [0, 0, 3]


def test_multi_hot_names_and_values_hand_checked():
    frame = pd.DataFrame(
        {"genres": [["Drama", "Comedy"], ["Drama"], [], ["Sci-Fi", "Drama", "Drama"]]}
    )
    mat, names = multi_hot(frame, ["genres"])
    # Drama (3 items) first, then the ties Comedy and Sci-Fi by name
    assert names == ["genres=Drama", "genres=Comedy", "genres=Sci-Fi"]
    np.testing.assert_array_equal(mat.toarray(), [[1, 1, 0], [1, 0, 0], [0, 0, 0], [1, 0, 1]])
    assert mat.dtype == np.float32


def test_multi_hot_caps_the_vocabulary_per_column_keeping_the_most_frequent():
    frame = pd.DataFrame({"tag": ["a", "a", "a", "b", "b", "c", "d"], "lang": ["en"] * 7})
    mat, names = multi_hot(frame, ["tag", "lang"], max_values=2)
    assert names == ["tag=a", "tag=b", "lang=en"]
    assert mat.shape == (7, 3)
    assert mat[5].toarray().tolist() == [[0, 0, 1]]  # "c" fell off the vocabulary


def test_multi_hot_of_no_usable_column_is_empty():
    mat, names = multi_hot(pd.DataFrame({"g": [None, ""]}), ["g"])
    assert mat.shape == (2, 0) and names == []


def test_scaled_numeric_hand_checked_with_missing_flag():
    frame = pd.DataFrame({"price": [1.0, 3.0, np.nan, np.inf], "year": [2000, 2000, 2000, 2000]})
    block, names = scaled_numeric(frame, ["price", "year"])
    assert names == ["price", "price_missing", "year"]
    # mean 2, population std 1 over the values present; missing and infinite -> 0 + flag
    np.testing.assert_allclose(block[:, 0], [-1.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(block[:, 1], [0, 0, 1, 1])
    np.testing.assert_array_equal(block[:, 2], [0, 0, 0, 0])  # constant column: all 0


def test_scaled_numeric_skips_a_column_without_any_value():
    block, names = scaled_numeric(pd.DataFrame({"x": [np.nan, np.nan]}), ["x"])
    assert block.shape == (2, 0) and names == []


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1.0, np.nan, 0.0], [True, False, True]),
        (["a", "", None], [True, False, False]),
        ([["a"], [], None], [True, False, False]),
    ],
)
def test_has_value_ignores_missing_blank_and_empty_lists(values, expected):
    frame = pd.DataFrame({"c": values})
    np.testing.assert_array_equal(has_value(frame, ["c"]), expected)
