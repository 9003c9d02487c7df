"""Engineered ranking features: each one by hand on a tiny fixture, and the vectorised shapes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.features.engineered import (
    FEATURES,
    build_features,
    generator_feature_descriptions,
)

DAY = 86_400


@pytest.fixture
def tiny() -> Interactions:
    """u1 rates i1 (A) and i2 (B); u2 rates i3 (A|B); u3 rates i1; i4 (C) is never seen."""
    frame = pd.DataFrame(
        {
            Columns.user: ["u1", "u1", "u2", "u3"],
            Columns.item: ["i1", "i2", "i3", "i1"],
            Columns.rating: [5.0, 3.0, 4.0, 2.0],
            Columns.timestamp: [0, DAY + 10 * 3600, 2 * DAY + 5 * 3600, 3 * DAY],
        }
    )
    items = pd.DataFrame(
        {"genre": ["A", "B", "A|B", "C"]},
        index=pd.Index(["i1", "i2", "i3", "i4"], name=Columns.item),
    )
    return Interactions.from_frame(frame, item_features=items)


def _row(train: Interactions, user: str, item: str) -> pd.Series:
    u, i = train.user_index([user]), train.item_index([item])
    return build_features(train, u, i, {}, {}).iloc[0]


def test_user_features_by_hand(tiny: Interactions) -> None:
    row = _row(tiny, "u1", "i3")
    assert row["user_activity"] == 2
    assert row["user_tenure_days"] == pytest.approx(1 + 10 / 24)
    assert row["user_mean_rating"] == pytest.approx(4.0)
    assert row["user_top_category_share"] == pytest.approx(0.5)


def test_item_features_by_hand_and_unseen_item_is_nan(tiny: Interactions) -> None:
    row = _row(tiny, "u1", "i1")
    assert row["item_popularity"] == 2
    assert row["item_mean_rating"] == pytest.approx(3.5)
    assert row["item_recency_days"] == pytest.approx(0.0)
    assert _row(tiny, "u1", "i2")["item_recency_days"] == pytest.approx(3 - (1 + 10 / 24))
    cold = _row(tiny, "u1", "i4")
    assert cold["item_popularity"] == 0
    assert np.isnan(cold["item_mean_rating"])
    assert np.isnan(cold["item_recency_days"])


def test_category_match_by_hand(tiny: Interactions) -> None:
    # u1's history is half A, half B: an A|B item matches 0.5 on average, a C item 0.
    assert _row(tiny, "u1", "i3")["category_match"] == pytest.approx(0.5)
    assert _row(tiny, "u1", "i4")["category_match"] == pytest.approx(0.0)
    # u2's one item is A and B, so both shares are 1.
    assert _row(tiny, "u2", "i1")["category_match"] == pytest.approx(1.0)
    assert _row(tiny, "u2", "i1")["user_top_category_share"] == pytest.approx(1.0)


def test_content_similarity_is_highest_for_the_users_own_item(tiny: Interactions) -> None:
    own = _row(tiny, "u3", "i1")["content_similarity"]
    other = _row(tiny, "u3", "i4")["content_similarity"]
    assert own == pytest.approx(1.0)
    assert other == pytest.approx(0.0, abs=1e-9)


def test_context_features_by_hand(tiny: Interactions) -> None:
    row = _row(tiny, "u1", "i3")
    assert row["days_since_last"] == pytest.approx(3 - (1 + 10 / 24))
    assert row["last_hour"] == 10
    assert row["last_weekday"] == 4  # 1970-01-02 was a Friday


def test_no_timestamps_or_item_table_gives_nan_not_zero() -> None:
    frame = pd.DataFrame({Columns.user: ["a", "a", "b"], Columns.item: ["x", "y", "x"]})
    train = Interactions.from_frame(frame)
    out = build_features(train, np.array([0]), np.array([1]), {}, {})
    for name in ("user_tenure_days", "days_since_last", "last_hour", "category_match"):
        assert np.isnan(out[name].iloc[0]), name
    assert out["user_activity"].iloc[0] == 2


def test_generator_columns_follow_the_fixed_ones_in_order(tiny: Interactions) -> None:
    scores = {"knn": np.array([0.5, np.nan])}
    ranks = {"knn": np.array([1.0, 51.0])}
    out = build_features(tiny, np.array([0, 1]), np.array([2, 3]), scores, ranks)
    assert list(out.columns) == [*FEATURES, "score_knn", "rank_knn"]
    assert out["rank_knn"].tolist() == [1.0, 51.0]
    described = set(generator_feature_descriptions(["knn"]))
    assert described == {"score_knn", "rank_knn", "z_knn", "list_knn"}


def test_vectorised_shape_on_many_rows(tiny: Interactions, rng: np.random.Generator) -> None:
    n = 50_000
    u = rng.integers(0, tiny.n_users, n)
    i = rng.integers(0, tiny.n_items, n)
    out = build_features(tiny, u, i, {"g": rng.random(n)}, {"g": np.ones(n)})
    assert out.shape == (n, len(FEATURES) + 2)
    one = build_features(tiny, u[:1], i[:1], {"g": out["score_g"].to_numpy()[:1]}, {"g": [1.0]})
    pd.testing.assert_frame_equal(out.iloc[:1], one)


def test_mismatched_lengths_raise_input_error(tiny: Interactions) -> None:
    with pytest.raises(InputError, match="differ in length"):
        build_features(tiny, np.array([0, 1]), np.array([0]), {}, {})
    with pytest.raises(InputError, match="'g'"):
        build_features(tiny, np.array([0]), np.array([0]), {"g": np.ones(3)}, {"g": np.ones(1)})
