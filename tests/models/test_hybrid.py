"""Hybrid: normalisations and blends by hand, switching, from_fitted checks, save and explain."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.models import EASE, REGISTRY, ItemKNN, MostPopular, Recommender, make_model
from recsys_core.models.hybrid import Hybrid, normalise_scores
from recsys_core.models.registry import load_model_file
from recsys_core.progress import Progress

S2 = np.sqrt(2.0)


def _frame(pairs: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(pairs, columns=[Columns.user, Columns.item])


@pytest.fixture
def two_by_four() -> Interactions:
    """u0 saw i0, i1, i2; u1 saw i1, i3 (binary): small enough to blend by hand."""
    pairs = [("u0", "i0"), ("u0", "i1"), ("u0", "i2"), ("u1", "i1"), ("u1", "i3")]
    return Interactions.from_frame(_frame(pairs))


class PriceScorer(Recommender):
    """Scores every item by its price feature: a tiny real model that scores cold items."""

    name: ClassVar[str] = "price_scorer_test"
    supports_cold_items: ClassVar[bool] = True
    personalized: ClassVar[bool] = False

    def _fit(self, train: Interactions, progress: Progress | None) -> None:
        assert train.item_features is not None
        prices = train.item_features["price"].reindex(np.asarray(train.item_ids, dtype=str))
        self.price_ = prices.to_numpy(dtype=np.float32)

    def _score(self, users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        price = self.price_ if items is None else self.price_[items]
        return np.tile(price, (len(users), 1))


@pytest.fixture
def with_cold(rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> Interactions:
    """Eight warm users (4 of items i0..i7 each), two cold users (1 item), cold items i8, i9."""
    monkeypatch.setitem(REGISTRY, PriceScorer.name, PriceScorer)
    pairs = [(f"w{u}", f"i{i}") for u in range(8) for i in rng.choice(8, 4, replace=False)]
    pairs += [("c0", "i0"), ("c1", "i5")]
    items = pd.DataFrame({"price": rng.uniform(1, 50, 10)}, index=[f"i{i}" for i in range(10)])
    return Interactions.from_frame(_frame(pairs), item_features=items)


# ---------------------------------------------------------------------- normalisation
def test_normalise_scores_by_hand_on_two_users_four_items() -> None:
    scores = np.array([[1.0, 2.0, 2.0, 10.0], [3.0, 3.0, 3.0, 3.0]])
    minmax = normalise_scores(scores, "minmax")
    np.testing.assert_allclose(minmax, [[0.0, 1 / 9, 1 / 9, 1.0], [0.0, 0.0, 0.0, 0.0]], atol=1e-6)
    sd = np.sqrt((2.75**2 + 1.75**2 + 1.75**2 + 6.25**2) / 4)  # mean 3.75
    expected_z = np.array([[-2.75, -1.75, -1.75, 6.25], [0, 0, 0, 0]]) / [[sd], [1]]
    np.testing.assert_allclose(normalise_scores(scores, "zscore"), expected_z, atol=1e-6)
    # ranks 1, 2.5, 2.5, 4 -> (r - 1) / 3; a constant row ties at the average rank 2.5
    expected_r = [[0, 0.5, 0.5, 1], [0.5, 0.5, 0.5, 0.5]]
    np.testing.assert_allclose(normalise_scores(scores, "rank"), expected_r, atol=1e-6)


@pytest.mark.parametrize("method", ["minmax", "zscore", "rank"])
def test_normalise_non_finite_scores_get_the_rows_lowest_value(method: Any) -> None:
    scores = np.array([[4.0, -np.inf, 1.0, np.nan, 2.0]])
    out = normalise_scores(scores, method)
    finite = normalise_scores(scores[:, [0, 2, 4]], method)
    np.testing.assert_allclose(out[:, [0, 2, 4]], finite, atol=1e-6)
    assert out[0, 1] == out[0, 3] == finite.min()


def test_normalise_near_constant_float32_row_is_not_stretched() -> None:
    row = np.array([[0.70710677, 0.70710677, np.nextafter(np.float32(0.70710677), 1)]])
    out = normalise_scores(row.astype(np.float32), "minmax")
    assert np.abs(out).max() < 1e-6  # stretched, the last entry would be 1


# ---------------------------------------------------------------------- blending
def test_minmax_blend_by_hand_on_two_users_four_items(two_by_four: Interactions) -> None:
    """Cosine item-item sims: (0,1) = (1,2) = (1,3) = 1/sqrt2, (0,2) = 1, others 0."""
    model = Hybrid(components=["most_popular:1", "item_knn:1"]).fit(two_by_four)
    knn_u0 = np.array([1 + 1 / S2, S2, 1 + 1 / S2, 1 / S2])  # u1's row is constant 1/sqrt2
    knn_u0 = (knn_u0 - knn_u0.min()) / (knn_u0.max() - knn_u0.min())
    pop = np.array([0.0, 1.0, 0.0, 0.0])  # counts 1, 2, 1, 1
    expected = 0.5 * np.vstack([pop + knn_u0, pop])
    np.testing.assert_allclose(model.score(np.array([0, 1])), expected, atol=1e-6)
    np.testing.assert_allclose(knn_u0, [1, 1 / S2, 1, 0], atol=1e-6)


def test_rank_blend_by_hand_weights_divided_by_their_sum(two_by_four: Interactions) -> None:
    model = Hybrid(components=["most_popular:1", "item_knn:3"], normalisation="rank").fit(
        two_by_four
    )
    pop = np.array([1, 3, 1, 1]) / 3  # ranks 2, 4, 2, 2
    knn = np.array([[5 / 6, 1 / 3, 5 / 6, 0], [0.5, 0.5, 0.5, 0.5]])  # ranks 3.5, 2, 3.5, 1
    np.testing.assert_allclose(model.score(np.array([0, 1])), 0.25 * pop + 0.75 * knn, atol=1e-6)


def test_blend_matches_components_on_real_scale_and_item_subset(
    with_cold: Interactions,
) -> None:
    model = Hybrid(components=["item_knn:0.7", "ease:0.3"], normalisation="zscore")
    model.fit(with_cold)
    knn, ease = model.components()
    users = np.arange(with_cold.n_users)
    expected = 0.7 * normalise_scores(knn.score(users), "zscore") + 0.3 * normalise_scores(
        ease.score(users), "zscore"
    )
    np.testing.assert_allclose(model.score(users), expected, atol=1e-5)
    cols = np.array([9, 2, 4])
    np.testing.assert_allclose(model.score(users, cols), expected[:, cols], atol=1e-5)


# ---------------------------------------------------------------------- switching
def test_switching_sends_cold_users_to_the_chosen_component(with_cold: Interactions) -> None:
    model = Hybrid(
        components=["item_knn:1", "most_popular:0"],
        switching={"cold_user_model": 1, "cold_user_threshold": 3},
    ).fit(with_cold)
    knn, pop = model.components()
    cold = with_cold.user_index(["c0", "c1"])
    warm = with_cold.user_index([f"w{u}" for u in range(8)])
    np.testing.assert_allclose(model.score(cold), normalise_scores(pop.score(cold), "minmax"))
    np.testing.assert_allclose(model.score(warm), normalise_scores(knn.score(warm), "minmax"))
    recs = model.recommend(["c0"], 5)[Columns.item].tolist()
    assert recs == pop.recommend(["c0"], 5)[Columns.item].tolist()
    assert recs != knn.recommend(["c0"], 5)[Columns.item].tolist()


def test_switching_scores_cold_items_by_the_cold_item_component(with_cold: Interactions) -> None:
    model = Hybrid(
        components=["item_knn:1", "price_scorer_test:0"], switching={"cold_items_from": 1}
    ).fit(with_cold)
    knn, price = model.components()
    users = np.arange(with_cold.n_users)
    cold = with_cold.item_index(["i8", "i9"])
    scores = model.score(users)
    expected_cold = normalise_scores(price.score(users), "minmax")[:, cold]
    np.testing.assert_allclose(scores[:, cold], expected_cold)
    warm = np.setdiff1d(np.arange(with_cold.n_items), cold)
    np.testing.assert_allclose(
        scores[:, warm], normalise_scores(knn.score(users), "minmax")[:, warm]
    )
    assert model.supports_cold_items and not Hybrid.supports_cold_items
    assert not Hybrid(components=["item_knn"]).supports_cold_items


def test_cold_items_component_must_score_cold_items() -> None:
    with pytest.raises(InputError, match="'most_popular' cannot score items it never saw"):
        make_model("hybrid", {"components": ["item_knn", "most_popular"],
                              "switching": {"cold_items_from": 1}})  # fmt: skip


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"components": ["item_knn:0", "ease:0"]}, "weight above 0"),
        ({"components": ["item_knn"], "switching": {"cold_user_model": 2}}, "component 2"),
        ({"components": ["item_knnn"]}, "Unknown model 'item_knnn'"),
        ({"components": [{"model": "ease", "params": {"reg": -1}}]}, "reg"),
        ({"components": []}, "at least 1"),
    ],
)
def test_bad_blend_is_an_input_error_naming_the_problem(
    params: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        make_model("hybrid", params)


def test_text_shorthand_and_json_round_trip() -> None:
    model = Hybrid(components=["item_knn:0.7", " ease "])
    assert [(c.model, c.weight) for c in model.config.components] == [
        ("item_knn", 0.7),
        ("ease", 1.0),
    ]
    again = type(model.config).model_validate_json(model.config.model_dump_json())
    assert again == model.config


# ---------------------------------------------------------------------- from_fitted
def test_from_fitted_equals_fitting_the_same_blend(with_cold: Interactions) -> None:
    knn = ItemKNN(n_neighbors=5).fit(with_cold)
    pop = MostPopular().fit(with_cold)
    blend = Hybrid.from_fitted([knn, pop], [0.8, 0.2], "rank")
    fitted = Hybrid(
        components=[{"model": "item_knn", "params": {"n_neighbors": 5}, "weight": 0.8},
                    "most_popular:0.2"],
        normalisation="rank",
    ).fit(with_cold)  # fmt: skip
    users = np.arange(with_cold.n_users)
    np.testing.assert_allclose(blend.score(users), fitted.score(users), atol=1e-6)
    assert blend.components()[0] is knn


def test_from_fitted_refuses_models_from_different_datasets(
    with_cold: Interactions, two_by_four: Interactions
) -> None:
    a, b = MostPopular().fit(with_cold), ItemKNN().fit(two_by_four)
    with pytest.raises(InputError, match="different datasets or versions cannot be blended"):
        Hybrid.from_fitted([a, b], [1, 1])


def test_from_fitted_refuses_models_of_different_splits(with_cold: Interactions) -> None:
    half = with_cold.subset(np.arange(with_cold.n_interactions) % 2 == 0)
    a, b = MostPopular().fit(with_cold), ItemKNN().fit(half)
    with pytest.raises(InputError, match="different training interactions"):
        Hybrid.from_fitted([a, b], [1, 1])


def test_from_fitted_refuses_unfitted_models_and_missing_weights(
    with_cold: Interactions,
) -> None:
    fitted = MostPopular().fit(with_cold)
    with pytest.raises(InputError, match="not fitted"):
        Hybrid.from_fitted([fitted, ItemKNN()], [1, 1])
    with pytest.raises(InputError, match="one weight per model"):
        Hybrid.from_fitted([fitted], [1, 1])


# ---------------------------------------------------------------------- save, flags, progress
def test_save_load_of_from_fitted_and_nested_hybrids(
    with_cold: Interactions, tmp_path: Path
) -> None:
    inner = Hybrid.from_fitted(
        [ItemKNN().fit(with_cold), EASE(reg=10.0).fit(with_cold)], [1, 1], "zscore"
    )
    outer = Hybrid.from_fitted([inner, MostPopular().fit(with_cold)], [0.9, 0.1])
    outer.save(tmp_path / "h.npz")
    loaded = load_model_file(tmp_path / "h.npz")
    assert isinstance(loaded, Hybrid) and loaded.config == outer.config
    users = np.arange(with_cold.n_users)
    np.testing.assert_array_equal(loaded.score(users), outer.score(users))
    nested = loaded.components()[0]
    assert isinstance(nested, Hybrid) and type(nested.components()[1]) is EASE


def test_capability_flags_follow_the_components() -> None:
    assert Hybrid.explains is False and Hybrid.personalized is True  # plain bools on the class
    assert not Hybrid(components=["most_popular", "random"]).personalized
    assert Hybrid(components=["most_popular", "item_knn"]).personalized
    assert Hybrid(components=["item_knn", "ease"]).explains
    assert not Hybrid(components=["item_knn", "ease"], normalisation="rank").explains
    assert not Hybrid(components=["item_knn", "most_popular"]).explains


@pytest.mark.parametrize("method", ["minmax", "zscore"])
def test_explain_parts_add_up_to_score_minus_offset(with_cold: Interactions, method: str) -> None:
    model = Hybrid(components=["item_knn:2", "ease:1"], normalisation=method).fit(with_cold)
    scores = model.score(np.arange(with_cold.n_users))
    for user, item in [(0, 1), (3, 7), (9, 8)]:
        history, parts = model.explain_parts(user, item)
        assert set(history) <= set(with_cold.matrix[user].indices)
        total = parts.sum() + model.score_offset(user, item)
        assert total == pytest.approx(scores[user, item], abs=1e-5)


def test_rank_blend_cannot_explain(two_by_four: Interactions) -> None:
    model = Hybrid(components=["item_knn", "ease"], normalisation="rank").fit(two_by_four)
    with pytest.raises(InputError, match="cannot explain"):
        model.explain_parts(0, 3)


def test_fit_reports_progress_per_component(two_by_four: Interactions) -> None:
    calls: list[tuple[int, int, str]] = []
    Hybrid(components=["item_knn", "most_popular"]).fit(
        two_by_four, progress=lambda d, t, m="": calls.append((d, t, m))
    )
    assert {t for _, t, _ in calls} == {2000}
    done = [d for d, _, _ in calls]
    assert done == sorted(done) and done[-1] == 2000
    assert any("component 1/2 (item_knn)" in m for *_, m in calls)
    assert any("component 2/2 (most_popular)" in m for *_, m in calls)


def test_default_blend_leans_on_its_personalised_component() -> None:
    weights = Hybrid().weights()
    names = [c.model for c in Hybrid().config.components]
    assert names == ["item_knn", "most_popular"]
    assert weights == pytest.approx([0.8, 0.2])
