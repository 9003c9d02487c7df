"""Column-role mappings: models, inference from names and values, CLI overrides, checks."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import BaseModel, ValidationError

from recsys_core.columns import Columns
from recsys_core.data.mapping import (
    ColumnMapping,
    ItemMapping,
    UserMapping,
    apply_overrides,
    check_mapping,
    check_side_mapping,
    infer_item_mapping,
    infer_mapping,
    infer_user_mapping,
)
from recsys_core.errors import InputError


def frame(*columns: str) -> pd.DataFrame:
    return pd.DataFrame({c: ["1"] for c in columns}, dtype="str")


# ---------------------------------------------------------------------------------- models
@pytest.mark.parametrize("model", [ColumnMapping, ItemMapping, UserMapping])
def test_every_field_is_documented_and_extras_are_forbidden(model: type[BaseModel]):
    assert all(f.description for f in model.model_fields.values())
    with pytest.raises(ValidationError):
        model.model_validate({"user": "u", "item": "i", "id": "x", "colour": "red"})


def test_mapping_round_trips_through_json():
    mapping = ColumnMapping(
        user="u", item="i", event="e", event_weights={"buy": 5.0}, rating_range=(1, 5)
    )
    assert ColumnMapping.model_validate_json(mapping.model_dump_json()) == mapping


def test_rating_range_must_be_ordered():
    with pytest.raises(ValidationError, match="lowest value above its highest"):
        ColumnMapping(user="u", item="i", rating_range=(5, 1))


def test_feedback_is_inferred_from_the_rating_column():
    assert ColumnMapping(user="u", item="i", rating="r").resolved_feedback() == "explicit"
    assert ColumnMapping(user="u", item="i").resolved_feedback() == "implicit"
    forced = ColumnMapping(user="u", item="i", rating="r", feedback="implicit")
    assert forced.resolved_feedback() == "implicit"


# ---------------------------------------------------------------------------------- inference
def test_infer_movielens_names():
    mapping = infer_mapping(frame("userId", "movieId", "rating", "timestamp"))
    assert mapping.roles() == {
        "user": "userId",
        "item": "movieId",
        "rating": "rating",
        "timestamp": "timestamp",
    }
    assert mapping.feedback is None


def test_infer_canonical_names_of_headerless_presets():
    mapping = infer_mapping(frame(Columns.user, Columns.item, Columns.rating, Columns.timestamp))
    assert (mapping.user, mapping.item, mapping.rating) == (Columns.user, Columns.item, "rating")


def test_infer_shop_names_with_event_and_date():
    mapping = infer_mapping(frame("Customer ID", "SKU", "Event Type", "Date", "Price"))
    assert mapping.roles() == {
        "user": "Customer ID",
        "item": "SKU",
        "timestamp": "Date",
        "event": "Event Type",
    }


def test_infer_by_name_stem_when_no_exact_name():
    mapping = infer_mapping(frame("customer_no", "product_code_v2", "star_rating"))
    assert (mapping.user, mapping.item, mapping.rating) == (
        "customer_no",
        "product_code_v2",
        "star_rating",
    )


def test_count_column_means_implicit_strength():
    mapping = infer_mapping(frame("user", "track", "plays"))
    assert mapping.rating == "plays" and mapping.feedback == "implicit"


def test_infer_fails_listing_columns_and_how_to_map():
    with pytest.raises(InputError) as info:
        infer_mapping(frame("column_1", "column_2"))
    message = str(info.value)
    assert "user and the item id" in message and "['column_1', 'column_2']" in message
    assert "--map user=COLUMN --map item=COLUMN" in message


def test_infer_item_mapping_kinds_from_values():
    items = pd.DataFrame(
        {
            "movieId": ["1", "2", "3", "4"],
            "title": ["Toy Story (1995)", "Jumanji (1995)", "Heat (1995)", "Sabrina (1995)"],
            "genres": ["Animation|Comedy", "Adventure", "Action|Crime|Thriller", "Comedy"],
            "year": ["1995", "1995", "1995", "1995"],
            "language": ["en", "en", "fr", "en"],
        },
        dtype="str",
    )
    mapping = infer_item_mapping(items)
    assert mapping == ItemMapping(
        id="movieId",
        title="title",
        categorical=["language"],
        multi_valued=["genres"],
        numeric=["year"],
    )


def test_infer_item_mapping_uses_first_column_without_a_known_name():
    mapping = infer_item_mapping(pd.DataFrame({"code": ["a", "b"], "x": ["1", "2"]}))
    assert mapping.id == "code" and mapping.numeric == ["x"]


def test_infer_user_mapping_ignores_zip_codes():
    """A postal code is neither a quantity nor a useful category (issue 10): left unmapped."""
    users = pd.DataFrame(
        {
            "user_id": ["1", "2", "3"],
            "age": ["24", "53", "23"],
            "gender": ["M", "F", "M"],
            "zip": ["85711", "94043", "32067"],
        },
        dtype="str",
    )
    assert infer_user_mapping(users) == UserMapping(
        id="user_id", categorical=["gender"], numeric=["age"]
    )


# ---------------------------------------------------------------------------------- overrides
def test_overrides_replace_roles():
    base = infer_mapping(frame("userId", "movieId", "rating", "timestamp", "score"))
    mapping = apply_overrides(base, {"rating": "score", "timestamp": ""})
    assert mapping.rating == "score" and mapping.timestamp is None and mapping.user == "userId"


def test_override_taking_another_roles_column_unmaps_that_role():
    base = ColumnMapping(user="u", item="i", rating="r", timestamp="t")
    mapping = apply_overrides(base, {"event": "r"})
    assert mapping.event == "r" and mapping.rating is None


def test_override_accepts_canonical_role_names():
    mapping = apply_overrides(ColumnMapping(user="u", item="i"), {Columns.user: "cust"})
    assert mapping.user == "cust"


def test_unknown_role_lists_the_roles():
    with pytest.raises(InputError, match=r"Unknown role 'colour'.*user, item, rating"):
        apply_overrides(ColumnMapping(user="u", item="i"), {"colour": "x"})


def test_unknown_column_lists_the_columns():
    with pytest.raises(
        InputError, match=r"no column 'scor'; the columns are \['u', 'i', 'score'\]"
    ):
        apply_overrides(
            ColumnMapping(user="u", item="i"), {"rating": "scor"}, columns=["u", "i", "score"]
        )


def test_user_role_cannot_be_unmapped():
    with pytest.raises(InputError, match="cannot be unmapped"):
        apply_overrides(ColumnMapping(user="u", item="i"), {"user": ""})


# ---------------------------------------------------------------------------------- checks
def test_check_mapping_refuses_a_missing_column():
    with pytest.raises(InputError, match=r"r\.csv: the rating column 'stars' is not in the file"):
        check_mapping(ColumnMapping(user="u", item="i", rating="stars"), ["u", "i"], "r.csv")


def test_check_mapping_refuses_a_column_used_twice():
    with pytest.raises(InputError, match="mapped as both user and item"):
        check_mapping(ColumnMapping(user="u", item="u"), ["u"], "r.csv")


def test_check_mapping_refuses_an_empty_user_role():
    with pytest.raises(InputError, match="no user column is mapped"):
        check_mapping(ColumnMapping(user="", item="i"), ["u", "i"], "r.csv")


def test_check_mapping_explicit_needs_a_rating():
    with pytest.raises(InputError, match="explicit feedback needs a rating column"):
        check_mapping(ColumnMapping(user="u", item="i", feedback="explicit"), ["u", "i"], "r.csv")


def test_check_side_mapping_refuses_two_kinds_for_one_column():
    mapping = ItemMapping(id="id", text=["title"], categorical=["title"])
    with pytest.raises(InputError, match="'title' is mapped as both text and categorical"):
        check_side_mapping(mapping, ["id", "title"], "items.csv")


def test_parse_event_weights_accepts_pairs_and_names_a_bad_one() -> None:
    from recsys_core.data.mapping import parse_event_weights

    assert parse_event_weights(" view=1, buy=5.5 ,") == {"view": 1.0, "buy": 5.5}
    assert parse_event_weights("") == {}
    for bad in ("view", "view=x", "=3", "buy=-1"):
        with pytest.raises(InputError, match="TYPE=WEIGHT"):
            parse_event_weights(bad)
