"""Import, load and clean through the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from db import Store
from recsys_core.columns import Columns
from recsys_core.data.clean import CleaningPlan, KCore
from recsys_core.data.io import read_table
from recsys_core.data.mapping import infer_item_mapping, infer_mapping
from recsys_core.data.samples import load_movielens_small, synthetic
from recsys_core.data.validate import validate
from recsys_core.errors import InputError
from recsys_core.jobs import datasets as jobs


def _tables(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("datasets", "dataset_versions", "users", "items", "interactions")
        }


def _small(tmp_path, body: str, items: str | None = None):
    (tmp_path / "r.csv").write_text(body)
    raw = read_table(tmp_path / "r.csv")
    kwargs = {}
    if items is not None:
        (tmp_path / "i.csv").write_text(items)
        iraw = read_table(tmp_path / "i.csv")
        kwargs = {"items": iraw, "item_mapping": infer_item_mapping(iraw.frame)}
    return validate(raw, infer_mapping(raw.frame), **kwargs)


BODY = "user,item,rating,timestamp\n" + "".join(
    f"u{u},i{i},{(u + i) % 5 + 1},{1_600_000_000 + 60 * (u * 10 + i)}\n"
    for u in range(12)
    for i in range(8)
    if (u + i) % 3
)


def test_import_then_load_gives_the_same_interactions(store: Store, tmp_path) -> None:
    items = "item,title,genres,price\n" + "".join(
        f"i{i},Title {i},A|B{i % 2},{i * 1.5}\n" for i in range(10)
    )
    data = _small(tmp_path, BODY, items)
    result = jobs.import_dataset(store, "tiny", data)
    assert result.counts == {"users": 12, "items": 8, "interactions": len(data.interactions)}
    inter = jobs.load_interactions(store, "tiny")
    back = inter.to_frame().sort_values([Columns.user, Columns.item]).reset_index(drop=True)
    want = data.interactions.sort_values([Columns.user, Columns.item]).reset_index(drop=True)
    assert back[Columns.user].tolist() == want[Columns.user].tolist()
    assert back[Columns.item].tolist() == want[Columns.item].tolist()
    np.testing.assert_allclose(back[Columns.rating], want[Columns.rating])
    np.testing.assert_array_equal(back[Columns.timestamp], want[Columns.timestamp])
    # i8 and i9 have metadata but no interactions: they stay in the catalogue (cold items)
    assert inter.n_items == 10 and {"i8", "i9"} <= set(inter.item_ids)
    assert inter.item_features is not None
    assert inter.item_features.loc["i3", "genres"] == ["A", "B1"]
    assert inter.item_features.loc["i3", "price"] == pytest.approx(4.5)


def test_failed_import_writes_nothing(store: Store, tmp_path) -> None:
    data = _small(tmp_path, BODY)
    jobs.import_dataset(store, "taken", data)
    before = _tables(store)
    with pytest.raises(InputError, match="exists already"):
        jobs.import_dataset(store, "taken", data)
    bad = _small(tmp_path, "user,item,rating\nu1,i1,x\nu2,i2,3\n")
    with pytest.raises(InputError):
        jobs.import_dataset(store, "bad", bad)
    assert _tables(store) == before


def test_import_error_midway_rolls_back_everything(store: Store, tmp_path) -> None:
    data = _small(tmp_path, BODY)
    broken = replace(data, interactions=data.interactions.assign(**{Columns.timestamp: None}))
    with pytest.raises(Exception):  # noqa: B017 - any failure must leave no trace
        jobs.import_dataset(store, "half", broken)
    assert _tables(store)["datasets"] == 0


def test_pseudonymised_import_hides_raw_ids_consistently(store: Store, tmp_path) -> None:
    data = _small(tmp_path, BODY)
    jobs.import_dataset(store, "p1", data, pseudonymise_users=True)
    jobs.import_dataset(store, "p2", data, pseudonymise_users=True)
    a = jobs.load_interactions(store, "p1")
    b = jobs.load_interactions(store, "p2")
    assert not set(a.user_ids) & {f"u{u}" for u in range(12)}
    assert all(u.startswith("u_") and len(u) == 18 for u in a.user_ids)
    assert list(a.user_ids) == list(b.user_ids)  # same key, same pseudonyms


def test_clean_adds_a_version_and_keeps_the_original(store: Store, tmp_path) -> None:
    data = _small(tmp_path, BODY)
    jobs.import_dataset(store, "c", data)
    v2, stats = jobs.clean_dataset(store, "c", CleaningPlan(steps=[KCore(min_user=6, min_item=1)]))
    assert v2.version == 2 and v2.recipe is not None
    assert v2.recipe["steps"][0]["kind"] == "kcore"
    counts = data.interactions.groupby(Columns.user).size()
    assert v2.n_users == int((counts >= 6).sum())
    assert stats[0].before.n_interactions == len(data.interactions)
    assert jobs.load_interactions(store, "c", 1).n_interactions == len(data.interactions)
    assert jobs.load_interactions(store, "c").n_interactions == v2.n_interactions


def test_unknown_dataset_and_version_name_the_choices(store: Store, tmp_path) -> None:
    jobs.import_dataset(store, "known", _small(tmp_path, BODY))
    with pytest.raises(InputError, match="known"):
        jobs.resolve(store, "unknown")
    with pytest.raises(InputError, match=r"versions 1\.\.1"):
        jobs.resolve(store, "known", 5)


def test_synthetic_import_round_trips_metadata(store: Store) -> None:
    data = synthetic(200, 100, 3000, seed=3)
    jobs.import_dataset(store, "syn", data)
    inter = jobs.load_interactions(store, "syn")
    assert inter.n_interactions == len(data.interactions)
    assert inter.user_features is not None and set(inter.user_features.columns) == {
        "age_group",
        "country",
    }
    feats = inter.item_features
    assert feats is not None and isinstance(feats["tags"].iloc[0], list)


@pytest.mark.realdata
def test_movielens_sample_import(store: Store) -> None:
    result = jobs.import_dataset(store, "ml", load_movielens_small())
    assert result.counts == {"users": 610, "items": 9724, "interactions": 100_836}
    inter = jobs.load_interactions(store, "ml")
    assert inter.n_items == 9742  # 18 movies have metadata but no rating
    toy = inter.item_features.loc["1"]
    assert toy["title"] == "Toy Story (1995)"
    assert "Animation" in toy["genres"] and "pixar" in toy["tags"]
    assert isinstance(inter.to_frame(), pd.DataFrame)


def test_store_item_vectors_round_trips_and_counts_unknown_items(store: Store, tmp_path) -> None:
    jobs.import_dataset(store, "v", _small(tmp_path, BODY))
    vectors = pd.Series(
        {"i1": np.array([0.5, 1.0, 0.0]), "i2": np.array([1.0, 0.0, 0.25]), "zz": np.ones(3)}
    )
    counts = jobs.store_item_vectors(store, "v", vectors, encoder="uploaded vectors")
    assert counts == {"attached": 2, "unknown_items": 1}
    feats = jobs.load_interactions(store, "v").item_features
    assert feats is not None
    np.testing.assert_allclose(feats.loc["i2", "image"], [1.0, 0.0, 0.25])
    assert jobs.resolve(store, "v")[0].source["image_encoder"] == "uploaded vectors"
