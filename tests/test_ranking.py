"""Two-stage ranker: candidates, training window, SHAP and permutation importance, notes."""

from __future__ import annotations

import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.evaluation import evaluate
from recsys_core.explain.shap_ import (
    beeswarm_figure,
    dependence_figure,
    group_ndcg,
    permutation_importance_rows,
    ranker_reasons,
    shap_importance,
)
from recsys_core.models import REGISTRY
from recsys_core.models.registry import make_model
from recsys_core.ranking import TwoStageRanker, candidates, comparison_note
from recsys_core.splitting import RandomHoldout, split


@pytest.fixture(scope="module")
def blocks() -> Interactions:
    """60 users in three taste blocks of 15 items; each user saw a random 8 of their block."""
    rng = np.random.default_rng(7)
    users, items = [], []
    for u in range(60):
        block = u % 3
        own = rng.choice(15, 8, replace=False) + 15 * block
        users += [f"u{u:02d}"] * 8
        items += [f"i{i:02d}" for i in own]
    frame = pd.DataFrame({Columns.user: users, Columns.item: items})
    return Interactions.from_frame(frame)


TINY = {"n_estimators": 20, "num_leaves": 4, "min_child_samples": 2, "n_candidates": 10}


@pytest.fixture(scope="module")
def ranker(blocks: Interactions) -> TwoStageRanker:
    return TwoStageRanker(generators=["item_knn", "most_popular"], **TINY).fit(blocks)


def test_ranker_is_registered() -> None:
    assert REGISTRY["ranker"] is TwoStageRanker


def test_candidates_are_the_union_of_top_lists_with_ranks(blocks: Interactions) -> None:
    knn = make_model("item_knn").fit(blocks)
    pop = make_model("most_popular").fit(blocks)
    users = np.array([0, 4])
    cand = candidates([knn, pop], users, 5)
    expected = set()
    for model in (knn, pop):
        items, _ = model.topk(users, 5)
        expected |= {(u, i) for u, row in zip(users, items, strict=True) for i in row}
    assert set(zip(cand.users.tolist(), cand.items.tolist(), strict=True)) == expected
    knn_items, knn_scores = knn.topk(users[:1], 5)
    first = (cand.users == 0) & (cand.items == knn_items[0, 0])
    assert cand.ranks["item_knn"][first].tolist() == [1.0]
    assert cand.scores["item_knn"][first][0] == pytest.approx(knn_scores[0, 0])
    outside = np.isnan(cand.scores["item_knn"])
    assert (cand.ranks["item_knn"][outside] == 6).all()


def test_no_generators_is_an_input_error() -> None:
    with pytest.raises(InputError, match="at least one candidate generator"):
        make_model("ranker", {"generators": []})
    with pytest.raises(InputError, match="at least one candidate generator"):
        candidates([], np.array([0]), 5)


def test_ranker_scores_candidates_above_every_other_item(ranker: TwoStageRanker) -> None:
    users = np.array([0, 1, 2])
    cand, _ = ranker.candidate_features(users)
    scores = ranker.score(users)
    for row, u in enumerate(users):
        mine = cand.items[cand.users == u]
        others = np.setdiff1d(np.arange(ranker.n_items), mine)
        assert scores[row, mine].min() > scores[row, others].max()


def test_ranker_evaluates_like_any_model_and_keeps_blocks(blocks: Interactions) -> None:
    sp_ = split(blocks, RandomHoldout(test_fraction=0.25), random_state=1)
    model = TwoStageRanker(generators=["item_knn"], **TINY).fit(sp_.train)
    knn = make_model("item_knn").fit(sp_.train)
    wide = evaluate({"ranker": model, "item_knn": knn}, sp_, ks=(5,)).wide()
    ndcg = wide.loc["NDCG@5"]
    assert 0.0 < ndcg["ranker"] <= 1.0
    note = comparison_note({"NDCG@5": ndcg["ranker"]}, {"item_knn": {"NDCG@5": ndcg["item_knn"]}})
    assert (note is None) == bool(ndcg["ranker"] > ndcg["item_knn"])
    recs = model.recommend(sp_.train.user_ids[:9], 3)
    block_user = recs[Columns.user].str[1:].astype(int) % 3
    block_item = recs[Columns.item].str[1:].astype(int) // 15
    assert (block_user == block_item).mean() > 0.9


def test_ranker_reasons_are_signed_shap_features(ranker: TwoStageRanker) -> None:
    cand, _ = ranker.candidate_features(np.array([0]))
    why = ranker_reasons(ranker, 0, int(cand.items[0]), n=3)
    assert why.kind == "features"
    assert len(why.contributions) == 3
    assert set(why.contributions["name"]) <= set(ranker.feature_names_)
    with pytest.raises(InputError, match="not a candidate"):
        seen = int(ranker.train_.matrix[0].indices[0])
        ranker_reasons(ranker, 0, seen)


