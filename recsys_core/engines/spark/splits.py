"""Split protocols in Spark SQL, with the local definitions (recsys_core.splitting).

Leave-last-N, temporal and predefined assign exactly the rows the local split does (same
tie-breaks: row order within equal timestamps). Random per user is the hash-keyed protocol
of :mod:`recsys_core.splitting.hashed`, which the local side recomputes for readers.
"""

from __future__ import annotations

import math
from datetime import UTC

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from recsys_core.errors import InputError
from recsys_core.splitting.configs import (
    LeaveLastN,
    Predefined,
    RandomHoldout,
    SplitConfig,
    TemporalCutoff,
)
from recsys_core.splitting.hashed import U_SALT, P, hash_sql

#: Test column added to the interactions.
TEST = "test"


def spark_split(df: DataFrame, config: SplitConfig, seed: int) -> DataFrame:
    """``df`` (columns of :mod:`.data`) with a boolean column ``test``."""
    if isinstance(config, RandomHoldout):
        return _random(df, config.test_fraction, seed)
    if isinstance(config, LeaveLastN):
        _need(df, "ts", config.kind)
        return _leave_last(df, config.n)
    if isinstance(config, TemporalCutoff):
        _need(df, "ts", config.kind)
        return df.withColumn(TEST, F.col("ts") >= F.lit(temporal_cutoff(df, config)))
    if isinstance(config, Predefined):
        _need(df, "is_test", config.kind)
        return df.withColumn(TEST, F.col("is_test"))
    raise InputError(f"The Spark engine has no {config.kind!r} split.")


def _need(df: DataFrame, column: str, kind: str) -> None:
    if column not in df.columns:
        what = "timestamps" if column == "ts" else "a train/test column"
        raise InputError(f"The '{kind}' split needs {what}, which this dataset has not.")


def _leave_last(df: DataFrame, n: int) -> DataFrame:
    """Each user's n latest rows (ties: earlier row first, as the local stable sort)."""
    by_user = Window.partitionBy("user")
    recent = by_user.orderBy(F.col("ts").desc(), F.col("row").asc())
    pos = F.row_number().over(recent) - 1
    n_test = F.least(F.lit(n), F.greatest(F.count("*").over(by_user) - 1, F.lit(0)))
    return df.withColumn(TEST, pos < n_test)


def _random(df: DataFrame, fraction: float, seed: int) -> DataFrame:
    """Distinct pairs in hash order per user; the first floor(f * count + U) are test."""
    pairs = df.select("user", "item").distinct()
    pairs = pairs.withColumn("key", F.expr(hash_sql("user", "item", seed)))
    by_user = Window.partitionBy("user")
    pos = F.row_number().over(by_user.orderBy("key", "item")) - 1
    count = F.count("*").over(by_user)
    uniform = F.expr(hash_sql("user", "0", seed + U_SALT)) / F.lit(float(P))
    n_test = F.floor(F.lit(fraction) * count + uniform)
    n_test = F.when(count >= 2, F.least(F.greatest(n_test, F.lit(0)), count - 1)).otherwise(0)
    flags = pairs.select("user", "item", (pos < n_test).alias(TEST))
    return df.join(flags, ["user", "item"])


def temporal_cutoff(df: DataFrame, config: TemporalCutoff) -> int:
    """The first test instant, as the local protocol places it (exact, not approximate)."""
    if config.cutoff is not None:
        when = config.cutoff
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return math.ceil(when.timestamp())
    row = df.agg(F.min("ts"), F.max("ts"), F.count("*")).first()
    assert row is not None
    lo, hi, n = int(row[0]), int(row[1]), int(row[2])
    if config.fraction_of == "time_range":
        return math.ceil(lo + (1.0 - config.test_fraction) * (hi - lo))
    k = min(math.floor((1.0 - config.test_fraction) * n), n - 1)
    return kth_smallest(df, "ts", k, n)


def kth_smallest(df: DataFrame, column: str, k: int, n: int) -> int:
    """The k-th smallest (0-based) value: an approximate bracket, then the exact rows in it.

    percentile_approx is off by at most n / accuracy ranks; the bracket is widened until it
    provably holds rank k, and only its rows travel to the driver.
    """
    accuracy, width = 10_000, 4.0 / 10_000
    while True:
        q = k / n
        lo_q, hi_q = max(0.0, q - width), min(1.0, q + width)
        bounds = df.agg(F.percentile_approx(column, [lo_q, hi_q], accuracy)).first()
        assert bounds is not None
        lo, hi = (int(v) for v in bounds[0])
        below = df.filter(F.col(column) < lo).count()
        inside = sorted(
            int(r[0]) for r in df.filter(F.col(column).between(lo, hi)).select(column).collect()
        )
        if below <= k < below + len(inside):
            return inside[k - below]
        if lo_q == 0.0 and hi_q == 1.0:
            raise InputError("Could not place the temporal cut-off.")
        width *= 4
