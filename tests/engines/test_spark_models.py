"""Models, full-ranking lists and metrics computed in Spark equal the local ones on MovieLens.

MostPopular and ItemKNN are deterministic: same state, same lists (ties by item index), and
metrics computed in Spark equal ``evaluate_topk``'s to 1e-6. ALS solves another way (Spark
ML): its NDCG@10 stays within 0.02 of local ALS with the same settings.
"""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.data.interactions import Interactions
from recsys_core.evaluation.evaluate import evaluate_topk
from recsys_core.jobs.spec import split_for
from recsys_core.models.implicit_mf import ALS, ALSConfig
from recsys_core.models.knn import ItemKNN, KNNConfig, pruned_similarity
from recsys_core.models.popular import MostPopular, MostPopularConfig
from recsys_core.splitting import LeaveLastN, RandomHoldout, split

pytestmark = [pytest.mark.realdata, pytest.mark.slow]
KS = [5, 10, 20]


def _spark_sides(spark, inter: Interactions, tmp_path, config=None, seed: int = 0):
    """Spark's (train, test) rows of ``inter`` under ``config`` (leave-last-1 by default)."""
    from pyspark.sql import functions as F

    from recsys_core.engines.spark import export_interactions, read_interactions, spark_split

    df = read_interactions(spark, export_interactions(inter, str(tmp_path / "pq")))
    marked = spark_split(df, config or LeaveLastN(n=1), seed).cache()
    return marked.filter(~F.col("test")), marked.filter(F.col("test"))


def _assert_spark_metrics_equal_local(spark, sides, lists, local_lists, users, parts):
    """Metrics computed in Spark from Spark's lists == evaluate_topk of the local lists."""
    from recsys_core.engines.spark.ranking import relevant_pairs, spark_metrics

    train, test = sides
    n_items = parts.train.n_items
    ours, per_user = spark_metrics(lists, relevant_pairs(test, train, None), KS, n_items)
    local = evaluate_topk(local_lists[:, :20], users, parts, KS)
    theirs = local.summary["value"]
    assert set(ours.index) >= {"NDCG@10", "MAP@10", "MRR@10", "Recall@20", "Coverage@10"}
    assert per_user.count() == len(local.per_user) > 0  # the same users evaluated
    np.testing.assert_allclose(ours.to_numpy(), theirs[ours.index].to_numpy(), atol=1e-6)


def _lists(spark, pairs, users, scorer, n):
    """Spark's lists, kept as a frame for the metrics and collected for a comparison."""
    import pandas as pd

    from recsys_core.engines.spark.ranking import rank_frame

    wanted = spark.createDataFrame(pd.DataFrame({"user": users.astype(np.int32)}))
    frame, _ = rank_frame(spark, pairs, wanted, scorer, n)
    frame = frame.cache()
    got = frame.toPandas().set_index("user").loc[users]
    return frame, np.stack(list(got["items"])), np.stack(list(got["scores"]))


def test_most_popular_equals_local(spark, movielens, tmp_path):
    from recsys_core.engines.spark.models import fit_popular, train_pairs
    from recsys_core.engines.spark.ranking import Scorer

    parts = split(movielens, LeaveLastN(n=1), 0)
    local = MostPopular().fit(parts.train)
    sides = _spark_sides(spark, movielens, tmp_path)
    train = sides[0].cache()
    popularity = fit_popular(train, MostPopularConfig(), movielens.n_items)
    np.testing.assert_array_equal(popularity, local.popularity_)
    users = np.unique(parts.test.users)
    scorer = Scorer(movielens.n_items, popularity)
    frame, items, scores = _lists(spark, train_pairs(train, True), users, scorer, 30)
    local_items, local_scores = local.topk(users, 30)
    np.testing.assert_array_equal(items, local_items)  # ties (equal counts) by item index
    np.testing.assert_array_equal(scores, local_scores)
    _assert_spark_metrics_equal_local(spark, sides, frame, local_items, users, parts)


