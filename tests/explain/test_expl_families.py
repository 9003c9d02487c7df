"""Every registered family explains its recommendations; the newer breakdowns are checked."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.data.interactions import Interactions
from recsys_core.data.synth import generate, to_interactions
from recsys_core.explain import explain, explain_many
from recsys_core.models._latent import latent_history_parts
from recsys_core.models.base import Recommender
from recsys_core.models.registry import REGISTRY, make_model
from tests.models.conftest import GROUP_ITEMS, GROUP_USERS, checkerboard_interactions

#: What each family's explanation is made of: a spec, one line per registered model.
EXPECTED_KIND = {
    "most_popular": "none",
    "random": "none",
    "item_knn": "history",
    "user_knn": "history",
    "rp3beta": "history",
    "slim": "history",
    "ials": "history",
    "multvae": "history",
    "ease": "history",
    "als": "history",
    "bpr": "history",
    "bias": "components",
    "hybrid": "components",
    "content": "history",
    "neumf": "history",
    "two_tower": "history",
    "fusion": "modalities",
    "ranker": "features",
}
FAST = {
    "neumf": {"epochs": 2},
    "two_tower": {"epochs": 2},
    "fusion": {"epochs": 2},
    "multvae": {"epochs": 2},
    "ranker": {"generators": ["item_knn", "most_popular"], "n_estimators": 20},
}


@pytest.fixture(scope="module")
def synth() -> Interactions:
    return to_interactions(generate(150, 90, 3000, seed=4))


@pytest.fixture(scope="module")
def board() -> Interactions:
    return checkerboard_interactions()


def _top_pairs(model: Recommender, inter: Interactions, users: int, k: int) -> list[tuple]:
    items, _ = model.topk(np.arange(users), k)
    return [
        (inter.user_ids[u], inter.item_ids[i]) for u in range(users) for i in items[u] if i >= 0
    ]


def test_the_table_covers_every_registered_model() -> None:
    assert set(EXPECTED_KIND) == set(REGISTRY)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_family_explains_its_top_items_and_the_parts_add_up(
    name: str, synth: Interactions
) -> None:
    model = make_model(name, FAST.get(name, {})).fit(synth)
    pairs = _top_pairs(model, synth, 5, 3)
    found = explain_many(model, synth, [p[0] for p in pairs], [p[1] for p in pairs])
    assert all(e is not None for e in found)
    for (user, item), expl in zip(pairs, found, strict=True):
        assert expl is not None and (expl.user_id, expl.item_id) == (str(user), str(item))
        assert expl.kind == EXPECTED_KIND[name]
        assert len(expl.sentence) > 20 and expl.sentence.endswith((".", ")"))
        one = explain(model, synth, user, item)
        assert one.sentence == expl.sentence  # the batch path says what the single one says
        total = expl.contributions["value"].sum() + expl.residual
        assert total == pytest.approx(expl.score, rel=1e-4, abs=1e-5)
        if expl.kind != "none":
            assert not expl.contributions.empty


def test_latent_parts_recover_a_user_built_from_history_by_hand() -> None:
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.5]])
    # user = 2 * v0 + 1 * v1; item 2 = (1, 1): parts 2 * (v0.v2) = 2 and 1 * (v1.v2) = 1.
    items, parts = latent_history_parts(np.array([2.0, 1.0]), vectors, np.array([1, 0]), 2)
    assert items.tolist() == [0, 1] and parts == pytest.approx([2.0, 1.0])
    # For item 3 = (-1, 0.5): 2 * (-1) and 1 * 0.5, strongest (by size) first.
    items, parts = latent_history_parts(np.array([2.0, 1.0]), vectors, np.array([0, 1]), 3)
    assert items.tolist() == [0, 1] and parts == pytest.approx([-2.0, 0.5])
    # A user pointing away from every history vector takes no history item at all.
    items, parts = latent_history_parts(np.array([-1.0, -1.0]), vectors, np.array([0, 1]), 2)
    assert len(items) == 0 and len(parts) == 0


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("bpr", {}),
        ("two_tower", {"epochs": 20, "use_item_features": False}),
        ("neumf", {"epochs": 20}),
        ("user_knn", {}),
    ],
)
def test_history_reasons_come_from_the_users_own_group(
    name: str, params: dict, board: Interactions
) -> None:
    """On the checkerboard, an item is liked only within its group: so are its reasons."""
    model = make_model(name, params).fit(board)
    names = board.item_features["title"] if board.item_features is not None else None
    assert names is not None
    group_of = {title: int(title.split("thing")[1]) // GROUP_ITEMS for title in names}
    supporting = 0
    for user, item in _top_pairs(model, board, 2 * GROUP_USERS, 3):
        expl = explain(model, board, user, item)
        own = int(str(user)[1:]) // GROUP_USERS
        positive = expl.contributions.loc[expl.contributions["value"] > 0, "name"]
        assert {group_of[n] for n in positive} <= {own}, (user, item, positive.tolist())
        supporting += len(positive)
    assert supporting > 2 * GROUP_USERS  # reasons were given, not just left empty


@pytest.mark.parametrize(
    "params",
    [{}, {"binarize": False}, {"similarity": "jaccard", "shrinkage": 2.0, "n_neighbors": 5}],
)
def test_user_knn_parts_are_exact(params: dict, synth: Interactions) -> None:
    model = make_model("user_knn", params).fit(synth)
    for user, item in _top_pairs(model, synth, 8, 4):
        expl = explain(model, synth, user, item)
        assert expl.residual == pytest.approx(0.0, abs=1e-4 * max(1.0, abs(expl.score)))


def test_embedding_models_say_how_much_of_the_score_the_history_carries(
    board: Interactions,
) -> None:
    model = make_model("two_tower", {"epochs": 5, "use_item_features": False}).fit(board)
    user, item = _top_pairs(model, board, 1, 1)[0]
    expl = explain(model, board, user, item)
    covered = abs(expl.score - expl.residual)
    share = covered / (covered + abs(expl.residual))
    assert f"Your history carries about {share:.0%} of this score" in expl.sentence
    exact = explain(make_model("ease", {}).fit(board), board, user, item)
    assert "carries about" not in exact.sentence


def test_bias_reason_is_the_three_terms_and_says_above_or_below(synth: Interactions) -> None:
    model = make_model("bias", {}).fit(synth)
    best = int(np.argmax(model.item_bias_))
    worst = int(np.argmin(model.item_bias_))
    user = synth.user_ids[0]
    for item, side in ((best, "above"), (worst, "below")):
        expl = explain(model, synth, user, synth.item_ids[item])
        parts = dict(zip(expl.contributions["name"], expl.contributions["value"], strict=True))
        assert parts["average rating"] == pytest.approx(model.global_mean_)
        assert parts["this item's standing"] == pytest.approx(model.item_bias_[item])
        assert expl.residual == pytest.approx(0.0, abs=1e-5)
        assert f"{abs(model.item_bias_[item]):.2f} {side} the average" in expl.sentence


def test_rank_blend_is_explained_by_component_shares_then_the_top_ones_reason(
    synth: Interactions,
) -> None:
    model = make_model(
        "hybrid", {"components": ["ease:0.8", "most_popular:0.2"], "normalisation": "rank"}
    ).fit(synth)
    assert not model.explains  # rank normalisation does not split over history
    user, item = _top_pairs(model, synth, 1, 1)[0]
    expl = explain(model, synth, user, item)
    parts = dict(zip(expl.contributions["name"], expl.contributions["value"], strict=True))
    assert set(parts) == {"ease", "most_popular"}
    assert sum(parts.values()) == pytest.approx(expl.score, abs=1e-5)
    top = max(parts, key=lambda k: abs(parts[k]))
    assert expl.sentence.startswith(f"Mostly from its *{top}* part")
    inner = explain(model.components()[["ease", "most_popular"].index(top)], synth, user, item)
    assert expl.sentence.endswith(inner.sentence)


def test_unknown_pairs_in_a_batch_are_none_and_the_rest_explained(synth: Interactions) -> None:
    model = make_model("ease", {}).fit(synth)
    user, item = _top_pairs(model, synth, 1, 1)[0]
    found = explain_many(model, synth, [user, "nobody", user], [item, item, "no-such-item"])
    assert found[0] is not None and found[1] is None and found[2] is None
