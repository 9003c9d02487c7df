"""Full-ranking top-N lists per user in Spark (every item scored, seen items excluded) and
their metrics, by the local definitions, computed in Spark.

Users are spread over partitions with their training history (the seen items) and, for
ALS, their factor row; the model state (item factors, popularity or pruned similarity) is
broadcast. Each partition scores its users in bounded dense blocks, masks the seen items
(the anti-join, done where the history already is) and keeps the top N with the local
tie-break (``topk_rows``: score, then item index), so lists equal the local ones.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pyspark.broadcast import Broadcast
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from recsys_core.evaluation.ranking import accuracy_metrics, ranking_data
from recsys_core.models._topk import topk_rows

#: Bytes of one dense score block inside a partition.
BLOCK_BYTES = 64 * 2**20
_SCHEMA = "user int, items array<int>, scores array<float>"


@dataclass(frozen=True)
class Scorer:
    """What a partition needs to score users: one of the three states, plus the catalogue."""

    n_items: int
    popularity: np.ndarray | None = None
    item_factors: np.ndarray | None = None
    similarity: sp.csr_matrix | None = None

    def scores(self, batch: pd.DataFrame, history: sp.csr_matrix) -> np.ndarray:
        if self.popularity is not None:
            return np.tile(self.popularity, (len(batch), 1))
        if self.item_factors is not None:
            size = self.item_factors.shape[1]
            rows = [np.zeros(size, np.float32) if f is None else f for f in batch["features"]]
            users = np.asarray(np.stack(rows), dtype=np.float32)
            return users @ self.item_factors.T
        assert self.similarity is not None
        return (history @ self.similarity).toarray()


def rank_frame(
    spark: SparkSession,
    pairs: DataFrame,
    wanted: DataFrame,
    scorer: Scorer,
    n: int,
    user_factors: DataFrame | None = None,
) -> tuple[DataFrame, Broadcast[Scorer]]:
    """The lists as a Spark DataFrame (user, items, scores), computed where the users are.

    Nothing is collected: metrics can be computed from it in Spark (:func:`spark_metrics`).
    The caller unpersists the returned broadcast once the frame has been consumed.

    Args:
        pairs: training (user, item, x); x is the history weight ItemKNN multiplies.
        wanted: one column ``user``, the users to rank for (no repeats).
        user_factors: ALS only: (user, features).
    """
    hist = pairs.groupBy("user").agg(
        F.collect_list("item").alias("seen"), F.collect_list("x").alias("w")
    )
    frame = wanted.join(hist, "user", "left")
    if user_factors is not None:
        frame = frame.join(user_factors, "user", "left")
    state = spark.sparkContext.broadcast(scorer)

    def rank(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        s: Scorer = state.value
        step = max(1, BLOCK_BYTES // (4 * max(s.n_items, 1)))
        for batch in batches:
            for start in range(0, len(batch), step):  # a loop over blocks of users
                yield _rank_block(batch.iloc[start : start + step], s, n)

    return frame.mapInPandas(rank, _SCHEMA), state


def top_lists(
    spark: SparkSession,
    pairs: DataFrame,
    users: np.ndarray,
    scorer: Scorer,
    n: int,
    user_factors: DataFrame | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``n`` unseen items of ``users`` (rows in that order), -1 / -inf padded, collected
    to the driver as the local ``top_lists`` returns them (a run stores every list)."""
    wanted = spark.createDataFrame(pd.DataFrame({"user": users.astype(np.int32)}))
    lists, state = rank_frame(spark, pairs, wanted, scorer, n, user_factors)
    out = lists.toPandas()
    state.unpersist()
    at = pd.Series(np.arange(len(users)), index=users)[out["user"].to_numpy()].to_numpy()
    items = np.full((len(users), n), -1, dtype=np.int32)
    scores = np.full((len(users), n), -np.inf, dtype=np.float32)
    if len(out):
        items[at] = np.stack(list(out["items"]))
        scores[at] = np.stack(list(out["scores"]))
    return items, scores


def relevant_pairs(test: DataFrame, train: DataFrame, threshold: float | None) -> DataFrame:
    """(user, item) pairs that count as relevant, as ``evaluation.relevant_matrix`` picks them:
    a repeated test pair keeps its largest value, which must reach ``threshold``; pairs seen
    in training are dropped (an anti-join), since no list that excludes seen items holds them.
    """
    best = test.groupBy("user", "item").agg(F.max("value").alias("gain"))
    if threshold is not None:
        best = best.where(F.col("gain") >= F.lit(threshold))
    return best.join(train.select("user", "item").distinct(), ["user", "item"], "left_anti")


