"""Two-tower: cold items and users placed by their features, towers reproduced in numpy."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.models.deep import Fusion, TwoTower
from recsys_core.models.deep._keras import load_keras, set_layer_arrays

TINY = {
    "embedding_size": 4,
    "tower_layers": [8],
    "text_dim": 4,
    "batch_size": 32,
    "learning_rate": 0.01,
    "validation_fraction": 0.0,
    "epochs": 8,
    "use_item_features": True,  # two-tower's default is off; these tests are about features
    "temperature": 0.1,  # sharper than the MovieLens default: 8 epochs on a toy board
}


@pytest.fixture(scope="module")
def with_cold(board: Any) -> Interactions:
    """The checkerboard plus a cold item per group (features, no interactions) and a user
    per group known only by a "segment" attribute (u98 in group 0, u99 in group 1)."""
    base: Interactions = board.interactions
    assert base.item_features is not None
    extra = pd.DataFrame(
        {"title": ["alpha thing20", "beta thing21"], "genre": ["genre0", "genre1"]},
        index=pd.Index(["i20", "i21"], name=Columns.item),
    ).assign(price=[9.0, 29.0])
    items = pd.concat([base.item_features, extra])
    segment = [f"s{int(str(u)[1:]) // 12}" for u in base.user_ids] + ["s0", "s1"]
    users = pd.DataFrame(
        {"segment": segment},
        index=pd.Index([*base.user_ids, "u98", "u99"], name=Columns.user),
    )
    return Interactions.from_frame(base.to_frame(), item_features=items, user_features=users)


@pytest.mark.parametrize("cls", [TwoTower, Fusion])
def test_cold_items_are_placed_by_their_features(
    with_cold: Interactions, cls: type[TwoTower]
) -> None:
    model = cls(**TINY).fit(with_cold)
    assert model.supports_cold_items
    scores = model.score(np.arange(24))
    i20, i21 = with_cold.item_index(["i20", "i21"])
    group0 = np.arange(24) < 12
    assert (scores[group0, i20] > scores[group0, i21]).all()
    assert (scores[~group0, i21] > scores[~group0, i20]).all()


@pytest.mark.parametrize("cls", [TwoTower, Fusion])
def test_users_without_interactions_get_their_segments_items(
    with_cold: Interactions, cls: type[TwoTower]
) -> None:
    model = cls(**TINY).fit(with_cold)
    recs = model.recommend(["u98", "u99"], 3)
    group = np.array([int(str(i)[1:]) >= 10 for i in recs[Columns.item]])
    assert group.tolist() == [False] * 3 + [True] * 3


def test_without_features_an_item_nobody_saw_scores_zero(checkerboard: Interactions) -> None:
    """Its id embedding is zeroed rather than left at its random start (noise)."""
    ids = np.append(checkerboard.item_ids, "i99")
    data = Interactions.from_frame(checkerboard.to_frame(), item_ids=ids)
    model = TwoTower(**TINY).fit(data)
    scores = model.score(np.arange(data.n_users))
    assert (scores[:, -1] == 0).all()
    assert (np.abs(scores[:, :-1]) > 0).all()


def test_numpy_towers_equal_the_keras_towers(with_cold: Interactions) -> None:
    model = TwoTower(**TINY).fit(with_cold)
    state = model._state()
    net = model._build(load_keras(), with_cold, state)
    set_layer_arrays(net, state)

    def unit(x: np.ndarray) -> np.ndarray:
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    users = np.arange(with_cold.n_users, dtype=np.int32)
    items = np.arange(with_cold.n_items, dtype=np.int32)
    user_vec = unit(np.asarray(net.get_layer("user_tower")(users)))
    item_vec = unit(np.asarray(net.get_layer("item_tower")(items, training=False)))
    np.testing.assert_allclose(model.user_vectors_, user_vec, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.item_vectors_, item_vec, rtol=1e-4, atol=1e-5)


def test_scores_are_dot_products_of_the_tower_outputs(checkerboard: Interactions) -> None:
    model = TwoTower(**{**TINY, "normalize": False, "n_negatives": 2}).fit(checkerboard)
    expected = model.user_vectors_[[0, 13]] @ model.item_vectors_.T
    np.testing.assert_allclose(model.score(np.array([0, 13])), expected, rtol=1e-6)


def test_features_for_another_catalogue_raise_input_error(checkerboard: Interactions) -> None:
    model = TwoTower(**TINY).with_features(users=np.ones((3, 2), dtype=np.float32))
    with pytest.raises(InputError, match="cover 3 users"):
        model.fit(checkerboard)
