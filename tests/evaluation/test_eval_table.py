"""evaluate_table: the docstring example, ordering rules, options and input errors."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pandas as pd
import pytest

import recsys_core.evaluation._table as table_module
from recsys_core.errors import InputError
from recsys_core.evaluation import evaluate_table

L3 = 1 / math.log2(3)


def test_docstring_example_runs_and_matches():
    result = doctest.testmod(table_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 4 and result.failed == 0


def test_docstring_example_per_user_values():
    recs = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u1", "u2", "u2"],
            "item_id": ["a", "b", "c", "c", "a"],
            "score": [0.9, 0.8, 0.7, 0.5, 0.5],
        }
    )
    truth = pd.DataFrame({"user_id": ["u1", "u1", "u2"], "item_id": ["b", "d", "c"]})
    res = evaluate_table(recs, truth, k=2)
    pu = res.per_user.set_index("user_id")
    # u1: (a, b), hit at 2 of R = 2; u2: tie -> (a, c), hit at 2 of R = 1
    assert pu.loc["u1", "NDCG@2"] == pytest.approx(L3 / (1 + L3))
    assert pu.loc["u2", "NDCG@2"] == pytest.approx(L3)
    assert pu.loc["u1", "MAP@2"] == pytest.approx(0.25)
    assert pu.loc["u2", "Recall@2"] == pytest.approx(1.0)
    assert list(res.summary.index)[:2] == ["Precision@2", "Recall@2"]


def test_ties_broken_by_item_id_whatever_the_row_order():
    # numeric ids: 9 < 10 numerically (as text "10" < "9"); all scores tie
    recs = pd.DataFrame({"user_id": [1, 1, 1], "item_id": [10, 9, 11], "score": [1.0] * 3})
    truth = pd.DataFrame({"user_id": [1], "item_id": [9]})
    for order in ([0, 1, 2], [2, 1, 0], [1, 2, 0]):
        res = evaluate_table(recs.iloc[order], truth, k=1)
        assert res.summary.loc["HitRate@1", "value"] == 1.0  # 9 comes first


def test_rank_column_orders_lists_when_given():
    recs = pd.DataFrame({"user_id": ["u"] * 3, "item_id": ["a", "b", "c"], "rank": [3, 1, 2]})
    truth = pd.DataFrame({"user_id": ["u"], "item_id": ["a"]})
    res = evaluate_table(recs, truth, k=3)
    # list (b, c, a): first hit at rank 3
    assert res.summary.loc["MRR@3", "value"] == pytest.approx(1 / 3)


def test_users_without_lists_score_zero_and_users_without_truth_are_left_out():
    recs = pd.DataFrame({"user_id": ["u", "x"], "item_id": ["a", "a"], "score": [1.0, 1.0]})
    truth = pd.DataFrame({"user_id": ["u", "v"], "item_id": ["a", "b"]})
    res = evaluate_table(recs, truth, k=1)
    pu = res.per_user.set_index("user_id")
    assert sorted(pu.index) == ["u", "v"]  # x has no truth: not evaluated
    assert pu.loc["v", "Recall@1"] == 0.0
    assert res.summary.loc["Recall@1", "value"] == pytest.approx(0.5)


def test_relevance_threshold_and_graded_ndcg():
    recs = pd.DataFrame({"user_id": ["u"] * 2, "item_id": ["a", "b"], "score": [2.0, 1.0]})
    truth = pd.DataFrame({"user_id": ["u"] * 3, "item_id": ["a", "b", "c"], "rating": [2, 5, 4]})
    res = evaluate_table(recs, truth, k=2, relevance_threshold=4, graded=True)
    # relevant: b (5), c (4); list (a, b): hit at 2
    assert res.summary.loc["Recall@2", "value"] == pytest.approx(0.5)
    # graded: DCG = 5 / log2(3); ideal = 5 + 4 / log2(3)
    assert res.summary.loc["NDCG@2 (graded)", "value"] == pytest.approx(5 * L3 / (5 + 4 * L3))


def test_several_cutoffs_and_beyond_metrics_with_train_and_features():
    recs = pd.DataFrame(
        {"user_id": ["u", "u", "v", "v"], "item_id": ["a", "b", "a", "c"], "rank": [1, 2, 1, 2]}
    )
    truth = pd.DataFrame({"user_id": ["u", "v"], "item_id": ["b", "c"]})
    train = pd.DataFrame({"user_id": ["u", "v", "w", "w"], "item_id": ["a", "a", "a", "d"]})
    feats = pd.DataFrame({"genre": ["x", "x", "y", "y"]}, index=["a", "b", "c", "d"])
    res = evaluate_table(recs, truth, ks=[1, 2], train=train, item_features=feats)
    s = res.summary["value"]
    # catalogue a, b, c, d: top-2 lists use a, b, c
    assert s["Coverage@2"] == pytest.approx(3 / 4)
    assert s["Coverage@1"] == pytest.approx(1 / 4)
    # ARP@1: item a has 3 training users
    assert s["ARP@1"] == pytest.approx(3.0)
    # ILD@2: u's (a, b) share genre x -> 0; v's (a, c) differ -> 1
    assert s["ILD@2"] == pytest.approx(0.5)
    assert "NDCG@1" in res.per_user.columns and "NDCG@2" in res.per_user.columns


def test_no_beyond_metrics_without_train():
    recs = pd.DataFrame({"user_id": ["u"], "item_id": ["a"], "score": [1.0]})
    truth = pd.DataFrame({"user_id": ["u"], "item_id": ["a"]})
    assert "Coverage@10" not in evaluate_table(recs, truth).summary.index


# ---------------------------------------------------------------------- input errors
GOOD_RECS = pd.DataFrame({"user_id": ["u", "u"], "item_id": ["a", "b"], "score": [1.0, 0.5]})
GOOD_TRUTH = pd.DataFrame({"user_id": ["u"], "item_id": ["a"], "rating": [5.0]})


@pytest.mark.parametrize(
    ("recs", "truth", "kwargs", "match"),
    [
        (
            GOOD_RECS.drop(columns="item_id"),
            GOOD_TRUTH,
            {},
            r"recommendations table lacks.*item_id",
        ),
        (GOOD_RECS, GOOD_TRUTH.drop(columns="user_id"), {}, r"truth table lacks.*user_id"),
        (GOOD_RECS.drop(columns="score"), GOOD_TRUTH, {}, "'score'.*or a 'rank'"),
        (GOOD_RECS, GOOD_TRUTH, {"k": 0}, "at least 1"),
        (GOOD_RECS, GOOD_TRUTH, {"ks": [2.5]}, "whole numbers"),
        (pd.concat([GOOD_RECS, GOOD_RECS.iloc[:1]]), GOOD_TRUTH, {}, "repeats"),
        (GOOD_RECS.assign(score=["x", "1"]), GOOD_TRUTH, {}, "must be numbers"),
        (GOOD_RECS.assign(user_id=["u", None]), GOOD_TRUTH, {}, "empty user_id"),
        (GOOD_RECS.drop(columns="score").assign(rank=[1, 0]), GOOD_TRUTH, {}, "whole numbers"),
        (GOOD_RECS, GOOD_TRUTH.drop(columns="rating"), {"relevance_threshold": 4}, "'rating'"),
        (GOOD_RECS, GOOD_TRUTH, {"relevance_threshold": 6}, "No truth row"),
        ("not a frame", GOOD_TRUTH, {}, "must be a table"),
    ],
    ids=[
        "missing_item",
        "missing_truth_user",
        "no_score_or_rank",
        "k_zero",
        "k_fraction",
        "duplicate_pair",
        "score_not_numeric",
        "empty_user",
        "rank_zero",
        "threshold_without_rating",
        "nothing_relevant",
        "not_a_frame",
    ],
)
def test_bad_input_is_input_error(recs, truth, kwargs, match):
    with pytest.raises(InputError, match=match):
        evaluate_table(recs, truth, **kwargs)


def test_good_input_passes():
    res = evaluate_table(GOOD_RECS, GOOD_TRUTH, k=2)
    assert np.isclose(res.summary.loc["NDCG@2", "value"], 1.0)


def test_float_ids_match_text_ids() -> None:
    """Ids written as floats (101.0) match the same ids as text ("101"): issue 11 item 14."""
    recs = pd.DataFrame({"user_id": [1.0, 1.0], "item_id": [101.0, 102.0], "rank": [1, 2]})
    truth = pd.DataFrame({"user_id": ["1"], "item_id": ["102"]})
    res = evaluate_table(recs, truth, k=2)
    # one relevant item at rank 2: NDCG@2 = (1 / log2 3) / 1
    assert res.summary.loc["NDCG@2", "value"] == pytest.approx(1 / np.log2(3))


def test_disjoint_user_ids_are_refused_with_examples() -> None:
    recs = pd.DataFrame({"user_id": ["u1"], "item_id": ["a"], "rank": [1]})
    truth = pd.DataFrame({"user_id": ["U-1"], "item_id": ["a"]})
    with pytest.raises(InputError, match="No user id of the recommendations"):
        evaluate_table(recs, truth, k=1)


def test_disjoint_item_ids_of_a_real_test_set_are_refused() -> None:
    recs = pd.DataFrame(
        {"user_id": ["u1"] * 3, "item_id": ["1.5", "2.5", "3.5"], "rank": [1, 2, 3]}
    )
    truth = pd.DataFrame({"user_id": ["u1"] * 10, "item_id": [f"i{n}" for n in range(10)]})
    with pytest.raises(InputError, match="No item id"):
        evaluate_table(recs, truth, k=3)
