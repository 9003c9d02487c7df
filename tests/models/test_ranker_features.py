"""The ranker's candidate features: every generator scores every candidate, per-user ranks and
z-values by hand, and training folds whose generators never saw their labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.features.engineered import feature_context
from recsys_core.models._ranker_features import (
    UNUSED_USER_FEATURES,
    candidate_frame,
    candidates,
    rank_within,
    z_within,
)
from recsys_core.models.registry import make_model
from recsys_core.ranking import TwoStageRanker

TINY = {"n_estimators": 20, "num_leaves": 4, "min_child_samples": 2, "n_candidates": 5}


@pytest.fixture(scope="module")
def blocks() -> Interactions:
    """40 users in two taste blocks of 12 items; each user saw a random 6 of their block."""
    rng = np.random.default_rng(5)
    users, items = [], []
    for u in range(40):
        own = rng.choice(12, 6, replace=False) + 12 * (u % 2)
        users += [f"u{u:02d}"] * 6
        items += [f"i{i:02d}" for i in own]
    return Interactions.from_frame(pd.DataFrame({Columns.user: users, Columns.item: items}))


def test_rank_within_each_user_by_hand() -> None:
    users = np.array([0, 0, 0, 3, 3])
    values = np.array([0.2, 0.9, np.nan, -1.0, 5.0])
    assert rank_within(users, values).tolist() == [2.0, 1.0, 3.0, 2.0, 1.0]


def test_z_within_each_user_by_hand_non_finite_left_out() -> None:
    users = np.array([1, 1, 1, 2, 2, 4])
    values = np.array([1.0, 2.0, 3.0, 5.0, np.nan, 7.0])
    z = z_within(users, values)
    sd = np.sqrt(2.0 / 3.0)  # population std of 1, 2, 3
    np.testing.assert_allclose(z[:3], [-1.0 / sd, 0.0, 1.0 / sd])
    assert z[3] == 0.0 and np.isnan(z[4]) and z[5] == 0.0  # one finite value: no spread


def test_every_generator_scores_every_candidate(blocks: Interactions) -> None:
    gens = [make_model("item_knn").fit(blocks), make_model("most_popular").fit(blocks)]
    cand = candidates(gens, np.array([0, 1, 2]), 3)
    feats = candidate_frame(feature_context(blocks), cand, gens)
    for key, gen in zip(["item_knn", "most_popular"], gens, strict=True):
        score = gen.score_pairs(cand.users, cand.items)
        np.testing.assert_array_equal(feats[f"rank_{key}"], rank_within(cand.users, score))
        np.testing.assert_allclose(feats[f"z_{key}"], z_within(cand.users, score))
        np.testing.assert_array_equal(feats[f"list_{key}"], cand.ranks[key])
        assert feats[f"rank_{key}"].notna().all()  # scored outside its own top list too
    assert not set(UNUSED_USER_FEATURES) & set(feats.columns)


def test_training_folds_use_their_own_seed_and_never_fit_on_their_labels(
    blocks: Interactions,
) -> None:
    model = TwoStageRanker(generators=["item_knn"], n_folds=2, **TINY)
    seen = []

    original = model._build_generators

    def spy() -> list:
        gens = original()
        for gen in gens:
            fit = gen.fit

            def recording(data: Interactions, *args: object, _fit=fit, **kw: object) -> object:
                seen.append(set(zip(data.users.tolist(), data.items.tolist(), strict=True)))
                return _fit(data, *args, **kw)

            gen.fit = recording  # type: ignore[method-assign]
        return gens

    model._build_generators = spy  # type: ignore[method-assign]
    rows = [model._training_rows(blocks, seed) for seed in (0, 1)]
    everything = set(zip(blocks.users.tolist(), blocks.items.tolist(), strict=True))
    assert seen[0] != seen[1] and all(s < everything for s in seen)
    for feats, labels, groups in rows:
        # a label is a held-out pair among the candidates; generators never propose what they
        # were fitted on, so any positive row shows its pair was outside the fit part
        assert groups.sum() == len(feats) == len(labels) and labels.any()
    model.fit(blocks)
    assert model.fitted and len(seen) == 2 + 2 + 1  # two folds again, then all of train