def test_lightgbm_tree_shap_equals_shaps_tree_explainer(ranker: TwoStageRanker) -> None:
    """Reasons and importance read LightGBM's own TreeSHAP; shap's explainer is the reference."""
    import shap

    from recsys_core.models._ranker_reasons import tree_shap

    _, feats = ranker.candidate_features(np.arange(10))
    expected = np.asarray(shap.TreeExplainer(ranker.booster()).shap_values(feats))
    np.testing.assert_allclose(tree_shap(ranker.booster(), feats), expected, rtol=1e-12, atol=1e-12)


def test_shap_importance_on_the_ranker_and_figures(ranker: TwoStageRanker) -> None:
    _, feats = ranker.candidate_features(np.arange(10))
    mean_abs, values = shap_importance(ranker, feats, max_rows=50)
    assert values.shape == (50, feats.shape[1])
    assert list(mean_abs["feature"]) and mean_abs["mean_abs_shap"].is_monotonic_decreasing
    assert len(beeswarm_figure(values, feats).data) == feats.shape[1]
    assert len(dependence_figure(values, feats, "item_popularity").data) == 1
    with pytest.raises(InputError, match="Unknown feature"):
        dependence_figure(values, feats, "nope")


def test_without_lightgbm_the_sklearn_fallback_ranks_but_refuses_to_save(
    blocks: Interactions, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "lightgbm", None)  # what a missing package looks like
    model = TwoStageRanker(generators=["item_knn"], **TINY).fit(blocks)
    assert str(model.booster_) == ""
    cand, _ = model.candidate_features(np.array([0]))
    scores = model.score(np.array([0]))[0]
    others = np.setdiff1d(np.arange(model.n_items), cand.items)
    assert scores[cand.items].min() > scores[others].max()
    with pytest.raises(InputError, match="Install lightgbm"):
        model.save(tmp_path / "r.npz")


def test_no_validation_hit_among_candidates_is_an_input_error() -> None:
    """Each user's items are theirs alone: a held-out item has popularity 0 in the fit part,
    so a one-item popularity list always picks another user's item instead."""
    users = [u for u in "abcdef" for _ in range(2)]
    frame = pd.DataFrame(
        {Columns.user: users, Columns.item: [f"{u}{j}" for u in "abcdef" for j in (1, 2)]}
    )
    with pytest.raises(InputError, match="No held-out validation pair"):
        TwoStageRanker(generators=["most_popular"], n_candidates=1, validation_fraction=0.5).fit(
            Interactions.from_frame(frame)
        )


def _planted(rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """300 users x 20 candidates: relevance from 'planted' alone; 'decoy' is pure noise."""
    n_groups, size = 300, 20
    planted = rng.normal(size=n_groups * size)
    frame = pd.DataFrame(
        {
            "decoy": rng.normal(size=n_groups * size),
            "planted": planted,
            "weak_noise": rng.uniform(size=n_groups * size),
        }
    )
    groups = np.repeat(np.arange(n_groups), size)
    labels = (planted > 1.0).astype(int)
    return frame, labels, groups


def test_planted_feature_ranks_first_by_shap_and_permutation() -> None:
    frame, labels, groups = _planted(np.random.default_rng(3))
    model = lgb.LGBMRanker(
        objective="lambdarank", n_estimators=30, num_leaves=7, random_state=0, verbose=-1
    )
    model.fit(frame, labels, group=np.bincount(groups))
    mean_abs, _ = shap_importance(model.booster_, frame)
    assert mean_abs["feature"].iloc[0] == "planted"
    top = mean_abs.set_index("feature")["mean_abs_shap"]
    assert top["decoy"] < 0.2 * top["planted"]
    perm = permutation_importance_rows(model.booster_.predict, frame, labels, groups)
    assert perm["feature"].iloc[0] == "planted"
    assert perm.set_index("feature")["mean_drop"]["decoy"] < 0.1 * perm["mean_drop"].iloc[0]


def test_group_ndcg_by_hand() -> None:
    # Group 0: the relevant row ranked 2nd -> 1/log2(3); group 1: first -> 1; group 2: none.
    scores = np.array([0.9, 0.5, 0.1, 0.8, 0.2, 0.3])
    labels = np.array([0, 1, 0, 1, 0, 0])
    groups = np.array([0, 0, 0, 1, 1, 2])
    assert group_ndcg(scores, labels, groups, 10) == pytest.approx((1 / np.log2(3) + 1) / 2)


def test_comparison_note_says_plainly_when_the_ranker_does_not_win() -> None:
    note = comparison_note({"NDCG@10": 0.30}, {"item_knn": {"NDCG@10": 0.32}, "pop": {}})
    assert note is not None
    assert "does not beat its best candidate model item_knn" in note
    assert "0.3000" in note and "0.3200" in note
    assert comparison_note({"NDCG@10": 0.40}, {"item_knn": {"NDCG@10": 0.32}}) is None
    tie = comparison_note({"NDCG@10": 0.32}, {"item_knn": {"NDCG@10": 0.32}})
    assert tie is not None and "does not beat" in tie
