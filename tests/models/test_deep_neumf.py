"""NeuMF: negative sampling, and numpy scoring that reproduces the trained Keras network."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.models.deep import NeuMF, neumf
from recsys_core.models.deep._keras import load_keras, set_layer_arrays
from recsys_core.models.deep._neumf_parts import PRETRAIN_SCALE
from recsys_core.models.deep.neumf import positive_pairs, sample_negatives
from recsys_core.models.implicit_mf import ALS

TINY = {"embedding_size": 4, "batch_size": 64, "learning_rate": 0.01, "validation_fraction": 0.0}


def test_positive_pairs_drop_repeats_and_sort_by_user_then_item() -> None:
    frame = pd.DataFrame(
        {Columns.user: ["b", "a", "b", "a", "b"], Columns.item: ["y", "z", "x", "z", "y"]}
    )
    users, items = positive_pairs(Interactions.from_frame(frame))
    # a=0, b=1; x=0, y=1, z=2: a saw z (twice), b saw x and y (y twice)
    assert users.tolist() == [0, 1, 1]
    assert items.tolist() == [2, 0, 1]


def test_negatives_are_never_seen_items(rng: np.random.Generator) -> None:
    users = np.array([0, 0, 1])
    codes = np.array([0 * 5 + 1, 0 * 5 + 3, 1 * 5 + 0])  # user 0 saw 1, 3; user 1 saw 0
    neg_users, neg_items = sample_negatives(users, codes, 5, 50, rng)
    assert neg_users.tolist() == [0] * 100 + [1] * 50
    assert not np.isin(neg_items[:100], [1, 3]).any()
    assert not (neg_items[100:] == 0).any()
    assert set(neg_items[:100]) == {0, 2, 4}  # 100 draws reach every allowed item


def test_a_user_who_saw_all_but_one_item_gets_that_one_as_negative(
    rng: np.random.Generator,
) -> None:
    codes = np.array([0, 1, 2, 4])  # user 0 saw items 0, 1, 2, 4 of 5
    _, neg_items = sample_negatives(np.array([0]), codes, 5, 20, rng)
    assert (neg_items == 3).all()


def test_negatives_follow_the_given_distribution_and_skip_seen_items(
    rng: np.random.Generator,
) -> None:
    """By popularity: all the chance on items 1 and 2, and user 0 saw item 1."""
    cdf = np.cumsum([0.0, 0.5, 0.5, 0.0, 0.0])
    codes = np.array([0 * 5 + 1])
    _, neg_items = sample_negatives(np.array([0, 1]), codes, 5, 50, rng, cdf)
    assert (neg_items[:50] == 2).all()  # item 1 redrawn until it is not the seen item
    assert set(neg_items[50:]) == {1, 2}


def test_softmax_epochs_hold_each_positive_with_its_negatives_and_their_log_chances(
    checkerboard: Interactions, rng: np.random.Generator
) -> None:
    model = NeuMF(n_negatives=3, loss="softmax", **TINY)
    (users, groups), log_q = model._epoch_data(checkerboard, {}, rng)
    assert groups.shape == (checkerboard.n_interactions, 4) and log_q.shape == groups.shape
    seen = checkerboard.matrix.toarray() > 0
    assert seen[users, groups[:, 0]].all() and not seen[users[:, None], groups[:, 1:]].any()
    counts = np.bincount(checkerboard.items, minlength=checkerboard.n_items) + 1.0
    np.testing.assert_allclose(log_q, np.log(counts / counts.sum())[groups], rtol=1e-6)


def _keras_scores(model: NeuMF, data: Interactions) -> np.ndarray:
    """The trained architecture rebuilt in Keras from the stored arrays, run on all pairs."""
    net = model._pair_net(load_keras(), data)
    set_layer_arrays(net, model._state())
    users = np.repeat(np.arange(data.n_users), data.n_items).astype(np.int32)
    items = np.tile(np.arange(data.n_items), data.n_users).astype(np.int32)
    return np.asarray(net([users, items])).reshape(data.n_users, data.n_items)


def test_numpy_scores_equal_the_keras_network_logits(checkerboard: Interactions) -> None:
    model = NeuMF(mlp_layers=[8, 4], epochs=2, **TINY).fit(checkerboard)
    expected = _keras_scores(model, checkerboard)
    scores = model.score(np.arange(checkerboard.n_users))
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-5)


def test_scoring_in_small_chunks_gives_the_same_scores(
    checkerboard: Interactions, monkeypatch: Any
) -> None:
    model = NeuMF(mlp_layers=[8], epochs=2, **TINY).fit(checkerboard)
    users = np.arange(checkerboard.n_users)
    whole = model.score(users)
    monkeypatch.setattr(neumf, "PAIR_BUDGET", 1)  # one user per chunk
    np.testing.assert_allclose(model.score(users), whole, rtol=1e-6, atol=1e-6)
    cols = np.array([3, 17, 0])
    np.testing.assert_allclose(model.score(users, cols), whole[:, cols], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("layers", [[8], [8, 4, 2]])
def test_validation_scores_in_tensorflow_equal_the_numpy_scores(
    checkerboard: Interactions, monkeypatch: Any, layers: list[int]
) -> None:
    """Early stopping scores in TensorFlow; the epoch it picks must see the model's scores."""
    model = NeuMF(mlp_layers=layers, epochs=2, **TINY).fit(checkerboard)
    users = np.arange(checkerboard.n_users)[::-1]  # any order, as validation users come
    expected = model.score(users)
    monkeypatch.setattr(neumf, "PAIR_BUDGET", 50)  # several user blocks, a short last one
    got = model._validation_scores(model._state(), users)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("loss", "epochs"), [("bce", 3), ("softmax", 15), ("in_batch", 15)])
