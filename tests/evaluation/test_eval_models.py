"""evaluate / evaluate_topk with real models on a hand-built split, full and sampled."""

from __future__ import annotations

import math
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

import recsys_core
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.evaluation import evaluate, evaluate_table, evaluate_topk, paired_tests
from recsys_core.evaluation._sampled import pair_ranks, sample_negatives
from recsys_core.models.base import Recommender
from recsys_core.models.popular import MostPopular, Random
from recsys_core.splitting import Predefined, RandomHoldout, split

SAMPLE = Path(recsys_core.__file__).parent / "data/samples/ml-latest-small"

# Train (popularity: i0 3, i1 3, i2 1, i3 1, i4 0, i5 0) and test:
#   u0 train i0 i1      test i2 i3
#   u1 train i0 i2      test i1
#   u2 train i0 i1 i3   test i0 (already seen in train: not relevant -> u2 not evaluated)
#   u3 train i1         test i4
ROWS = [
    ("u0", "i0", 0), ("u0", "i1", 0), ("u0", "i2", 1), ("u0", "i3", 1),
    ("u1", "i0", 0), ("u1", "i2", 0), ("u1", "i1", 1),
    ("u2", "i0", 0), ("u2", "i1", 0), ("u2", "i3", 0), ("u2", "i0", 1),
    ("u3", "i1", 0), ("u3", "i4", 1),
    ("u4", "i5", 0), ("u4", "i0", 0),
]  # fmt: skip


@pytest.fixture(scope="module")
def tiny():
    frame = pd.DataFrame(ROWS, columns=["user_id", "item_id", "is_test"])
    inter = Interactions.from_frame(frame[["user_id", "item_id"]])
    return split(inter, Predefined(column="is_test"), is_test=frame["is_test"].astype(bool))


