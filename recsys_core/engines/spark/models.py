"""ALS, MostPopular and ItemKNN fitted in Spark; each returns the state a local model keeps.

The state (factors, popularity, pruned similarity) is small next to the interactions: it is
collected, put into the registry's own model class (the run's artifact, so Preview, Explain
and Export read a Spark run like any other) and broadcast for ranking.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from pyspark.ml.recommendation import ALS as SparkALS
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from recsys_core.models.implicit_mf import ALSConfig
from recsys_core.models.knn import KNNConfig
from recsys_core.models.popular import MostPopularConfig

#: Targets per block of the item-item join: bounds the rows one block shuffles.
KNN_BLOCK_ITEMS = 2_000
_SECONDS_PER_DAY = 86_400.0


def train_pairs(train: DataFrame, binarize: bool) -> DataFrame:
    """Distinct (user, item) with x = 1, or the summed value (the local CSR's duplicates)."""
    pairs = train.groupBy("user", "item").agg(F.sum("value").alias("x"))
    return pairs.withColumn("x", F.lit(1.0)) if binarize else pairs


def fit_popular(train: DataFrame, config: MostPopularConfig, n_items: int) -> np.ndarray:
    """Interactions per item, each weighted 2^(-age / half-life) when decayed."""
    weight = F.lit(1.0)
    if config.half_life_days is not None:
        newest = train.agg(F.max("ts")).first()
        assert newest is not None
        age_days = (F.lit(int(newest[0])) - F.col("ts")) / _SECONDS_PER_DAY
        weight = F.pow(F.lit(2.0), -age_days / config.half_life_days)
    rows = train.groupBy("item").agg(F.sum(weight).alias("w")).collect()
    popularity = np.zeros(n_items, dtype=np.float64)
    popularity[[r["item"] for r in rows]] = [r["w"] for r in rows]
    return popularity.astype(np.float32)


def fit_als(train: DataFrame, config: ALSConfig, n_items: int) -> tuple[DataFrame, np.ndarray]:
    """Spark ML's implicit ALS with the local settings mapped onto its conventions.

    Spark trusts a pair ``1 + alpha_s * x`` times a missing one (implicit: ``alpha * x``), so
    on binarised data alpha_s = alpha - 1. Spark scales the penalty by each user's (item's)
    number of pairs (ALS-WR); regParam = reg / mean pairs per user keeps the average penalty.

    Returns:
        user factors (DataFrame user, features) and item factors ``[n_items, size]`` float32
        (zeros for items without training pairs, which then score 0 as locally).
    """
    pairs = train_pairs(train, config.binarize).cache()
    stats = pairs.agg(F.count("*"), F.countDistinct("user")).first()
    assert stats is not None
    per_user = max(1.0, stats[0] / max(1, stats[1]))
    parallelism = train.sparkSession.sparkContext.defaultParallelism
    als = SparkALS(
        rank=config.embedding_size,
        maxIter=config.epochs,
        regParam=config.reg / per_user,
        alpha=max(config.alpha - 1.0, 0.0) if config.binarize else config.alpha,
        implicitPrefs=True,
        userCol="user",
        itemCol="item",
        ratingCol="x",
        seed=config.random_state,
        numUserBlocks=parallelism,
        numItemBlocks=parallelism,
        intermediateStorageLevel="MEMORY_AND_DISK",
    )
    model = als.fit(pairs)
    items = np.zeros((n_items, config.embedding_size), dtype=np.float32)
    rows = model.itemFactors.collect()
    if rows:
        items[[r["id"] for r in rows]] = np.asarray([r["features"] for r in rows], np.float32)
    users = model.userFactors.withColumnRenamed("id", "user").cache()
    users.count()  # materialise before the pairs go
    pairs.unpersist()
    return users, items


def fit_item_knn(
    train: DataFrame,
    config: KNNConfig,
    n_items: int,
    on_block: Callable[[int, int], None] | None = None,
) -> sp.csr_matrix:
    """Item-item similarity with the local definitions, top ``n_neighbors`` sources per target.

    Co-occurrence is a self-join on users, done for one block of target items at a time in
    Spark SQL; each block's pruned rows (at most block x n_neighbors) come back to the driver.

    Returns:
        CSR ``[source, target]`` float32, as ``recsys_core.models.knn.pruned_similarity``.
    """
    binary = config.binarize or config.similarity == "jaccard"
    x = train_pairs(train, binary).cache()
    sq = x.groupBy("item").agg(F.sum(F.col("x") * F.col("x")).alias("sq"))
    src = x.select("user", F.col("item").alias("source"), F.col("x").alias("xs"))
    src_sq = sq.select(F.col("item").alias("source"), F.col("sq").alias("sq_s"))
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    starts = range(0, n_items, KNN_BLOCK_ITEMS)
    for b, start in enumerate(starts):
        block = x.filter(F.col("item").between(start, start + KNN_BLOCK_ITEMS - 1))
        tgt = block.select("user", F.col("item").alias("target"), F.col("x").alias("xt"))
        co = (
            tgt.join(src, "user")
            .where(F.col("source") != F.col("target"))
            .groupBy("target", "source")
            .agg(F.sum(F.col("xt") * F.col("xs")).alias("co"))
        )
        co = co.join(src_sq, "source").join(
            sq.select(F.col("item").alias("target"), F.col("sq").alias("sq_t")), "target"
        )
        rows = _pruned(co.withColumn("sim", _similarity(config)), config.n_neighbors).collect()
        parts.append(
            (
                np.array([r["source"] for r in rows], dtype=np.int64),
                np.array([r["target"] for r in rows], dtype=np.int64),
                np.array([r["sim"] for r in rows], dtype=np.float32),
            )
        )
        if on_block is not None:
            on_block(b + 1, len(starts))
    x.unpersist()
    src_i, tgt_i, sim = (np.concatenate(p) for p in zip(*parts, strict=True))
    return sp.csr_matrix((sim, (src_i, tgt_i)), shape=(n_items, n_items), dtype=np.float32)


def _similarity(config: KNNConfig) -> F.Column:
    """co / denominator, as ``knn._normalise`` (float32 at the end, like the local array)."""
    co, s, t = F.col("co"), F.col("sq_s"), F.col("sq_t")
    if config.similarity == "jaccard":
        denom = t + s - co
    else:
        a = 0.5 if config.similarity == "cosine" else config.alpha
        denom = F.pow(s, F.lit(a)) * F.pow(t, F.lit(1.0 - a))
    denom = denom + F.lit(config.shrinkage)
    denom = F.when(denom == 0, F.lit(1.0)).otherwise(denom)
    return (co / denom).cast("float")


def _pruned(sims: DataFrame, n: int) -> DataFrame:
    """The ``n`` most similar positive sources per target (ties: lower source index)."""
    order = Window.partitionBy("target").orderBy(F.col("sim").desc(), F.col("source").asc())
    ranked = sims.where(F.col("sim") > 0).withColumn("r", F.row_number().over(order))
    return ranked.where(F.col("r") <= n).select("source", "target", "sim")
