"""Spark splits assign the rows the local splits do (hash-keyed random: the numpy reference)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from recsys_core.data.interactions import Interactions
from recsys_core.splitting import protocols
from recsys_core.splitting.configs import LeaveLastN, Predefined, RandomHoldout, TemporalCutoff
from recsys_core.splitting.hashed import hashed_random_mask

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def _spark_mask(spark, inter: Interactions, config, seed: int, tmp_path) -> np.ndarray:
    from recsys_core.engines.spark import export_interactions, read_interactions, spark_split

    df = read_interactions(spark, export_interactions(inter, str(tmp_path / "pq")))
    rows = spark_split(df, config, seed).select("row", "test").toPandas()
    mask = np.zeros(len(inter), dtype=bool)
    mask[rows["row"].to_numpy()] = rows["test"].to_numpy()
    assert len(rows) == len(inter)
    return mask


def _local_mask(inter: Interactions, config, seed: int) -> np.ndarray:
    ev = protocols.Events(inter.users, inter.items, inter.timestamps, inter.n_users, inter.n_items)
    return protocols.test_mask(ev, config, np.random.default_rng(seed), inter.is_test).test


@pytest.mark.parametrize(
    "config",
    [
        LeaveLastN(n=3),
        TemporalCutoff(test_fraction=0.2),
        TemporalCutoff(test_fraction=0.35, fraction_of="time_range"),
        TemporalCutoff(cutoff=datetime(2015, 6, 1, 12, 0, 0, 500)),
    ],
    ids=["leave-last-3", "temporal-share", "temporal-range", "temporal-instant"],
)
def test_deterministic_protocols_assign_the_same_rows(spark, movielens, config, tmp_path):
    local = _local_mask(movielens, config, 7)
    assert 0 < local.sum() < len(local)
    np.testing.assert_array_equal(_spark_mask(spark, movielens, config, 7, tmp_path), local)


def test_predefined_takes_the_column(spark, movielens, tmp_path):
    flag = (movielens.timestamps % 5) == 0  # any column the analyst brought
    inter = Interactions(**{**movielens.__dict__, "is_test": flag})
    mask = _spark_mask(spark, inter, Predefined(), 0, tmp_path)
    np.testing.assert_array_equal(mask, flag)


def test_random_split_equals_the_hash_reference(spark, movielens, tmp_path):
    config = RandomHoldout(test_fraction=0.25)
    expected = hashed_random_mask(
        movielens.users, movielens.items, movielens.n_users, movielens.n_items, 0.25, 11
    )
    np.testing.assert_array_equal(_spark_mask(spark, movielens, config, 11, tmp_path), expected)


def test_temporal_cutoff_with_ties_is_exact(spark, tmp_path):
    """Many equal timestamps around the k-th: the exact bracket still finds np.partition's."""
    from recsys_core.engines.spark.splits import kth_smallest

    values = np.repeat(np.arange(50, dtype=np.int64), np.arange(1, 51) * 40)
    df = spark.createDataFrame(pd.DataFrame({"ts": values}))
    for k in (0, 17, len(values) // 2, len(values) - 1):
        assert kth_smallest(df, "ts", k, len(values)) == int(np.partition(values, k)[k])
