"""A run's fit-and-rank on Spark, in the shape of ``recsys_core.jobs.runs.EngineStage``.

Data goes to Parquet once per version (or is read over JDBC); the split, the fit and the
full-ranking lists are Spark jobs; the fitted state becomes the registry's own model class,
so the run's artifact, reasons, Preview, Explain and Export work as for a local run. The
worker's progress reporter ticks while Spark works, and a cancel stops the run's Spark jobs
at once.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from db.runs import Run
from recsys_core.data.interactions import Interactions
from recsys_core.engines.spark.data import export_interactions, read_interactions, version_path
from recsys_core.engines.spark.jdbc import read_jdbc
from recsys_core.engines.spark.models import fit_als, fit_item_knn, fit_popular, train_pairs
from recsys_core.engines.spark.ranking import Scorer, top_lists
from recsys_core.engines.spark.session import spark_session
from recsys_core.engines.spark.splits import TEST, spark_split
from recsys_core.errors import InputError, RecsysError
from recsys_core.jobs.spec import RunSpec
from recsys_core.models.base import Recommender
from recsys_core.models.implicit_mf import ALS
from recsys_core.models.knn import ItemKNN
from recsys_core.models.popular import MostPopular
from recsys_core.splitting import Split


def spark_stage(
    run: Run,
    spec: RunSpec,
    inter: Interactions,
    parts: Split,
    users: np.ndarray,
    progress: Any,
    timings: dict[str, float],
) -> tuple[Recommender, np.ndarray, np.ndarray]:
    """Split, fit and rank ``users`` on Spark; returns the local model and the top lists."""
    spark = spark_session()
    start = time.perf_counter()
    with _watched(spark, progress, "spark: preparing data"):
        df = _interactions(spark, run, inter)
        train = _train_side(df, spec, len(parts.test))
    user_factors: DataFrame | None = None
    try:  # cached frames are dropped on every way out: a worker's session outlives its runs
        with _watched(spark, progress, f"spark: fitting {spec.model}"):
            model, scorer, user_factors = _fit(spark, spec, train, parts, progress)
        timings["fit_s"] = round(time.perf_counter() - start, 3)
        start = time.perf_counter()
        with _watched(spark, progress, "spark: ranking"):
            binarize = model.config.binarize if isinstance(model, ItemKNN) else True
            pairs = train_pairs(train, binarize)
            width = max(spec.n_recommendations, *spec.ks)
            items, scores = top_lists(spark, pairs, users, scorer, width, user_factors)
        timings["rank_s"] = round(time.perf_counter() - start, 3)
    finally:
        train.unpersist()
        if user_factors is not None:
            user_factors.unpersist()
    return model, items, scores


def _interactions(spark: SparkSession, run: Run, inter: Interactions) -> DataFrame:
    """The version's rows in Spark: read by the executors from PostgreSQL when
    ``RECSYS_SPARK_JDBC_URL`` is set, else from its Parquet export (written once)."""
    url = os.environ.get("RECSYS_SPARK_JDBC_URL")
    if url:
        has_ts, has_test = inter.timestamps is not None, inter.is_test is not None
        return read_jdbc(
            spark, url, run.version_id, len(inter), timestamps=has_ts, is_test=has_test
        )
    return read_interactions(spark, export_interactions(inter, version_path(run.version_id, inter)))


def _train_side(df: DataFrame, spec: RunSpec, n_test_local: int) -> DataFrame:
    """Spark's training rows, after checking its test side has the local split's size."""
    marked = spark_split(df, spec.split, spec.seed).cache()
    n_test = marked.filter(F.col(TEST)).count()
    if n_test != n_test_local:  # the two definitions drifted apart: no silent other split
        raise RecsysError(
            f"Spark's {spec.split.kind} split holds {n_test:,} test rows, the local one "
            f"{n_test_local:,}; the run stops rather than evaluate on another split."
        )
    train = marked.filter(~F.col(TEST)).cache()
    train.count()
    marked.unpersist()
    return train


def _fit(
    spark: SparkSession, spec: RunSpec, train: DataFrame, parts: Split, progress: Any
) -> tuple[Recommender, Scorer, DataFrame | None]:
    """The model fitted in Spark, as the registry's class with the run's training side."""
    model = spec.build_model()
    n_items = parts.train.n_items
    user_factors = None
    if isinstance(model, MostPopular):
        model.popularity_ = fit_popular(train, model.config, n_items)
        scorer = Scorer(n_items, popularity=model.popularity_)
    elif isinstance(model, ALS):
        user_factors, item_factors = fit_als(train, model.config, n_items)
        rows = user_factors.collect()
        factors = np.zeros((parts.train.n_users, item_factors.shape[1]), dtype=np.float32)
        if rows:
            factors[[r["user"] for r in rows]] = np.asarray([r["features"] for r in rows])
        model.user_factors_, model.item_factors_ = factors, item_factors
        scorer = Scorer(n_items, item_factors=item_factors)
    elif isinstance(model, ItemKNN):

        def block(done: int, total: int) -> None:
            progress(done, total, f"similarity block {done}/{total}")

        model.similarity_ = fit_item_knn(train, model.config, n_items, on_block=block)
        scorer = Scorer(n_items, similarity=model.similarity_)
    else:  # parse_spec refuses other models before a Spark run is stored
        raise InputError(f"The Spark engine cannot fit {spec.model!r}.")
    model.train_ = parts.train
    return model, scorer, user_factors


@contextmanager
def _watched(spark: SparkSession, progress: Any, stage: str) -> Iterator[None]:
    """Spark jobs in one job group while the run's reporter ticks; when the analyst cancels,
    the group's jobs are cancelled at once and the run ends as cancelled."""
    sc = spark.sparkContext
    group = f"recsys-{uuid.uuid4().hex[:8]}"
    sc.setJobGroup(group, stage, interruptOnCancel=True)
    with progress.ticking(stage, on_cancel=lambda: sc.cancelJobGroup(group)):
        yield