def test_most_popular_full_ranking_by_hand(tiny):
    # MostPopular, seen items excluded, ties by index: u0 -> i2 i3, u1 -> i1 i3, u3 -> i0 i2
    res = evaluate({"pop": MostPopular().fit(tiny.train)}, tiny, ks=(2,))
    s = res.summary["value"]
    assert sorted(res.per_user["user_id"]) == ["u0", "u1", "u3"]
    assert s["Precision@2"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert s["Recall@2"] == pytest.approx(2 / 3)
    assert s["NDCG@2"] == pytest.approx(2 / 3)
    assert s["HitRate@2"] == pytest.approx(2 / 3)
    # lists use i0, i1, i2, i3 of 6 items
    assert s["Coverage@2"] == pytest.approx(4 / 6)


def test_full_ranking_equals_topk_and_table_paths(tiny):
    model = MostPopular().fit(tiny.train)
    full = evaluate({"pop": model}, tiny, ks=(1, 3))
    users = np.arange(tiny.train.n_users)
    items, _ = model.topk(users, 3)
    via_topk = evaluate_topk(items, users, tiny, ks=(1, 3))
    recs = model.recommend(tiny.train.user_ids, 3)
    truth = tiny.test.to_frame()[["user_id", "item_id"]]
    truth = truth[truth["user_id"] != "u2"]  # (u2, i0) was seen in train
    via_table = evaluate_table(recs, truth, ks=(1, 3), train=tiny.train)
    pd.testing.assert_series_equal(full.summary["value"], via_topk.summary["value"])
    pd.testing.assert_series_equal(full.summary["value"], via_table.summary["value"])


def test_evaluate_topk_user_without_list_scores_zero(tiny):
    # only u0 gets a (perfect) list; u1 and u3 have none and score 0
    top = np.array([[tiny.train.item_index(["i2"])[0], tiny.train.item_index(["i3"])[0]]])
    res = evaluate_topk(top, tiny.train.user_index(["u0"]), tiny, ks=(2,))
    assert res.per_user.set_index("user_id")["NDCG@2"].to_dict() == {
        "u0": 1.0,
        "u1": 0.0,
        "u3": 0.0,
    }


def test_evaluate_topk_errors(tiny):
    top = np.zeros((2, 2), dtype=int)
    with pytest.raises(InputError, match="k goes up to 5"):
        evaluate_topk(top, np.array([0, 1]), tiny, ks=(5,))
    with pytest.raises(InputError, match="repeats"):
        evaluate_topk(top, np.array([1, 1]), tiny, ks=(2,))
    with pytest.raises(InputError, match="one row per user"):
        evaluate_topk(top, np.array([1]), tiny, ks=(2,))


def test_several_models_get_a_model_column_and_feed_paired_tests(tiny):
    models = {"pop": MostPopular().fit(tiny.train), "rand": Random().fit(tiny.train)}
    calls = []
    res = evaluate(models, tiny, ks=(2,), progress=lambda d, t, m: calls.append((d, t)))
    assert set(res.summary["model"]) == {"pop", "rand"}
    assert list(res.wide().columns) == ["pop", "rand"]
    assert calls[-1] == (6, 6)  # 3 evaluated users x 2 models
    series = res.per_user_series("NDCG@2")
    assert set(series) == {"pop", "rand"} and len(series["pop"]) == 3
    tests = paired_tests(series)
    assert tests.loc[0, "n_users"] == 3


def test_evaluate_errors(tiny):
    other = Interactions.from_frame(pd.DataFrame({"user_id": ["a", "b"], "item_id": ["x", "y"]}))
    with pytest.raises(InputError, match="not fitted"):
        evaluate({"m": MostPopular()}, tiny)
    with pytest.raises(InputError, match="fitted on data"):
        evaluate({"m": MostPopular().fit(other)}, tiny)
    with pytest.raises(InputError, match="at least one model"):
        evaluate({}, tiny)
    with pytest.raises(InputError, match="protocol"):
        evaluate({"m": MostPopular().fit(tiny.train)}, tiny, protocol="half")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- sampled protocol
# Fixed scores per user over items i0..i5:
#   u0: i2 beats everything (rank 0); i3 is below every negative (rank = n_negatives)
#   u1: i1 ties with all its negatives i3 i4 i5, which have higher indices -> rank 0
#   u3: i4 is below every negative -> rank = n_negatives
TABLE = np.array(
    [
        [0, 0, 9, -9, 1, 2],
        [0, 5, 0, 5, 5, 5],
        [0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, -1, 0],
        [0, 0, 0, 0, 0, 0],
    ],
    dtype=np.float32,
)


class FixedScores(Recommender):
    """A real recommender whose scores are the table above (no learning)."""

    name: ClassVar[str] = "fixed"

    def _fit(self, train, progress):
        self.table_ = TABLE.copy()

    def _score(self, users, items):
        s = self.table_[users]
        return s.copy() if items is None else s[:, items]


def test_sampled_protocol_by_hand(tiny):
    res = evaluate(
        {"f": FixedScores().fit(tiny.train)}, tiny, ks=(1, 5), protocol="sampled", n_negatives=3
    )
    pu = res.per_user.set_index("user_id")
    # pairs: u0 (rank 0, rank 3), u1 (rank 0), u3 (rank 3)
    assert pu["HitRate@1"].to_dict() == {"u0": 0.5, "u1": 1.0, "u3": 0.0}
    assert pu["HitRate@5"].tolist() == [1.0, 1.0, 1.0]
    assert pu.loc["u0", "NDCG@5"] == pytest.approx((1 + 1 / math.log2(5)) / 2)
    assert pu.loc["u1", "Precision@5"] == pytest.approx(1 / 5)
    assert res.summary.loc["MRR@5", "value"] == pytest.approx((0.625 + 1 + 0.25) / 3)


def test_pair_ranks_tie_rule_lower_index_first():
    scores = np.array([[1.0, 1.0, 1.0, 2.0, np.nan]])
    rows = np.zeros(1, dtype=int)
    # positive item 1: item 0 ties with a lower index (ahead), item 2 ties higher (behind),
    # item 3 scores above (ahead), item 4 is NaN (behind), -1 is no negative
    neg = np.array([[0, 2, 3, 4, -1]])
    assert pair_ranks(scores, rows, np.array([1]), neg).tolist() == [2]


def test_negatives_are_never_seen_items():
    rng = np.random.default_rng(0)
    seen = np.array([0 * 10 + 1, 0 * 10 + 2, 1 * 10 + 0])  # user 0 saw 1, 2; user 1 saw 0
    neg = sample_negatives(np.array([0, 1, 0]), seen, 10, 200, rng)
    codes = np.array([0, 1, 0])[:, None] * 10 + neg
    assert not np.isin(codes, seen).any() and (neg >= 0).all()
    # a user who saw every item gets no negatives (-1) instead of a stalled loop
    full = np.arange(10)
    assert (sample_negatives(np.array([0]), full, 10, 5, rng) == -1).all()


@pytest.mark.realdata
def test_movielens_popularity_beats_random_and_sampled_flatters():
    ratings = pd.read_csv(SAMPLE / "ratings.csv").rename(
        columns={"userId": "user_id", "movieId": "item_id"}
    )
    inter = Interactions.from_frame(ratings)
    s = split(inter, RandomHoldout(test_fraction=0.2), random_state=0)
    models = {"pop": MostPopular().fit(s.train), "rand": Random().fit(s.train)}
    full = evaluate(models, s, ks=(10,)).wide()
    assert full.loc["NDCG@10", "pop"] > 10 * full.loc["NDCG@10", "rand"]
    sampled = evaluate(models, s, ks=(10,), protocol="sampled", n_negatives=100).wide()
    # a random model puts the positive in the top 10 of 101 about 10/101 of the time
    assert sampled.loc["HitRate@10", "rand"] == pytest.approx(10 / 101, abs=0.02)
    assert sampled.loc["Recall@10", "pop"] > 5 * full.loc["Recall@10", "pop"]
