"""Validation of real files written into tmp_path: every problem with exact lines and values."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_core.columns import Columns
from recsys_core.data import validate as v
from recsys_core.data.io import read_table
from recsys_core.data.mapping import (
    ColumnMapping,
    ItemMapping,
    UserMapping,
    infer_item_mapping,
    infer_mapping,
)
from recsys_core.data.validate import ValidatedData, validate
from recsys_core.errors import InputError

SAMPLE = Path(v.__file__).parent / "samples" / "ml-latest-small"
NOW = datetime(2024, 1, 1, tzinfo=UTC)
ML = ColumnMapping(user="userId", item="movieId", rating="rating", timestamp="timestamp")


def check(path: Path, mapping: ColumnMapping = ML, **kwargs) -> ValidatedData:
    return validate(read_table(path), mapping, now=NOW, **kwargs)


def codes(data: ValidatedData) -> set[str]:
    return {p.code for p in data.report.problems}


def one(data: ValidatedData, code: str):
    found = [p for p in data.report.problems if p.code == code]
    assert len(found) == 1, [p.code for p in data.report.problems]
    return found[0]


def rows(problem) -> list[tuple[int, str]]:
    return list(zip(problem.examples["line"].tolist(), problem.examples["value"], strict=True))


# ---------------------------------------------------------------------------------- good data
def test_good_file_converts_to_canonical_columns(ratings_file):
    data = check(ratings_file())
    assert data.report.ok and codes(data) == {"too_few_interactions", "too_few_repeat_users"}
    frame = data.interactions
    assert list(frame.columns) == [Columns.user, Columns.item, Columns.rating, Columns.timestamp]
    assert str(frame[Columns.user].dtype) == "str" and frame[Columns.rating].dtype == np.float64
    assert frame[Columns.timestamp].dtype == np.int64 and len(frame) == 20
    assert frame.iloc[0].tolist() == ["1", "101", 2.0, 1577836810]
    assert data.feedback == "explicit" and data.items is None and data.users is None


def test_size_warnings_name_their_constants(ratings_file):
    data = check(ratings_file())
    assert one(data, "too_few_interactions").severity == "warning"
    assert one(data, "too_few_interactions").count == 20
    assert f"~{v.COMFORTABLE_INTERACTIONS:,}" in one(data, "too_few_interactions").message
    assert one(data, "too_few_repeat_users").count == 4


def test_examples_frame_has_the_documented_columns_and_skips_blank_lines(ratings_file):
    data = check(ratings_file(["", "x,9,4,1577836800"]))  # line 22 is blank
    problem = one(data, "mixed_id_types")
    assert list(problem.examples.columns) == ["file", "line", "column", "value"]
    assert problem.examples.iloc[0].tolist() == ["ratings.csv", 23, "userId", "x"]


# ---------------------------------------------------------------------------------- ids
def test_missing_and_nan_ids_are_errors_with_exact_lines(ratings_file):
    extra = [",150,4,1577836800", "NaN,151,4,1577836800", "7,null,4,1577836800"]
    data = check(ratings_file(extra))
    problems = [p for p in data.report.problems if p.code == "missing_id"]
    assert [(p.column, p.count) for p in problems] == [("userId", 2), ("movieId", 1)]
    assert rows(problems[0]) == [(22, ""), (23, "NaN")]
    assert rows(problems[1]) == [(24, "null")]
    assert "ratings.csv, column 'userId': 2 rows with an empty or missing user id" in (
        problems[0].message
    )
    assert "(lines 22, 23)" in problems[0].message and not data.report.ok
    assert len(data.interactions) == 20  # the three bad rows are left out


def test_whitespace_only_id_is_malformed(ratings_file):
    data = check(ratings_file(['"   ",150,4,1577836800']))
    assert rows(one(data, "malformed_id")) == [(22, "   ")]


def test_padded_ids_are_stripped_with_a_warning(ratings_file):
    data = check(ratings_file([" 9 ,150,4,1577836800"]))
    assert rows(one(data, "id_whitespace")) == [(22, " 9 ")]
    assert data.interactions[Columns.user].iloc[-1] == "9" and data.report.ok


def test_mixed_id_types_warn_on_the_minority(ratings_file):
    data = check(ratings_file(["alice,150,4,1577836800"]))
    problem = one(data, "mixed_id_types")
    assert problem.severity == "warning" and rows(problem) == [(22, "alice")]
    assert "a text user id while most ids are numbers" in problem.message


# ---------------------------------------------------------------------------------- ratings
def test_non_numeric_ratings_are_errors(ratings_file):
    data = check(ratings_file(["9,150,good,1577836800", "9,151,,1577836800"]))
    assert rows(one(data, "bad_rating")) == [(22, "good")]
    assert rows(one(data, "missing_rating")) == [(23, "")]
    assert "Ratings must be numbers" in one(data, "bad_rating").message
    assert len(data.interactions) == 20


def test_decimal_comma_is_explained(write, rating_rows):
    lines = ["userId;movieId;rating;timestamp", *rating_rows(sep=";"), "9;150;4,5;1577836800"]
    data = check(write("semi.csv", "\n".join(lines)))
    problem = one(data, "bad_rating")
    assert rows(problem) == [(22, "4,5")] and "decimal comma ('4,5')" in problem.message


def test_out_of_range_ratings_with_rating_range(ratings_file):
    mapping = ML.model_copy(update={"rating_range": (1.0, 5.0)})
    data = check(ratings_file(["9,150,0,1577836800", "9,151,5.5,1577836800"]), mapping)
    problem = one(data, "out_of_range")
    assert rows(problem) == [(22, "0"), (23, "5.5")] and "outside 1 to 5" in problem.message


def test_negative_number_in_a_numeric_column_is_not_a_formula(ratings_file):
    data = check(ratings_file(["9,150,-1,1577836800"]))
    assert "formula_cells" not in codes(data) and data.report.ok


# ---------------------------------------------------------------------------------- timestamps
def test_three_timestamp_formats_in_one_column(ratings_file):
    extra = ["9,150,4,1577836800000", "9,151,4,2020-01-01T00:00:10Z", "9,152,4,2020-01-02"]
    data = check(ratings_file(extra))
    problem = one(data, "mixed_timestamp_formats")
    assert problem.severity == "error" and problem.count == 3
    assert "Unix seconds (20 rows, first on line 2)" in problem.message
    assert "Unix milliseconds (1 rows, first on line 22)" in problem.message
    assert "ISO-8601 dates (2 rows, first on line 23)" in problem.message
    assert rows(problem) == [(2, "1577836810"), (22, "1577836800000"), (23, "2020-01-01T00:00:10Z")]
    assert data.interactions[Columns.timestamp].tolist()[-3:] == [T0, T0 + 10, T0 + 86400]


T0 = 1_577_836_800


def test_iso_timestamps_with_zones_convert_to_utc_seconds(ratings_file, write, rating_rows):
    lines = ["u,i,t", "1,1,2020-01-01", "1,2,2020-01-01 01:00", "2,1,2020-01-01T02:00:00+01:00"]
    data = check(
        write("iso.csv", "\n".join(lines)), ColumnMapping(user="u", item="i", timestamp="t")
    )
    assert data.interactions[Columns.timestamp].tolist() == [T0, T0 + 3600, T0 + 3600]
    assert "mixed_timestamp_formats" not in codes(data)


def test_unparsable_and_missing_timestamps(ratings_file):
    data = check(ratings_file(["9,150,4,31/12/2020", "9,151,4,"]))
    assert rows(one(data, "bad_timestamp")) == [(22, "31/12/2020")]
    assert rows(one(data, "missing_timestamp")) == [(23, "")]


def test_future_timestamps_warn(ratings_file):
    data = check(ratings_file(["9,150,4,1893456000"]))  # 2030-01-01
    problem = one(data, "future_timestamp")
    assert problem.severity == "warning" and rows(problem) == [(22, "1893456000")]
    assert "after 2024-01-01 00:00 UTC" in problem.message and data.report.ok


# ---------------------------------------------------------------------------------- duplicates
def test_many_duplicate_rows_are_counted_fast(write, rating_rows):
    repeated = ["1,101,3,1577836900"] * 100_000
    lines = ["userId,movieId,rating,timestamp", *rating_rows(), *repeated, "2,102,4,1577836901"]
    data = check(write("dups.csv", "\n".join(lines)))
    problem = one(data, "duplicate_pair")
    assert problem.count == 100_001 and problem.severity == "warning"
    assert rows(problem)[0] == (22, "1 / 101 (first on line 2)")
    assert "(2 pairs;" in problem.message and "'dedup' cleaning recipe" in problem.message


# ---------------------------------------------------------------------------------- formulas
def test_formula_cells_in_ids_warn(ratings_file):
    data = check(ratings_file(["=cmd|' /C calc'!A0,150,4,1577836800", "9,-150,4,1577836800"]))
    problem = one(data, "formula_cells")
    assert rows(problem) == [(22, "=cmd|' /C calc'!A0")] and "exports neutralise" in problem.message


# ---------------------------------------------------------------------------------- implicit
def test_event_weights_make_implicit_weights(write):
    lines = ["user,item,action", "1,a,view", "1,b,buy", "2,a,cart", "2,b,View"]
    mapping = ColumnMapping(
        user="user",
        item="item",
        event="action",
        event_weights={"view": 1.0, "buy": 5.0, "like": 2.0},
    )
    data = check(write("ev.csv", "\n".join(lines)), mapping)
    assert data.feedback == "implicit"
    assert data.interactions[Columns.weight].tolist() == [1.0, 5.0, 1.0, 1.0]
    assert data.interactions[Columns.event].tolist() == ["view", "buy", "cart", "View"]
    assert rows(one(data, "unweighted_event")) == [(4, "cart"), (5, "View")]
    assert "['like']" in one(data, "unknown_event_type").message


def test_missing_event_is_an_error(write):
    data = check(
        write("ev.csv", "user,item,action\n1,a,view\n1,b,\n"),
        ColumnMapping(user="user", item="item", event="action"),
    )
    assert rows(one(data, "missing_event")) == [(3, "")]


# ---------------------------------------------------------------------------------- readiness
def test_too_little_data_is_an_error(write):
    data = check(write("tiny.csv", "u,i\n1,a\n2,b\n"), ColumnMapping(user="u", item="i"))
    assert one(data, "too_few_interactions").severity == "error"
    assert one(data, "too_few_repeat_users").severity == "error"
    assert one(data, "too_few_repeat_users").count == 0
    with pytest.raises(InputError) as info:
        data.report.raise_if_errors()
    message = str(info.value)
    assert "2 error(s)" in message and "[too_few_interactions]" in message


def test_report_frame_lists_errors_first(ratings_file):
    data = check(ratings_file([",150,4,1577836800", "9,150,4,1893456000"]))
    table = data.report.to_frame()
    assert list(table.columns) == ["severity", "code", "column", "count", "message"]
    assert table["severity"].tolist()[0] == "error" and table["code"].iloc[0] == "missing_id"
    assert len(data.report.errors) == 1 and not data.report.ok
    with pytest.raises(InputError, match=r"\[missing_id\] ratings\.csv.*line 22"):
        data.report.raise_if_errors()


def test_mapping_naming_a_missing_column_raises(ratings_file):
    with pytest.raises(InputError, match="'stars' is not in the file"):
        check(ratings_file(), ML.model_copy(update={"rating": "stars"}))


# ---------------------------------------------------------------------------------- items
ITEMS = (
    "movieId,title,genres,language,price\n"
    '101,"Heat, The",Action| Crime ||Thriller,en,9.5\n'
    "102,=HYPERLINK(x),Comedy,fr,\n"
    "103,Up,,en,-3\n"
    "102,Again,Drama,en,1\n"
    "999,Unseen,Drama,de,2\n"
)
ITEM_MAP = ItemMapping(
    id="movieId",
    text=["title"],
    categorical=["language"],
    multi_valued=["genres"],
    numeric=["price"],
)


def test_item_attributes_round_trip(ratings_file, write):
    data = check(ratings_file(), items=read_table(write("items.csv", ITEMS)), item_mapping=ITEM_MAP)
    items = data.items
    assert items is not None and items.index.name == Columns.item
    assert items.index.tolist() == ["101", "102", "103", "999"] and str(items.index.dtype) == "str"
    assert list(items.columns) == ["title", "genres", "language", "price"]  # file order
    assert items.loc["101"].tolist()[:3] == ["Heat, The", ["Action", "Crime", "Thriller"], "en"]
    assert items.loc["103", "genres"] == [] and items.loc["101", "price"] == 9.5
    assert items["price"].dtype == np.float64 and np.isnan(items.loc["102", "price"])
    assert items.loc["103", "price"] == -3.0 and items["title"].tolist()[2] == "Up"


def test_item_table_problems(ratings_file, write):
    data = check(ratings_file(), items=read_table(write("items.csv", ITEMS)), item_mapping=ITEM_MAP)
    assert rows(one(data, "duplicate_item_id")) == [(5, "102")]
    assert one(data, "duplicate_item_id").severity == "error"
    assert rows(one(data, "formula_cells")) == [(3, "=HYPERLINK(x)")]
    assert one(data, "formula_cells").file == "items.csv"
    assert rows(one(data, "item_without_interactions")) == [(6, "999")]
    unknown = one(data, "unknown_item")
    assert unknown.count == 5  # items 104..108 are rated (14 rows) but not in the table
    assert "5 items (14 rows, first on lines 5, 6, 11, 16, 21)" in unknown.message
    assert rows(unknown)[0] == (5, "104") and unknown.severity == "warning"
    missing = [p for p in data.report.problems if p.code == "missing_attribute"]
    assert sorted((p.column, p.count) for p in missing) == [("genres", 1), ("price", 1)]


def test_bad_number_in_a_numeric_attribute(ratings_file, write):
    items = read_table(write("items.csv", "movieId,price\n101,abc\n"))
    data = check(
        ratings_file(), items=items, item_mapping=ItemMapping(id="movieId", numeric=["price"])
    )
    assert rows(one(data, "bad_number")) == [(2, "abc")]


def test_user_table_round_trip(ratings_file, write):
    users = read_table(write("users.csv", "userId,age,country\n1,31,NL\n2,,DE\n77,40,FR\n"))
    data = check(
        ratings_file(),
        users=users,
        user_mapping=UserMapping(id="userId", numeric=["age"], categorical=["country"]),
    )
    assert data.users is not None and data.users.index.name == Columns.user
    assert data.users["age"].tolist()[0] == 31.0 and np.isnan(data.users.loc["2", "age"])
    assert data.users.loc["77", "country"] == "FR"
    assert one(data, "unknown_user").count == 2  # users 3 and 4
    assert rows(one(data, "user_without_interactions")) == [(4, "77")]


def test_item_mapping_is_inferred_when_not_given(ratings_file, write):
    data = check(ratings_file(), items=read_table(write("items.csv", ITEMS)))
    assert data.items is not None and data.items.loc["101", "genres"][0] == "Action"


# ---------------------------------------------------------------------------------- presets
def test_u_data_preset_validates(write):
    lines = [f"{u}\t{i}\t{(u + i) % 5 + 1}\t88125{u}{i:03d}" for u in range(1, 6) for i in range(4)]
    raw = read_table(write("u.data", "\n".join(lines) + "\n"))
    data = validate(raw, infer_mapping(raw.frame), now=NOW)
    assert data.report.ok and len(data.interactions) == 20 and data.feedback == "explicit"
    assert data.interactions[Columns.timestamp].iloc[0] == 881251000


def test_parquet_problems_use_row_numbers(tmp_path):
    frame = pd.DataFrame({"u": ["1", None, "3"], "i": ["a", "b", "c"]})
    frame.to_parquet(tmp_path / "b.parquet")
    data = validate(read_table(tmp_path / "b.parquet"), ColumnMapping(user="u", item="i"))
    assert rows(one(data, "missing_id")) == [(2, "")]


# ---------------------------------------------------------------------------------- real data
@pytest.mark.realdata
def test_bundled_movielens_sample_validates_cleanly():
    ratings = read_table(SAMPLE / "ratings.csv")
    movies = read_table(SAMPLE / "movies.csv")
    data = validate(
        ratings,
        infer_mapping(ratings.frame),
        items=movies,
        item_mapping=infer_item_mapping(movies.frame),
    )
    assert data.report.ok and not data.report.errors
    assert codes(data) == {"item_without_interactions"}
    assert one(data, "item_without_interactions").count == 9742 - 9724
    frame = data.interactions
    assert len(frame) == 100_836 and data.feedback == "explicit"
    assert frame[Columns.user].nunique() == 610 and frame[Columns.item].nunique() == 9724
    assert data.items is not None and len(data.items) == 9742
    assert data.items.loc["1", "genres"] == [
        "Adventure",
        "Animation",
        "Children",
        "Comedy",
        "Fantasy",
    ]
    assert one(data, "item_without_interactions").examples.iloc[0].tolist() == [
        "movies.csv",
        818,
        "movieId",
        "1076",
    ]  # line 818 of movies.csv holds 1076,"Innocents, The (1961)" (quoted comma)
