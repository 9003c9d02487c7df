"""Interactions to partitioned Parquet, written once per dataset version, read by Spark.

Columns: ``row`` (position in the version, the tie-break the local splits use), ``user`` and
``item`` (the version's indices, so Spark results map back without a join on ids),
``value``, and ``ts`` / ``is_test`` when the data has them. Files hold disjoint sets of users
(user modulo the file count), so a per-user window mostly stays within a file's partition.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession

from db.engine import default_home
from recsys_core.data.interactions import Interactions

#: Rows per Parquet file (about 20 MB each): enough files for every core of a small cluster.
ROWS_PER_FILE = 1_000_000
_DONE = "_SUCCESS"


def version_path(version_id: int, inter: Interactions) -> str:
    """Where a version's Parquet lives: ``$RECSYS_SPARK_DATA`` (a path every executor can
    read, e.g. a shared mount at the same path on every node) or ``RECSYS_HOME/spark``.

    The folder is named by the version id and a digest of its rows, so two stores (SQLite and
    PostgreSQL) or a version id reused after a delete never read each other's files.
    """
    base = os.environ.get("RECSYS_SPARK_DATA") or str(default_home() / "spark")
    digest = hashlib.sha256()
    for column in (inter.users, inter.items, inter.values, inter.timestamps, inter.is_test):
        digest.update(b"-" if column is None else np.ascontiguousarray(column).tobytes())
    return f"{base.rstrip('/')}/version_{version_id}_{digest.hexdigest()[:16]}"


def export_interactions(inter: Interactions, path: str) -> str:
    """Write ``inter`` under ``path`` unless a finished export is there; returns ``path``.

    Straight from the arrays to Arrow (no pandas); the ``_SUCCESS`` marker goes last, so an
    export cut short is redone, never half-read.
    """
    folder = Path(path)
    if (folder / _DONE).exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    n_files = max(1, -(-len(inter) // ROWS_PER_FILE))
    bucket = inter.users.astype(np.int64) % n_files
    order = np.argsort(bucket, kind="stable")
    bounds = np.searchsorted(bucket[order], np.arange(n_files + 1))
    for f in range(n_files):
        rows = order[bounds[f] : bounds[f + 1]]
        pq.write_table(_table(inter, rows), folder / f"part-{f:05d}.parquet")
    (folder / _DONE).touch()
    return path


def _table(inter: Interactions, rows: np.ndarray) -> pa.Table:
    columns = {
        "row": pa.array(rows.astype(np.int64)),
        "user": pa.array(inter.users[rows].astype(np.int32)),
        "item": pa.array(inter.items[rows].astype(np.int32)),
        "value": pa.array(inter.values[rows].astype(np.float32)),
    }
    if inter.timestamps is not None:
        columns["ts"] = pa.array(inter.timestamps[rows].astype(np.int64))
    if inter.is_test is not None:
        columns["is_test"] = pa.array(inter.is_test[rows].astype(bool))
    return pa.table(columns)


def read_interactions(spark: SparkSession, path: str) -> DataFrame:
    """The exported interactions as a DataFrame (one partition per file or file block)."""
    return spark.read.parquet(str(path))
