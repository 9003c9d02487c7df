"""The shared machinery of the base class: top-k ties and padding, batching, id mapping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.models import EASE, ItemKNN, MostPopular, Recommender
from recsys_core.models._topk import topk_rows
from recsys_core.models.registry import load_model_file


def test_topk_rows_orders_by_score_then_item_index() -> None:
    scores = np.array([[0.5, 0.9, 0.5, 0.1, 0.5], [1.0, 1.0, 1.0, 1.0, 1.0]], dtype=np.float32)
    items, values = topk_rows(scores, 3)
    assert items.tolist() == [[1, 0, 2], [0, 1, 2]]
    np.testing.assert_array_equal(values, np.float32([[0.9, 0.5, 0.5], [1.0, 1.0, 1.0]]))


def test_topk_rows_pads_with_minus_one_past_the_available_items() -> None:
    scores = np.array([[0.2, -np.inf, 0.7]], dtype=np.float32)
    items, values = topk_rows(scores, 5)
    assert items.tolist() == [[2, 0, -1, -1, -1]]
    assert np.isneginf(values[0, 2:]).all()


def test_topk_rows_ties_do_not_depend_on_how_rows_are_batched(rng: np.random.Generator) -> None:
    scores = rng.integers(0, 4, (50, 30)).astype(np.float32)  # many ties
    whole = topk_rows(scores, 7)[0]
    halves = np.vstack([topk_rows(scores[:25], 7)[0], topk_rows(scores[25:], 7)[0]])
    np.testing.assert_array_equal(whole, halves)
    # Reference: a full stable sort on (-score, index).
    reference = np.argsort(-scores, axis=1, kind="stable")[:, :7]
    np.testing.assert_array_equal(whole, reference)


@pytest.fixture
def fitted(small_ratings: Interactions) -> Recommender:
    return ItemKNN().fit(small_ratings)


def test_topk_masks_seen_items_and_matches_across_batch_sizes(fitted: Recommender) -> None:
    users = np.arange(fitted.n_users)
    items, scores = fitted.topk(users, 6)
    batched, _ = fitted.topk(users, 6, batch_size=2)
    np.testing.assert_array_equal(items, batched)
    seen = fitted.train_.matrix
    for u in users:
        assert set(items[u][items[u] >= 0]).isdisjoint(seen[u].indices)
        assert (items[u] == -1).sum() == seen[u].nnz  # six items, padded where seen
    assert items.dtype == np.int32 and scores.dtype == np.float32


def test_recommend_accepts_a_single_id_and_keeps_the_given_order(fitted: Recommender) -> None:
    one = fitted.recommend("c", 2)
    assert one[Columns.user].tolist() == ["c", "c"]
    two = fitted.recommend(["e", "a"], 1)
    assert two[Columns.user].tolist() == ["e", "a"]


def test_recommend_lists_a_few_unknown_ids(fitted: Recommender) -> None:
    with pytest.raises(InputError, match=r"2 user id\(s\).*'x'.*'y'"):
        fitted.recommend(["a", "x", "y", "x"], 3)


def test_score_rejects_out_of_range_user_indices(fitted: Recommender) -> None:
    with pytest.raises(InputError, match="user indices"):
        fitted.score(np.array([0, fitted.n_users]))


def test_config_and_params_combine_at_construction() -> None:
    model = EASE(EASE.config_class(reg=5.0), random_state=7)
    assert (model.config.reg, model.config.random_state) == (5.0, 7)


def test_load_refuses_a_file_of_another_model(fitted: Recommender, tmp_path: Path) -> None:
    path = tmp_path / "knn.npz"
    fitted.save(path)
    with pytest.raises(InputError, match="item_knn"):
        MostPopular.load(path)
    assert type(load_model_file(path)) is ItemKNN
    with pytest.raises(InputError, match="load_model_file"):
        Recommender.load(path)  # the abstract class cannot pick a family: the registry does
    assert not list(tmp_path.glob("*.tmp"))


def test_loaded_model_keeps_external_ids(fitted: Recommender, tmp_path: Path) -> None:
    fitted.save(tmp_path / "m.npz")
    loaded = load_model_file(tmp_path / "m.npz")
    assert loaded.train_.user_ids.tolist() == ["a", "b", "c", "d", "e"]
    assert loaded.train_.feedback == "explicit"
    frame = loaded.recommend(["a"], 2)
    assert isinstance(frame, pd.DataFrame) and frame[Columns.item].str.startswith("m").all()
