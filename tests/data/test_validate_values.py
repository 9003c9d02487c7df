"""Finite, storable values (issue 11): overflow, time range, NUL, names; --map before inference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_core.data import _validate_cells as cells
from recsys_core.data.io import read_table
from recsys_core.data.mapping import infer_mapping, parse_event_weights
from recsys_core.data.validate import validate
from recsys_core.errors import InputError


def _codes(path) -> dict[str, str]:
    raw = read_table(path)
    report = validate(raw, infer_mapping(raw.frame)).report
    return {p.code: p.message for p in report.errors}


def test_numbers_beyond_float32_are_flagged_not_bad() -> None:
    nums = cells.parse_numbers(pd.Series(["1e38", "1e39", "1e308", "1e400", "-1e400", "x"]))
    assert nums.overflow.tolist() == [False, True, True, True, True, False]
    assert nums.bad.tolist() == [False] * 5 + [True]
    assert np.isfinite(nums.values[:1]).all() and np.isnan(nums.values[1:]).all()


@pytest.mark.parametrize("cell", ["1e39", "1e308", "1e400", "-1e400"])
def test_overflowing_rating_is_an_error_on_its_line(ratings_file, cell: str) -> None:
    errors = _codes(ratings_file([f"9,109,{cell},1577836800"]))
    assert list(errors) == ["rating_overflow"] and "(line 22)" in errors["rating_overflow"]


def test_huge_event_weight_cannot_overflow_the_weights() -> None:
    with pytest.raises(InputError, match="from 0 to 1e"):
        parse_event_weights("view=1, buy=1e39")
    with pytest.raises(InputError):
        parse_event_weights("buy=inf")


@pytest.mark.parametrize(
    "cell", ["-99999999999", "-2208988801", "7258118400", "1899-12-31", "2200-01-01T00:00:00Z"]
)
def test_timestamps_outside_1900_to_2200_are_errors(ratings_file, cell: str) -> None:
    errors = _codes(ratings_file([f"9,109,4,{cell}"]))
    assert "(line 22)" in errors["timestamp_out_of_range"]
    assert "before 1900-01-01 or from 2200-01-01 on" in errors["timestamp_out_of_range"]


def test_first_and_last_second_of_the_range_are_accepted(ratings_file) -> None:
    assert _codes(ratings_file(["9,109,4,-2208988800", "9,110,4,7258118399"])) == {}


def test_sparse_nul_bytes_reach_validation_which_names_the_column(write) -> None:
    rows = "".join(f"u{k % 4},i{k % 6},{k % 5 + 1}\n" for k in range(200))
    path = write("r.csv", ("user,item,rating\n" + rows).encode() + b"u1,i\x007,3\n")
    errors = _codes(path)
    assert "column 'item'" in errors["malformed_id"] and "(line 202)" in errors["malformed_id"]


def test_column_names_with_control_characters_are_refused(write) -> None:
    with pytest.raises(InputError, match=r"column 2 has the name 'it\\x1bem'"):
        read_table(write("c.csv", "user,it\x1bem\n1,2\n"))


def test_long_duplicate_listings_are_cut(write) -> None:
    with pytest.raises(InputError) as info:
        read_table(write("d.csv", ",".join(["x"] * 500) + "\n" + ",".join(["1"] * 500) + "\n"))
    assert len(str(info.value)) < 400 and "20, ..." in str(info.value)


def test_overrides_apply_before_inference_fails() -> None:
    frame = pd.DataFrame({"a": ["1"], "b": ["2"], "c": ["3"]})
    with pytest.raises(InputError, match="--map user=COLUMN --map item=COLUMN"):
        infer_mapping(frame)
    mapping = infer_mapping(frame, {"user": "a", "item": "b", "rating": "c"})
    assert (mapping.user, mapping.item, mapping.rating) == ("a", "b", "c")
    assert mapping.resolved_feedback() == "explicit"


def test_override_columns_are_not_guessed_for_other_roles() -> None:
    frame = pd.DataFrame({"userId": ["1"], "rating": ["2"], "movieId": ["3"], "plays": ["4"]})
    mapping = infer_mapping(frame, {"item": "rating"})
    assert (mapping.user, mapping.item, mapping.rating) == ("userId", "rating", "plays")
    assert mapping.resolved_feedback() == "implicit"  # plays is a count, not a rating
    with pytest.raises(InputError, match="no column 'nope'"):
        infer_mapping(frame, {"user": "nope"})
