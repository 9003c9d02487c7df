"""Global importance: permutation importance finds the planted modality; the embedding map."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.columns import Columns
from recsys_core.data.synth import generate, to_interactions
from recsys_core.errors import InputError
from recsys_core.explain import explain, item_embedding_map, permutation_importance
from recsys_core.explain.global_ import IMPORTANCE_COLUMNS
from recsys_core.models.base import Recommender
from recsys_core.models.registry import make_model
from recsys_core.splitting import RandomHoldout, Split, split


@pytest.fixture(scope="module")
def categorical_split() -> Split:
    """Only the category, tags and price carry the structure; text is another item's."""
    inter = to_interactions(generate(200, 120, 4000, seed=3, signal="categorical"))
    return split(inter, RandomHoldout(), 1)


@pytest.fixture(scope="module")
def content(categorical_split: Split) -> Recommender:
    return make_model("content", {"text_dim": 16}).fit(categorical_split.train)


def test_categorical_signal_outranks_text_for_the_content_model(
    categorical_split: Split, content: Recommender
) -> None:
    table = permutation_importance(content, categorical_split, n_repeats=4, random_state=0)
    assert table.columns.tolist() == IMPORTANCE_COLUMNS
    drops = table.set_index("group")["mean_drop"]
    assert drops["categorical"] > drops["text"]
    assert drops["categorical"] > 0.02
    assert table["group"].iloc[0] == "categorical"
    assert (table["ci_low"] <= table["mean_drop"]).all()
    assert (table["mean_drop"] <= table["ci_high"]).all()


def test_shuffling_nothing_changes_nothing_and_one_repeat_has_a_point_interval(
    categorical_split: Split, content: Recommender
) -> None:
    once = permutation_importance(content, categorical_split, ["text"], n_repeats=1)
    assert once["ci_low"].item() == once["mean_drop"].item() == once["ci_high"].item()
    again = permutation_importance(content, categorical_split, ["text"], n_repeats=1)
    assert again.equals(once)  # seeded: the same shuffle gives the same drop


def test_progress_is_reported_per_shuffle(categorical_split: Split, content: Recommender) -> None:
    calls: list[tuple[int, int]] = []
    permutation_importance(
        content,
        categorical_split,
        ["text", "numeric"],
        n_repeats=2,
        progress=lambda d, t, m="": calls.append((d, t)),
    )
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_unknown_group_metric_or_featureless_model_raises(
    categorical_split: Split, content: Recommender
) -> None:
    with pytest.raises(InputError, match="colour"):
        permutation_importance(content, categorical_split, ["colour"])
    with pytest.raises(InputError, match="NDCG@10"):
        permutation_importance(content, categorical_split, metric="Accuracy@3")
    knn = make_model("item_knn", {}).fit(categorical_split.train)
    with pytest.raises(InputError, match="no item features"):
        permutation_importance(knn, categorical_split)


@pytest.mark.parametrize("name", ["als", "content"])
def test_embedding_map_has_one_point_per_item_labelled_by_category(
    name: str, categorical_split: Split, content: Recommender
) -> None:
    train = categorical_split.train
    model = content if name == "content" else make_model("als", {"epochs": 3}).fit(train)
    points = item_embedding_map(model, train, color_by="category")
    assert points.columns.tolist() == [Columns.item, "x", "y", "label"]
    assert len(points) == train.n_items
    assert np.isfinite(points[["x", "y"]].to_numpy()).all()
    assert points["x"].var() > 0 and points["y"].var() > 0
    expected = train.item_features["category"].astype(str)
    assert (points["label"].to_numpy() == expected.reindex(points[Columns.item]).to_numpy()).all()


def test_embedding_map_list_column_uses_first_value_and_rejects_unknown_columns(
    categorical_split: Split, content: Recommender
) -> None:
    train = categorical_split.train
    points = item_embedding_map(content, train, color_by="tags")
    first = train.item_features["tags"].map(lambda t: t[0]).reindex(points[Columns.item])
    assert (points["label"].to_numpy() == first.to_numpy()).all()
    assert set(item_embedding_map(content, train)["label"]) == {"all items"}
    with pytest.raises(InputError, match="genre"):
        item_embedding_map(content, train, color_by="genre")
    knn = make_model("item_knn", {}).fit(train)
    with pytest.raises(InputError, match="no item vectors"):
        item_embedding_map(knn, train)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["fusion", "two_tower"])
def test_deep_models_shuffle_by_modality_and_map_their_item_vectors(
    name: str, categorical_split: Split
) -> None:
    train = categorical_split.train
    model = make_model(name, {"epochs": 2, "use_item_features": True}).fit(train)
    table = permutation_importance(model, categorical_split, n_repeats=2, random_state=1)
    assert set(table["group"]) == {"text", "categorical", "numeric"}
    assert np.isfinite(table[IMPORTANCE_COLUMNS[1:]].to_numpy()).all()
    assert len(item_embedding_map(model, train, "category")) == train.n_items
    expl = explain(model, train, train.user_ids[0], train.item_ids[4])
    if name == "fusion":  # gated modality parts add up to the dot product
        assert expl.kind == "modalities" and expl.sentence.startswith("Mostly its ")
        assert expl.residual == pytest.approx(0.0, abs=1e-5)
    else:  # two-tower: history parts of the user vector, the rest as residual
        assert expl.kind == "history"
        total = expl.contributions["value"].sum() + expl.residual
        assert total == pytest.approx(expl.score, abs=1e-5)