def _light_users(inter: Interactions, most: int) -> Interactions:
    """MovieLens users with at most ``most`` ratings: the item self-join stays small."""
    counts = np.bincount(inter.users, minlength=inter.n_users)
    return inter.subset(np.flatnonzero(counts[inter.users] <= most))


@pytest.mark.parametrize(
    "config",
    [KNNConfig(n_neighbors=20), KNNConfig(similarity="jaccard", n_neighbors=10_000)],
    ids=["cosine-top20", "jaccard-unpruned"],
)
def test_item_knn_equals_local(spark, movielens, config, tmp_path, monkeypatch):
    from recsys_core.engines.spark import models
    from recsys_core.engines.spark.models import fit_item_knn, train_pairs
    from recsys_core.engines.spark.ranking import Scorer

    inter = _light_users(movielens, 40)
    monkeypatch.setattr(models, "KNN_BLOCK_ITEMS", inter.n_items // 2 + 1)  # two blocks
    parts = split(inter, LeaveLastN(n=1), 0)
    sides = _spark_sides(spark, inter, tmp_path)
    train = sides[0].cache()
    blocks: list[tuple[int, int]] = []
    ours = fit_item_knn(train, config, inter.n_items, on_block=lambda d, t: blocks.append((d, t)))
    theirs = pruned_similarity(parts.train.matrix, config)
    assert blocks == [(1, 2), (2, 2)]  # targets in blocks, each reported
    assert ours.nnz == theirs.nnz > 0
    # per target, the kept values agree (which of several tied sources is kept may differ)
    ours_c, theirs_c = ours.tocsc(), theirs.tocsc()
    for j in np.flatnonzero(np.diff(theirs_c.indptr))[:: max(1, inter.n_items // 400)]:
        a = np.sort(ours_c[:, [j]].data)
        b = np.sort(theirs_c[:, [j]].data)
        np.testing.assert_allclose(a, b, rtol=1e-6)
    if config.n_neighbors >= inter.n_items:  # nothing pruned: the same matrix, the same lists
        np.testing.assert_allclose(ours.toarray(), theirs.toarray(), rtol=1e-6)
        local = ItemKNN(config).fit(parts.train)
        users = np.unique(parts.test.users)
        pairs = train_pairs(train, config.binarize)
        frame, items, _ = _lists(spark, pairs, users, Scorer(inter.n_items, similarity=ours), 20)
        local_items, _ = local.topk(users, 20)
        np.testing.assert_array_equal(items, local_items)
        _assert_spark_metrics_equal_local(spark, sides, frame, local_items, users, parts)


def test_als_ndcg_is_within_002_of_local_als(spark, movielens, tmp_path):
    """Same settings, same (hash-keyed 80/20) split: Spark ML's ALS ranks about as well."""
    from recsys_core.engines.spark.models import fit_als, train_pairs
    from recsys_core.engines.spark.ranking import Scorer, top_lists

    config = ALSConfig(embedding_size=32, epochs=10, random_state=0)
    holdout = RandomHoldout(test_fraction=0.2)
    parts = split_for(movielens, holdout, 5, "spark")
    users = np.unique(parts.test.users)
    local_items, _ = ALS(config).fit(parts.train).topk(users, 10)
    train = _spark_sides(spark, movielens, tmp_path, holdout, 5)[0].cache()
    user_factors, item_factors = fit_als(train, config, movielens.n_items)
    scorer = Scorer(movielens.n_items, item_factors=item_factors)
    items, _ = top_lists(spark, train_pairs(train, True), users, scorer, 10, user_factors)
    ours = evaluate_topk(items, users, parts, [10]).summary.loc["NDCG@10", "value"]
    theirs = evaluate_topk(local_items, users, parts, [10]).summary.loc["NDCG@10", "value"]
    assert theirs > 0.1
    assert abs(ours - theirs) <= 0.02, (ours, theirs)
