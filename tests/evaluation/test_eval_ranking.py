"""Accuracy metrics against values computed by hand on a four-user fixture."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys_core.errors import InputError
from recsys_core.evaluation.ranking import (
    MAP,
    MRR,
    NDCG,
    HitRate,
    Precision,
    Recall,
    accuracy_metrics,
    ranking_data,
)

L3 = 1 / math.log2(3)  # discount at rank 2 (rank 1 is 1, rank 3 is 1/2)

# Catalogue of 6 items. Relevant items (rating in brackets):
#   user 0: 1 [5], 3 [3], 5 [4]   R = 3
#   user 1: 2 [4]                 R = 1
#   user 2: nothing               -> NaN everywhere, excluded
#   user 3: 0 [5], 4 [2]          R = 2, but no recommendations -> 0 everywhere
TRUTH = sp.csr_matrix(
    ([5.0, 3.0, 4.0, 4.0, 5.0, 2.0], ([0, 0, 0, 1, 3, 3], [1, 3, 5, 2, 0, 4])), shape=(4, 6)
)
# Top-3 lists: user 0 hits at ranks 1 and 3, user 1 at rank 3.
LISTS = np.array([[1, 2, 3], [0, 4, 2], [0, 1, 2], [-1, -1, -1]])
ROWS = np.arange(4)


@pytest.fixture
def data():
    return ranking_data(LISTS, ROWS, TRUTH, graded=True)


def test_hits_matrix_marks_relevant_positions_only(data):
    expected = [[1, 0, 1], [0, 0, 1], [0, 0, 0], [0, 0, 0]]
    assert data.hits.astype(int).tolist() == expected
    assert data.n_relevant.tolist() == [3, 1, 0, 2]


def test_precision_at_3(data):
    # hits / K: 2/3, 1/3, NaN, 0
    values = Precision(3).per_user(data)
    np.testing.assert_allclose(values, [2 / 3, 1 / 3, np.nan, 0.0])
    assert Precision(3).aggregate(values) == pytest.approx(1 / 3)


def test_recall_at_3(data):
    # hits / R: 2/3, 1/1, NaN, 0/2
    values = Recall(3).per_user(data)
    np.testing.assert_allclose(values, [2 / 3, 1.0, np.nan, 0.0])
    assert Recall(3).aggregate(values) == pytest.approx(5 / 9)


def test_ndcg_binary_at_3(data):
    # user 0: DCG = 1 + 1/2, IDCG over min(3, 3) = 1 + 1/log2(3) + 1/2
    # user 1: DCG = 1/2, IDCG over min(1, 3) = 1
    u0 = 1.5 / (1 + L3 + 0.5)
    values = NDCG(3).per_user(data)
    np.testing.assert_allclose(values, [u0, 0.5, np.nan, 0.0])
    assert u0 == pytest.approx(0.703918, abs=1e-6)
    assert NDCG(3).aggregate(values) == pytest.approx((u0 + 0.5) / 3)


def test_ndcg_graded_uses_ratings_as_gains(data):
    # user 0: DCG = 5/1 + 3/2 = 6.5; ideal gains 5, 4, 3 -> 5 + 4/log2(3) + 3/2
    # user 1: DCG = 4/2 = 2; ideal 4 -> 0.5
    u0 = 6.5 / (5 + 4 * L3 + 1.5)
    metric = NDCG(3, graded=True)
    assert metric.label == "NDCG@3 (graded)"
    np.testing.assert_allclose(metric.per_user(data), [u0, 0.5, np.nan, 0.0])
    assert u0 == pytest.approx(0.720324, abs=1e-6)


def test_map_at_3(data):
    # user 0: (P@1 + P@3) / min(3, 3) = (1 + 2/3) / 3 = 5/9; user 1: (1/3) / 1
    values = MAP(3).per_user(data)
    np.testing.assert_allclose(values, [5 / 9, 1 / 3, np.nan, 0.0])
    assert MAP(3).aggregate(values) == pytest.approx(8 / 27)


def test_mrr_and_hitrate_at_3(data):
    np.testing.assert_allclose(MRR(3).per_user(data), [1.0, 1 / 3, np.nan, 0.0])
    np.testing.assert_allclose(HitRate(3).per_user(data), [1.0, 1.0, np.nan, 0.0])
    assert MRR(3).aggregate(MRR(3).per_user(data)) == pytest.approx(4 / 9)
    assert HitRate(3).aggregate(HitRate(3).per_user(data)) == pytest.approx(2 / 3)


def test_cut_at_2_uses_min_relevant_k_in_ideal_and_map(data):
    # user 0 top-2 = (1, 2): one hit at rank 1; R = 3 but min(R, K) = 2
    assert Precision(2).per_user(data)[0] == pytest.approx(1 / 2)
    assert Recall(2).per_user(data)[0] == pytest.approx(1 / 3)
    assert NDCG(2).per_user(data)[0] == pytest.approx(1 / (1 + L3))
    assert MAP(2).per_user(data)[0] == pytest.approx(1 / 2)
    # user 1's only hit is at rank 3, outside the top 2
    assert HitRate(2).per_user(data)[1] == 0.0


def test_user_with_no_relevant_items_is_nan_and_excluded(data):
    for metric in accuracy_metrics([3], graded=True):
        values = metric.per_user(data)
        assert np.isnan(values[2])
        assert metric.aggregate(values) == pytest.approx(np.nanmean(values))


def test_user_without_recommendations_scores_zero(data):
    for metric in accuracy_metrics([1, 2, 3]):
        assert metric.per_user(data)[3] == 0.0


def test_aggregate_of_all_nan_is_nan():
    assert math.isnan(Recall(3).aggregate(np.array([np.nan, np.nan])))


def test_labels_and_standard_set_order():
    labels = [m.label for m in accuracy_metrics([5, 10])]
    assert labels[:6] == ["Precision@5", "Recall@5", "NDCG@5", "MAP@5", "MRR@5", "HitRate@5"]
    assert labels[6] == "Precision@10"


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_bad_cutoff_is_input_error(k):
    with pytest.raises(InputError, match="cut-off"):
        Precision(k)


def test_metric_asking_more_than_the_lists_hold_is_input_error(data):
    with pytest.raises(InputError, match="needs 5"):
        Recall(5).per_user(data)


def test_item_index_outside_catalogue_is_input_error():
    with pytest.raises(InputError, match="catalogue"):
        ranking_data(np.array([[7]]), np.array([0]), TRUTH)


@st.composite
def lists_and_truth(draw):
    n_items = draw(st.integers(2, 12))
    n_users = draw(st.integers(1, 6))
    k = draw(st.integers(1, n_items))
    truth_rows, lists = [], []
    for _ in range(n_users):
        rel = draw(st.sets(st.integers(0, n_items - 1), max_size=n_items))
        perm = draw(st.permutations(range(n_items)))
        n_shown = draw(st.integers(0, k))
        lists.append(list(perm[:n_shown]) + [-1] * (k - n_shown))
        truth_rows.append(sorted(rel))
    return n_items, k, truth_rows, np.array(lists, dtype=np.int64)


def _csr(rows, n_items):
    r = np.repeat(np.arange(len(rows)), [len(x) for x in rows])
    c = np.array([i for x in rows for i in x], dtype=np.int64)
    return sp.csr_matrix((np.ones(len(c)), (r, c)), shape=(len(rows), n_items))


@settings(max_examples=60, deadline=None)
@given(lists_and_truth())
def test_property_accuracy_bounded_perfect_and_recall_monotone(case):
    n_items, k, truth_rows, lists = case
    truth = _csr(truth_rows, n_items)
    data = ranking_data(lists, np.arange(len(lists)), truth)
    for metric in accuracy_metrics(range(1, k + 1)):
        values = metric.per_user(data)
        finite = values[~np.isnan(values)]
        assert ((finite >= 0) & (finite <= 1 + 1e-12)).all(), metric.label
    recalls = np.array([Recall(j).per_user(data) for j in range(1, k + 1)])
    has = ~np.isnan(recalls[0])
    assert (np.diff(recalls[:, has], axis=0) >= -1e-12).all()
    # a perfect list (relevant items first) gets NDCG = MAP = 1 and full precision
    perfect = np.full_like(lists, -1)
    for u, rel in enumerate(truth_rows):
        perfect[u, : min(len(rel), k)] = rel[:k]
    best = ranking_data(perfect, np.arange(len(lists)), truth)
    n_rel = np.array([len(r) for r in truth_rows])
    ok = n_rel > 0
    np.testing.assert_allclose(NDCG(k).per_user(best)[ok], 1.0)
    np.testing.assert_allclose(MAP(k).per_user(best)[ok], 1.0)
    np.testing.assert_allclose(Precision(k).per_user(best)[ok], np.minimum(n_rel[ok], k) / k)
