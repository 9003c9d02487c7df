"""Fusion: the gates and the ablation find the one modality that carries the signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.features.encoders import ItemModalities
from recsys_core.models.deep import Fusion
from recsys_core.splitting.configs import RandomHoldout
from recsys_core.splitting.splits import Split

N_CATEGORIES, PER_CATEGORY, N_USERS, PER_USER, HELD = 4, 30, 80, 15, 3
TINY = {
    "embedding_size": 8,
    "batch_size": 64,
    "learning_rate": 0.01,
    "validation_fraction": 0.0,
    "epochs": 10,
}


def planted() -> tuple[Interactions, Interactions, ItemModalities]:
    """Each user takes 15 items of one category (12 train, 3 test); the category block is a
    one-hot of the category, the text block is random noise unrelated to anything."""
    rng = np.random.default_rng(7)
    n_items = N_CATEGORIES * PER_CATEGORY
    category = np.arange(n_items) // PER_CATEGORY
    user_category = np.arange(N_USERS) % N_CATEGORIES
    picks = np.stack(
        [rng.choice(np.flatnonzero(category == c), PER_USER, replace=False) for c in user_category]
    )
    users = np.repeat(np.arange(N_USERS), PER_USER)
    frame = pd.DataFrame(
        {
            Columns.user: [f"u{u:03d}" for u in users],
            Columns.item: [f"i{i:03d}" for i in picks.ravel()],
        }
    )
    item_ids = np.array([f"i{i:03d}" for i in range(n_items)], dtype=object)
    data = Interactions.from_frame(frame, item_ids=item_ids)
    is_test = np.tile(np.arange(PER_USER) >= PER_USER - HELD, N_USERS)
    blocks = {
        "categorical": np.eye(N_CATEGORIES, dtype=np.float32)[category],
        "text": rng.normal(size=(n_items, 16)).astype(np.float32),
    }
    modalities = ItemModalities(
        item_ids=item_ids,
        blocks=blocks,
        present={name: np.ones(n_items, dtype=bool) for name in blocks},
        encoders={name: "hand-made" for name in blocks},
        feature_names={
            "categorical": [f"category={c}" for c in range(N_CATEGORIES)],
            "text": [f"noise~{j}" for j in range(16)],
        },
    )
    return data.subset(~is_test), data.subset(is_test), modalities


@pytest.fixture(scope="module")
def fitted() -> tuple[Fusion, Interactions]:
    train, test, modalities = planted()
    model = Fusion(use_item_id=False, **TINY).with_features(modalities).fit(train)
    return model, test


def test_the_signal_modality_gets_the_largest_gate_weight(fitted: tuple[Fusion, object]) -> None:
    weights = fitted[0].modality_weights()
    assert set(weights) == {"categorical", "text"}
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-5)
    assert weights["categorical"] > weights["text"]


def test_removing_the_signal_modality_drops_ndcg_the_most(
    fitted: tuple[Fusion, Interactions],
) -> None:
    model, test = fitted
    table = model.ablation(test, k=10)
    assert table["modality"].tolist() == ["none", "categorical", "text"]
    drop = table.set_index("modality")["drop"]
    assert drop["none"] == 0.0
    assert drop["categorical"] > drop["text"]
    assert drop["categorical"] > 0.5 * table["NDCG@10"].iloc[0]  # most of the accuracy


def test_ablation_takes_a_split_or_held_out_interactions_alike(
    fitted: tuple[Fusion, Interactions],
) -> None:
    model, test = fitted
    split = Split(model.train_, test, None, RandomHoldout())
    pd.testing.assert_frame_equal(model.ablation(split, k=5), model.ablation(test, k=5))


def test_ablation_on_other_data_raises_input_error(
    fitted: tuple[Fusion, Interactions], checkerboard: Interactions
) -> None:
    with pytest.raises(InputError, match="users and items"):
        fitted[0].ablation(checkerboard)


def test_modality_shares_add_up_to_the_score(fitted: tuple[Fusion, Interactions]) -> None:
    model = fitted[0]
    for user, item in [("u000", "i005"), ("u013", "i100"), ("u079", "i060")]:
        shares = model.modality_shares(user, item)
        u, i = model.train_.user_index([user])[0], model.train_.item_index([item])[0]
        score = model.score(np.array([u]), np.array([i]))[0, 0]
        assert set(shares) == {"categorical", "text"}
        assert sum(shares.values()) == pytest.approx(float(score), abs=1e-5)


def test_modality_shares_of_unknown_ids_raise_input_error(
    fitted: tuple[Fusion, Interactions],
) -> None:
    with pytest.raises(InputError, match="nobody"):
        fitted[0].modality_shares("nobody", "i000")


def test_items_without_interactions_give_the_id_modality_no_weight(
    checkerboard: Interactions,
) -> None:
    ids = np.append(checkerboard.item_ids, "i99")
    data = Interactions.from_frame(checkerboard.to_frame(), item_ids=ids)
    model = Fusion(**{**TINY, "embedding_size": 4, "epochs": 2}).fit(data)
    assert model.modality_names() == ["id"]
    assert model.gates_[:-1, 0].tolist() == [1.0] * checkerboard.n_items
    assert model.gates_[-1, 0] == 0.0
    assert (model.score(np.arange(data.n_users))[:, -1] == 0).all()


def test_nothing_to_fuse_raises_input_error(checkerboard: Interactions) -> None:
    data = Interactions.from_frame(checkerboard.to_frame())
    with pytest.raises(InputError, match="nothing to fuse"):
        Fusion(use_item_id=False, **TINY).fit(data)
