"""The item-holdout (cold item) split, and who can rank cold items on synthetic data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_core.columns import Columns
from recsys_core.data import synth
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.evaluation import evaluate
from recsys_core.models import ItemKNN, Random
from recsys_core.models.content import ContentBased
from recsys_core.splitting import parse_split_config, split, split_config_json
from recsys_core.splitting.configs import ItemHoldout


@pytest.fixture(scope="module")
def data() -> Interactions:
    return synth.to_interactions(synth.generate(300, 400, 6000, seed=3))


def _items_with(part: Interactions) -> np.ndarray:
    return np.bincount(part.items, minlength=part.n_items) > 0


def test_held_out_items_are_entirely_in_test(data):
    s = split(data, ItemHoldout(test_item_fraction=0.2), random_state=1)
    train_items, test_items = _items_with(s.train), _items_with(s.test)
    assert not (train_items & test_items).any()
    # every interaction of a held-out item is in test
    assert len(s.test) == int(np.isin(data.items, np.flatnonzero(test_items)).sum())
    checks = s.checks()
    assert checks.n_train + checks.n_test == len(data)
    assert checks.overlapping_pairs == 0 and checks.temporal_leaks is None
    assert checks.cold_users_test == 0
    assert checks.cold_items_test == test_items.sum()
    eligible = _items_with(data).sum()
    assert abs(test_items.sum() - 0.2 * eligible) <= 0.02 * eligible


def test_users_left_without_training_data_keep_their_items_in_train():
    # "solo" interacted with one item only: if that item were drawn, solo would be a test
    # user without history, so the item goes back to train whatever the seed
    frame = pd.DataFrame(
        {
            Columns.user: ["solo"] + ["a"] * 4 + ["b"] * 4,
            Columns.item: ["x", "x", "p", "q", "r", "x", "p", "q", "r"],
        }
    )
    inter = Interactions.from_frame(frame)
    x = int(inter.item_index(["x"])[0])
    for seed in range(8):
        s = split(inter, ItemHoldout(test_item_fraction=0.5), random_state=seed)
        assert x not in set(s.test.items.tolist())
        assert s.checks().cold_users_test == 0
        assert not (_items_with(s.train) & _items_with(s.test)).any()


def test_no_item_that_can_be_held_out_is_an_input_error():
    frame = pd.DataFrame({Columns.user: ["a", "b"], Columns.item: ["x", "y"]})
    with pytest.raises(InputError, match="test_item_fraction"):
        split(Interactions.from_frame(frame), ItemHoldout(test_item_fraction=0.5))


def test_item_holdout_is_deterministic_and_round_trips_json(data):
    config = ItemHoldout(test_item_fraction=0.15, validation_fraction=0.1)
    assert parse_split_config(split_config_json(config)) == config
    a, b = split(data, config, random_state=7), split(data, config, random_state=7)
    np.testing.assert_array_equal(a.test.items, b.test.items)
    assert a.validation is not None and len(a.validation) > 0
    # the validation side is cold with respect to the rest of train as well
    assert not (_items_with(a.validation) & _items_with(a.train)).any()
    c = split(data, config, random_state=8)
    assert not np.array_equal(np.unique(a.test.items), np.unique(c.test.items))


def test_content_ranks_cold_items_and_collaborative_models_cannot(data):
    s = split(data, ItemHoldout(test_item_fraction=0.2), random_state=1)
    models = {
        "content": ContentBased().fit(s.train),
        "random": Random().fit(s.train),
        "item_knn": ItemKNN().fit(s.train),
    }
    assert models["content"].supports_cold_items
    assert not models["item_knn"].supports_cold_items
    ndcg = evaluate(models, s, ks=(10,)).wide().loc["NDCG@10"]
    # measured: content 0.082, random 0.014, item_knn 0.0 (a held-out item has no
    # co-occurrence, so item_knn scores it 0 and ranks it below every warm candidate)
    assert ndcg["content"] > 3 * ndcg["random"]
    assert ndcg["item_knn"] < 0.2 * ndcg["random"]