def test_regularisation_shrinks_the_embeddings(
    checkerboard: Interactions, loss: str, epochs: int
) -> None:
    """As many gradient steps each way: bce batches hold 1 + n_negatives pairs per example."""
    params = {**TINY, "loss": loss, "epochs": epochs, "pretrain": "none"}
    loose = NeuMF(mlp_layers=[8], **{**params, "reg": 0.0}).fit(checkerboard)
    tight = NeuMF(mlp_layers=[8], **{**params, "reg": 1.0}).fit(checkerboard)
    assert np.abs(tight.gmf_user_0_).mean() < 0.1 * np.abs(loose.gmf_user_0_).mean()


def test_in_batch_logits_are_the_pair_logits_less_log_chance_with_copies_masked(
    checkerboard: Interactions,
) -> None:
    """The grouped head splits the first MLP layer; it must equal the network of the paper.

    Two groups of three rows: each row is scored against the three items of its own group.
    """
    params = {**TINY, "batch_size": 6, "in_batch_group": 3}
    model = NeuMF(mlp_layers=[8, 4], pretrain="none", **params)
    net = model._build(load_keras(), checkerboard, {})
    users = np.array([0, 5, 13, 20, 7, 2], dtype=np.int32)
    items = np.array([1, 3, 12, 15, 3, 15], dtype=np.int32)  # 15 twice in the second group
    logits = np.asarray(net([users, items]))
    assert logits.shape == (6, 3)
    counts = np.bincount(checkerboard.items, minlength=checkerboard.n_items)
    log_q = np.log(counts / counts.sum())
    pairs = model._score_state(model._export(net), users, items) - log_q[items][None, :]
    expected = np.vstack([pairs[:3, :3], pairs[3:, 3:]])
    copies = np.zeros((6, 3), dtype=bool)
    copies[3, 2] = copies[5, 0] = True  # row 3's item is also in column 2 (row 5), and back
    np.testing.assert_allclose(logits[~copies], expected[~copies], rtol=1e-4, atol=1e-5)
    assert (logits[copies] < -1e8).all()  # masked: the same item is no negative


def test_in_batch_groups_must_fill_the_batch() -> None:
    with pytest.raises(ValueError, match="multiple of in_batch_group"):
        NeuMF(batch_size=100, in_batch_group=32)
    NeuMF(batch_size=100, in_batch_group=32, loss="softmax")  # groups only cut in_batch


def test_the_als_start_scores_as_als_times_the_start_weight(checkerboard: Interactions) -> None:
    """Before any epoch the GMF branch holds ALS's factors and the MLP's output weight is 0."""
    model = NeuMF(mlp_layers=[8], **TINY)
    net = model._build(load_keras(), checkerboard, {})
    users = np.arange(checkerboard.n_users)
    state = model._export(net)
    als = ALS(embedding_size=4, random_state=model.config.random_state).fit(checkerboard)
    expected = PRETRAIN_SCALE * als.score(users) + state["predict_1"][0]
    np.testing.assert_allclose(
        model._score_state(state, users, None), expected, rtol=1e-5, atol=1e-5
    )


def test_a_random_start_is_no_candidate(checkerboard: Interactions) -> None:
    model = NeuMF(mlp_layers=[8], epochs=2, pretrain="none", **TINY).fit(checkerboard)
    assert model.history_[:, 0].tolist() == [1, 2]


def test_config_rejects_an_empty_mlp() -> None:
    with pytest.raises(ValueError, match="mlp_layers"):
        NeuMF(mlp_layers=[])