def spark_metrics(
    lists: DataFrame, relevant: DataFrame, ks: Sequence[int], n_items: int
) -> tuple[pd.Series, DataFrame]:
    """Precision, Recall, NDCG, MAP, MRR, HitRate and Coverage at every K, computed in Spark.

    The per-user values are the local metric classes (``recsys_core.evaluation.ranking``) run
    inside each partition on its users' lists, so the definitions are the local ones by
    construction; the means and the catalogue coverage are Spark aggregates. As locally, only
    users with a relevant item count, and one without a list scores 0.

    Args:
        lists: (user, items) with at least max(ks) items per list, -1 padded.
        relevant: (user, item) relevant pairs (:func:`relevant_pairs`).
        n_items: the catalogue size (Coverage's denominator).

    Returns:
        the summary (label -> value, the local summary's labels and order) and the lazy
        per-user frame (user and one column per accuracy label).
    """
    cuts = sorted({int(k) for k in ks})
    labels = [m.label for m in accuracy_metrics(cuts)]
    truth = relevant.groupBy("user").agg(F.collect_list("item").alias("relevant"))
    frame = truth.join(lists.select("user", "items"), "user", "left")
    schema = "user int, " + ", ".join(f"`{label}` double" for label in labels)

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            yield _score_block(batch, cuts, n_items)

    per_user = frame.mapInPandas(score, schema).cache()
    means = per_user.agg(*[F.avg(F.col(f"`{label}`")).alias(label) for label in labels]).first()
    assert means is not None
    summary = {label: float(means[label]) for label in labels}
    top = frame.select(F.posexplode("items").alias("pos", "item")).where(F.col("item") >= 0)
    distinct = top.agg(
        *[F.countDistinct(F.when(F.col("pos") < k, F.col("item"))).alias(str(k)) for k in cuts]
    ).first()
    assert distinct is not None
    for k in cuts:
        summary[f"Coverage@{k}"] = int(distinct[str(k)]) / n_items if n_items else float("nan")
    return pd.Series(summary, dtype=np.float64), per_user


def _score_block(batch: pd.DataFrame, ks: Sequence[int], n_items: int) -> pd.DataFrame:
    """One batch's per-user values by the local metric classes (a user without a list: -1s)."""
    width = max(ks)
    top = np.full((len(batch), width), -1, dtype=np.int64)
    has = batch["items"].notna().to_numpy()
    if has.any():  # every list has the same length (rank_frame pads with -1)
        lists = np.stack(list(batch["items"].to_numpy()[has])).astype(np.int64)
        top[has, : min(width, lists.shape[1])] = lists[:, :width]
    relevant = [np.asarray(r, dtype=np.int64) for r in batch["relevant"]]
    lengths = np.array([len(r) for r in relevant], dtype=np.int64)
    cols = np.concatenate(relevant) if relevant else np.zeros(0, np.int64)
    rows = np.repeat(np.arange(len(batch)), lengths)
    truth = sp.csr_matrix(
        (np.ones(len(cols)), (rows, cols)), shape=(len(batch), n_items), dtype=np.float64
    )
    data = ranking_data(top, np.arange(len(batch)), truth)
    out = {"user": batch["user"].to_numpy(np.int32)}
    for metric in accuracy_metrics(ks):
        out[metric.label] = metric.per_user(data)
    return pd.DataFrame(out)


def _rank_block(block: pd.DataFrame, scorer: Scorer, n: int) -> pd.DataFrame:
    """One block's lists: score, mask the history, top n."""
    seen = [np.zeros(0, np.int64) if s is None else np.asarray(s) for s in block["seen"]]
    weights = [np.zeros(0, np.float32) if w is None else np.asarray(w) for w in block["w"]]
    lengths = np.array([len(s) for s in seen], dtype=np.int64)
    rows = np.repeat(np.arange(len(block)), lengths)
    cols = np.concatenate(seen) if len(seen) else np.zeros(0, np.int64)
    data = np.concatenate(weights).astype(np.float32) if len(weights) else np.zeros(0)
    history = sp.csr_matrix(
        (data, (rows, cols)), shape=(len(block), scorer.n_items), dtype=np.float32
    )
    scores = np.asarray(scorer.scores(block, history), dtype=np.float32)
    scores[np.isnan(scores)] = -np.inf
    scores[rows, cols] = -np.inf
    items, values = topk_rows(scores, n)
    return pd.DataFrame(
        {"user": block["user"].to_numpy(np.int32), "items": list(items), "scores": list(values)}
    )
