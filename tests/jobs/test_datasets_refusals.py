"""What the store refuses (issue 11): bad names, values JSON or PostgreSQL cannot hold."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from db import Store
from db.repositories import _json
from recsys_core.data.io import read_table
from recsys_core.data.mapping import infer_item_mapping, infer_mapping
from recsys_core.data.validate import validate
from recsys_core.errors import InputError
from recsys_core.jobs import datasets as jobs

BODY = "user,item,rating\n" + "".join(f"u{k % 5},i{k % 7},{k % 5 + 1}\n" for k in range(40))


def _data(tmp_path, items: str | None = None):
    (tmp_path / "r.csv").write_text(BODY)
    raw = read_table(tmp_path / "r.csv")
    kwargs = {}
    if items is not None:
        (tmp_path / "i.csv").write_text(items)
        side = read_table(tmp_path / "i.csv")
        kwargs = {"items": side, "item_mapping": infer_item_mapping(side.frame)}
    return validate(raw, infer_mapping(raw.frame), **kwargs)


def _datasets(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM datasets")).scalar_one()


@pytest.mark.parametrize(
    "name",
    ["\x1b]0;pwned\x07title", "bell\x07", "line\nbreak", "cr\rx", "nul\x00", "rtl\u202eexe.txt",
     "zero\u200bwidth", "sep\u2028line"],
)  # fmt: skip
def test_names_with_control_or_format_characters_are_refused(
    store: Store, tmp_path, name: str
) -> None:
    with pytest.raises(InputError, match="no control or formatting characters") as info:
        jobs.import_dataset(store, name, _data(tmp_path))
    assert repr(name) in str(info.value)  # shown escaped, never raw
    assert _datasets(store) == 0


@pytest.mark.parametrize("name", ["MovieLens 100k (v2)", "Café – été", "データ", "a/b: c"])
def test_ordinary_names_are_accepted(store: Store, tmp_path, name: str) -> None:
    assert jobs.import_dataset(store, f"  {name} ", _data(tmp_path)).dataset.name == name


def test_a_name_stored_before_the_rule_is_listed_escaped(store: Store, tmp_path) -> None:
    jobs.import_dataset(store, "plain", _data(tmp_path))
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE datasets SET name = :n"), {"n": "old\x1b[31m"})
    with pytest.raises(InputError) as info:
        jobs.resolve(store, "other")
    assert "\x1b" not in str(info.value) and "'old\\x1b[31m'" in str(info.value)


def test_source_with_a_nul_or_infinity_is_refused(store: Store, tmp_path) -> None:
    data = _data(tmp_path)
    with pytest.raises(InputError, match="NUL"):
        jobs.import_dataset(store, "s", data, source={"file": "a\x00b"})
    with pytest.raises(InputError, match="not finite"):
        jobs.import_dataset(store, "s", data, source={"x": float("inf")})
    assert _datasets(store) == 0


def test_stored_attributes_are_strict_json(store: Store, tmp_path) -> None:
    items = "item,title,price\n" + "".join(f"i{k},T {k},{k}.5\n" for k in range(6)) + "i6,T,\n"
    jobs.import_dataset(store, "j", _data(tmp_path, items))
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT CAST(attributes AS TEXT) FROM items")).scalars().all()

    def refuse(token: str) -> None:
        raise AssertionError(f"{token} is not JSON")

    parsed = [json.loads(r, parse_constant=refuse) for r in rows if r is not None]
    assert {"title": "T 3", "price": 3.5} in parsed and {"title": "T"} in parsed


def test_attribute_json_refuses_nan_and_nul() -> None:
    with pytest.raises(ValueError):
        _json({"price": float("nan")})
    with pytest.raises(ValueError, match="NUL"):
        _json({"title": "a\x00b"})
    assert _json({"title": "a\\u0000b"}) == '{"title": "a\\\\u0000b"}'  # a literal backslash


def test_vectors_that_overflow_float32_are_refused(store: Store, tmp_path) -> None:
    jobs.import_dataset(store, "v", _data(tmp_path))
    vectors = pd.Series({"i1": np.array([0.5, 1.0]), "i2": np.array([1e39, 0.0])})
    with pytest.raises(InputError, match=r"item 'i2'.*not finite"):
        jobs.store_item_vectors(store, "v", vectors, encoder="uploaded")
    assert jobs.load_interactions(store, "v").item_features is None
