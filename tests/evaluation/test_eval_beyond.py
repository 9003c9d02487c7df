"""Beyond-accuracy and rating metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.evaluation.beyond import (
    ARP,
    BeyondContext,
    Coverage,
    GiniExposure,
    IntraListDiversity,
    Novelty,
    gini,
    item_feature_matrix,
)
from recsys_core.evaluation.rating import evaluate_ratings, mae, rmse

# Catalogue of 5 items; distinct training users per item (4 training users in all):
#   item 0: 4, item 1: 2, item 2: 1, item 3: 0, item 4: 1
POP = np.array([4, 2, 1, 0, 1])
# Top-2 lists: user 0 -> (0, 1), user 1 -> (0, 2), user 2 -> nothing
LISTS = np.array([[0, 1], [0, 2], [-1, -1]])
GENRES = pd.DataFrame(
    {"genres": ["Comedy|Drama", "Comedy", "Horror", None, "Drama"]},
    index=pd.Index(["i0", "i1", "i2", "i3", "i4"]),
)
IDS = np.array(["i0", "i1", "i2", "i3", "i4"], dtype=object)


@pytest.fixture
def ctx():
    feats = item_feature_matrix(GENRES, IDS, columns=["genres"])
    return BeyondContext(POP, 4, feats)


def test_coverage_is_share_of_catalogue_recommended(ctx):
    # items 0, 1, 2 appear in some list: 3 of 5
    assert Coverage(2).value(LISTS, ctx) == pytest.approx(3 / 5)
    # at K = 1 only item 0 appears
    assert Coverage(1).value(LISTS, ctx) == pytest.approx(1 / 5)


def test_gini_of_exposure_by_hand(ctx):
    # exposure (2, 1, 1, 0, 0) sorted (0, 0, 1, 1, 2), n = 5, total 4:
    # sum (2i - n - 1) x_i = 0 + 0 + 0*1 + 2*1 + 4*2 = 10 -> 10 / (5 * 4) = 0.5
    assert GiniExposure(2).value(LISTS, ctx) == pytest.approx(0.5)
    assert gini(np.ones(7)) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 5])) == pytest.approx(3 / 4)  # (n - 1) / n at the limit
    assert math.isnan(gini(np.zeros(3)))


def test_novelty_is_mean_self_information(ctx):
    # -log2(pop / 4): item 0 -> 0, item 1 -> 1, item 2 -> 2
    values = Novelty(2).per_user(LISTS, ctx)
    np.testing.assert_allclose(values, [0.5, 1.0, np.nan])
    assert Novelty(2).aggregate(values) == pytest.approx(0.75)


def test_novelty_of_item_without_training_users_counts_it_as_seen_once(ctx):
    # item 3 has pop 0: counted as 1 -> -log2(1/4) = 2, finite
    assert Novelty(1).per_user(np.array([[3]]), ctx)[0] == pytest.approx(2.0)


def test_arp_is_mean_popularity(ctx):
    # user 0: (4 + 2) / 2 = 3, user 1: (4 + 1) / 2 = 2.5
    values = ARP(2).per_user(LISTS, ctx)
    np.testing.assert_allclose(values, [3.0, 2.5, np.nan])
    assert ARP(2).aggregate(values) == pytest.approx(2.75)


def test_intra_list_diversity_by_hand(ctx):
    # cos(i0 {Comedy, Drama}, i1 {Comedy}) = 1 / sqrt(2); cos(i0, i2 {Horror}) = 0
    values = IntraListDiversity(2).per_user(LISTS, ctx)
    np.testing.assert_allclose(values, [1 - 1 / math.sqrt(2), 1.0, np.nan])
    # three items: pair cosines 1/sqrt(2), 0, 0 -> mean 0.2357 -> ILD 0.7643
    three = IntraListDiversity(3).per_user(np.array([[0, 1, 2]]), ctx)
    assert three[0] == pytest.approx(1 - (1 / math.sqrt(2)) / 3)


def test_ild_item_without_features_counts_as_dissimilar(ctx):
    # item 3 has no genre: cosine 0 with everything -> ILD 1
    assert IntraListDiversity(2).per_user(np.array([[0, 3]]), ctx)[0] == pytest.approx(1.0)


def test_ild_single_item_list_is_nan_and_no_features_is_nan(ctx):
    assert np.isnan(IntraListDiversity(2).per_user(np.array([[1, -1]]), ctx)[0])
    plain = BeyondContext(POP, 4, None)
    assert np.isnan(IntraListDiversity(2).per_user(LISTS, plain)).all()


def test_feature_matrix_skips_ids_titles_and_numbers():
    n = 40
    items = pd.DataFrame(
        {
            "title": [f"Film {i}" for i in range(n)],  # one value per item: not a group
            "year": np.arange(n),  # numeric: skipped
            "genres": ["A|B", "B", "C", "A"] * (n // 4),
        },
        index=[str(i) for i in range(n)],
    )
    mat = item_feature_matrix(items, np.array([str(i) for i in range(n)]))
    assert mat is not None and mat.shape == (n, 3)  # A, B, C
    np.testing.assert_allclose(mat[0].toarray().ravel()[:2], [1 / math.sqrt(2)] * 2)
    assert item_feature_matrix(items[["title", "year"]], np.array(["0"])) is None


def test_feature_matrix_unknown_column_is_input_error():
    with pytest.raises(InputError, match="lack"):
        item_feature_matrix(GENRES, IDS, columns=["colour"])


def test_context_from_train_counts_distinct_users_per_item():
    frame = pd.DataFrame(
        {"user_id": ["a", "a", "b", "c", "c"], "item_id": ["x", "x", "x", "y", "z"]}
    )
    ctx = BeyondContext.from_train(Interactions.from_frame(frame))
    # user a's repeat of x counts once: x has users a, b
    assert ctx.popularity.tolist() == [2, 1, 1]
    assert ctx.n_train_users == 3


@settings(max_examples=50, deadline=None)
@given(
    st.integers(2, 15).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.lists(st.integers(-1, n - 1), min_size=3, max_size=3), min_size=1),
            st.lists(st.integers(0, 30), min_size=n, max_size=n),
        )
    )
)
def test_property_beyond_metrics_bounded(case):
    n, rows, pop = case
    lists = np.array(rows)
    feats = pd.DataFrame({"g": [f"g{i % 3}" for i in range(n)]}, index=[str(i) for i in range(n)])
    ctx = BeyondContext(
        np.array(pop),
        30,
        item_feature_matrix(feats, np.array([str(i) for i in range(n)]), columns=["g"]),
    )
    assert 0.0 <= Coverage(3).value(lists, ctx) <= 1.0
    g = GiniExposure(3).value(lists, ctx)
    assert math.isnan(g) or 0.0 <= g < 1.0
    ild = IntraListDiversity(3).per_user(lists, ctx)
    ild = ild[~np.isnan(ild)]
    assert ((ild >= -1e-9) & (ild <= 1 + 1e-9)).all()
    nov = Novelty(3).per_user(lists, ctx)
    assert (nov[~np.isnan(nov)] >= 0).all()


# ---------------------------------------------------------------------- rating errors
def test_rmse_and_mae_by_hand():
    # errors: +1, -2, 0, +1 -> squares 1, 4, 0, 1 -> RMSE sqrt(6/4); MAE 4/4
    actual = np.array([3.0, 4.0, 5.0, 2.0])
    pred = np.array([4.0, 2.0, 5.0, 3.0])
    assert rmse(actual, pred) == pytest.approx(math.sqrt(1.5))
    assert mae(actual, pred) == pytest.approx(1.0)


def test_rating_errors_reject_mismatched_empty_or_nan():
    with pytest.raises(InputError, match="predictions"):
        rmse(np.ones(3), np.ones(2))
    with pytest.raises(InputError, match="empty"):
        mae(np.array([]), np.array([]))
    with pytest.raises(InputError, match="NaN"):
        rmse(np.array([1.0]), np.array([np.nan]))


def test_evaluate_ratings_matches_pairs_by_id():
    truth = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 11, 10], "rating": [4, 2, 5]})
    preds = pd.DataFrame(
        {"user_id": ["2", "1", "1"], "item_id": ["10", "11", "10"], "score": [4.0, 2.5, 4.5]}
    )
    out = evaluate_ratings(preds, truth)
    # errors: (1,10) +0.5, (1,11) +0.5, (2,10) -1 -> RMSE sqrt(1.5/3), MAE 2/3
    assert out.loc["RMSE", "value"] == pytest.approx(math.sqrt(0.5))
    assert out.loc["MAE", "value"] == pytest.approx(2 / 3)
    assert out.loc["n_pairs", "value"] == 3


def test_evaluate_ratings_missing_prediction_is_input_error():
    truth = pd.DataFrame({"user_id": [1, 2], "item_id": [10, 10], "rating": [4, 5]})
    preds = pd.DataFrame({"user_id": [1], "item_id": [10], "score": [4.0]})
    with pytest.raises(InputError, match="no prediction"):
        evaluate_ratings(preds, truth)


def test_item_feature_matrix_explodes_list_cells_like_split_text() -> None:
    from recsys_core.evaluation.beyond import item_feature_matrix

    ids = np.array(["a", "b", "c", "d", "e", "f"])
    genres = [["x", "y"], ["y"], ["z", "x"], ["x"], ["y", "z"], ["z"]]
    as_lists = pd.DataFrame({"genres": genres}, index=ids)
    as_text = pd.DataFrame({"genres": ["|".join(g) for g in genres]}, index=ids)
    m_lists = item_feature_matrix(as_lists, ids).toarray()
    m_text = item_feature_matrix(as_text, ids).toarray()
    assert m_lists.shape == (6, 3)  # three genres, not one token per combination
    np.testing.assert_allclose(m_lists, m_text)
