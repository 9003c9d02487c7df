"""The synthetic generator: exact sizes, reproducibility, and that the planted structure is real."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_core.columns import Columns
from recsys_core.data import synth
from recsys_core.data.interactions import Interactions
from recsys_core.data.profile import gini, profile
from recsys_core.data.synth import SyntheticData, generate, to_interactions, write_csv
from recsys_core.errors import InputError

START = int(pd.Timestamp("2024-01-01", tz="UTC").timestamp())


@pytest.fixture(scope="module")
def data() -> SyntheticData:
    return generate(1_500, 600, 40_000, seed=7)


def test_sizes_schema_and_unique_pairs(data: SyntheticData) -> None:
    f = data.interactions
    assert list(f.columns) == [Columns.user, Columns.item, Columns.rating, Columns.timestamp]
    assert len(f) == 40_000
    assert not f.duplicated([Columns.user, Columns.item]).any()
    assert f[Columns.user].nunique() == 1_500  # every user has at least one
    assert f[Columns.item].between(0, 599).all()
    assert set(f[Columns.rating].unique()) <= {1, 2, 3, 4, 5}
    assert f[Columns.timestamp].between(START, START + 365 * 86_400 - 1).all()
    assert f.groupby(Columns.user)[Columns.timestamp].is_monotonic_increasing.all()
    assert list(data.items.columns) == [
        Columns.item, "title", "description", "category", "tags", "price"
    ]  # fmt: skip
    assert list(data.users.columns) == [Columns.user, "age_group", "country"]
    assert len(data.items) == 600 and len(data.users) == 1_500
    assert data.truth.user_factors.shape == (1_500, 8)
    assert data.truth.item_factors.shape == (600, 8)


def test_same_seed_same_data_other_seed_other_data(data: SyntheticData) -> None:
    again = generate(1_500, 600, 40_000, seed=7)
    for name in ("interactions", "items", "users"):
        pd.testing.assert_frame_equal(getattr(data, name), getattr(again, name))
    np.testing.assert_array_equal(data.truth.user_factors, again.truth.user_factors)
    other = generate(1_500, 600, 40_000, seed=8)
    assert not data.interactions[Columns.item].equals(other.interactions[Columns.item])


def test_users_mostly_pick_items_of_their_preferred_categories(data: SyntheticData) -> None:
    t, f = data.truth, data.interactions
    users, items = f[Columns.user].to_numpy(), f[Columns.item].to_numpy()
    top3 = np.argsort(-t.user_preferences, axis=1)[:, :3]
    hit = (top3[users] == t.item_categories[items][:, None]).any(axis=1).mean()
    # without the planted preferences, a pick lands in the top 3 at the catalogue share
    share = np.bincount(t.item_categories) / len(t.item_categories)
    chance = share[top3].sum(axis=1)[users].mean()
    assert hit > 0.55 and hit > 2 * chance


def test_popularity_baseline_beats_random(data: SyntheticData) -> None:
    f = data.interactions
    rng = np.random.default_rng(0)
    test = rng.random(len(f)) < 0.2
    train_counts = np.bincount(f[Columns.item][~test], minlength=600)
    top10 = np.argsort(-train_counts)[:10]
    popular_hits = np.isin(f[Columns.item][test], top10).mean()
    random_hits = 10 / 600  # expected share of test interactions on 10 random items
    assert popular_hits > 4 * random_hits


def test_popularity_skew_parameter_controls_concentration() -> None:
    flat = generate(800, 400, 12_000, seed=1, popularity_skew=0.0)
    steep = generate(800, 400, 12_000, seed=1, popularity_skew=1.5)
    g = [gini(np.bincount(d.interactions[Columns.item], minlength=400)) for d in (flat, steep)]
    assert g[1] > g[0] + 0.2


def test_user_activity_is_skewed(data: SyntheticData) -> None:
    activity = data.interactions[Columns.user].value_counts()
    assert activity.max() > 5 * activity.median()
    assert activity.min() >= 1 and activity.max() <= 300  # at most half the catalogue


def test_ratings_rise_with_the_latent_affinity(data: SyntheticData) -> None:
    t, f = data.truth, data.interactions
    aff = (t.user_factors[f[Columns.user]] * t.item_factors[f[Columns.item]]).sum(axis=1)
    assert np.corrcoef(aff, f[Columns.rating])[0, 1] > 0.4


def test_descriptions_share_words_within_a_category(data: SyntheticData) -> None:
    words = [set(d.split()) for d in data.items["description"]]
    cats = data.truth.item_categories
    rng = np.random.default_rng(0)
    a, b = rng.integers(600, size=(2, 3_000))
    a, b = a[a != b], b[a != b]
    pairs = zip(a.tolist(), b.tolist(), strict=True)
    jac = np.array([len(words[i] & words[j]) / len(words[i] | words[j]) for i, j in pairs])
    same = cats[a] == cats[b]
    assert jac[same].mean() > 3 * jac[~same].mean()


def test_item_and_user_tables_are_consistent(data: SyntheticData) -> None:
    items = data.items
    assert (items["category"].cat.codes.to_numpy() == data.truth.item_categories).all()
    first_tag = items["tags"].str.split("|").str[0]
    prefix = items["category"].astype(str).str.lower() + "-"
    assert all(t.startswith(p) for t, p in zip(first_tag, prefix, strict=True))
    assert (items["price"] > 0).all() and items["title"].str.len().min() > 0
    assert set(data.users["age_group"].astype(str)) <= set(synth.AGE_GROUPS)


def test_implicit_has_no_rating_column() -> None:
    d = generate(100, 50, 800, seed=3, explicit=False)
    assert Columns.rating not in d.interactions.columns
    inter = Interactions.from_frame(d.interactions)
    assert inter.feedback == "implicit" and profile(inter).n_interactions == 800


def test_start_and_days_set_the_time_range() -> None:
    d = generate(100, 50, 800, seed=3, start="2020-06-01", days=10)
    ts = d.interactions[Columns.timestamp]
    lo = int(pd.Timestamp("2020-06-01", tz="UTC").timestamp())
    assert ts.min() >= lo and ts.max() < lo + 10 * 86_400


def test_many_chunks_still_give_exact_unique_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synth, "_CHUNK", 1_000)  # exercise the chunk loop on small data
    calls: list[tuple[int, int]] = []
    d = generate(300, 40, 6_000, seed=5, progress=lambda done, total, msg="": calls.append(
        (done, total)))  # fmt: skip
    f = d.interactions
    assert len(f) == 6_000 and not f.duplicated([Columns.user, Columns.item]).any()
    assert len(calls) >= 6 and calls[-1] == (6_000, 6_000)


def test_heavy_users_can_take_half_the_catalogue() -> None:
    # 20 users x 10 of 20 items: every user at the cap, found by the uniform redraw rounds
    d = generate(20, 20, 200, seed=2, n_categories=4)
    assert (d.interactions[Columns.user].value_counts() == 10).all()
    assert not d.interactions.duplicated([Columns.user, Columns.item]).any()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_users": 10, "n_items": 10, "n_interactions": 51}, "half the items"),
        ({"n_users": 10, "n_items": 10, "n_interactions": 5}, "between n_users"),
        ({"n_users": 10, "n_items": 5, "n_interactions": 20}, "at least n_categories"),
        ({"n_users": 10, "n_items": 50, "n_interactions": 20, "start": "soon"}, "not a date"),
        ({"n_users": 10, "n_items": 50, "n_interactions": 20, "popularity_skew": -1}, ">= 0"),
    ],
)
def test_impossible_requests_raise_input_error(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        generate(**kwargs)


def test_write_csv_round_trip(data: SyntheticData, tmp_path: Path) -> None:
    paths = write_csv(data, tmp_path / "out")
    assert set(paths) == {"interactions", "items", "users"}
    back = pd.read_csv(paths["interactions"])
    pd.testing.assert_frame_equal(back, data.interactions, check_dtype=False)
    items = pd.read_csv(paths["items"])
    assert items["tags"].tolist() == data.items["tags"].tolist()
    assert items["category"].tolist() == data.items["category"].astype(str).tolist()
    assert len(pd.read_csv(paths["users"])) == 1_500


def test_to_interactions_keeps_metadata_with_tag_lists(data: SyntheticData) -> None:
    inter = to_interactions(data)
    assert inter.n_interactions == 40_000 and inter.feedback == "explicit"
    assert inter.item_features is not None and inter.user_features is not None
    tags = inter.item_features.loc["0", "tags"]
    assert isinstance(tags, list) and "|".join(tags) == data.items["tags"][0]
    assert profile(inter).item_coverage["tags"] == 1.0


def test_signal_option_plants_structure_in_one_modality_only() -> None:
    def category_agreement(signal: str) -> float:
        data = generate(200, 600, 4000, seed=3, signal=signal)
        names = np.asarray(data.truth.category_names)[data.truth.item_categories]
        return float((data.items["category"].astype(str).to_numpy() == names).mean())

    assert category_agreement("all") == 1.0
    assert category_agreement("categorical") == 1.0
    assert category_agreement("text") < 0.25  # a random other item's category: ~1/12
    with pytest.raises(InputError, match="signal"):
        generate(50, 40, 200, signal="image")
