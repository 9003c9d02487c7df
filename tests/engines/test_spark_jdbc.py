"""Executors read a version straight from PostgreSQL over JDBC: the same rows, indices and
columns as its Parquet export (a cleaned version, whose codes have gaps), and a whole Spark
run takes that path when RECSYS_SPARK_JDBC_URL is set."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from db import Store
from db.runs import RunRepository
from recsys_core.data.clean import CleaningPlan, KCore
from recsys_core.data.samples import synthetic
from recsys_core.jobs import runs as jobs
from recsys_core.jobs.datasets import clean_dataset, import_dataset, load_interactions, resolve

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(
        not Path("/usr/share/java/postgresql.jar").exists(),
        reason="PostgreSQL's JDBC driver is not installed (apt-get install "
        "libpostgresql-jdbc-java; .ci/run does)",
    ),
]


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_jdbc_rows_equal_the_parquet_export_and_a_run_reads_them(
    spark, store: Store, tmp_path, monkeypatch
) -> None:
    from recsys_core.cli.run_commands import _engines
    from recsys_core.engines.spark import export_interactions, read_interactions
    from recsys_core.engines.spark.jdbc import jdbc_url, read_jdbc

    import_dataset(store, "syn", synthetic(150, 90, 4000, seed=4))
    clean_dataset(store, "syn", CleaningPlan(steps=[KCore(min_user=25, min_item=10)]))
    ds, version = resolve(store, "syn", None)
    inter = load_interactions(store, ds.id, version.version)
    assert inter.n_users < 150 and inter.n_items < 90  # codes with gaps on both sides
    url = jdbc_url(store.url_with_password)
    ours = read_jdbc(spark, url, version.id, len(inter), timestamps=True, is_test=False)
    theirs = read_interactions(spark, export_interactions(inter, str(tmp_path / "pq")))
    assert ours.columns == theirs.columns
    a = ours.toPandas().sort_values("row").reset_index(drop=True)
    b = theirs.toPandas().sort_values("row").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)

    monkeypatch.setenv("RECSYS_SPARK_JDBC_URL", url)
    monkeypatch.setenv("RECSYS_SPARK_DATA", "/nonexistent/no-parquet-here")  # never written
    spec = jobs.parse_spec({"dataset": "syn", "model": "most_popular", "engine": "spark",
                            "split": {"kind": "leave_last_n", "n": 1}})  # fmt: skip
    done = jobs.train(store, spec, engines=_engines())
    assert done.status == "done", done.error
    local = jobs.train(store, spec.model_copy(update={"engine": "local"}))
    with store.session() as s:
        ours_m, theirs_m = (RunRepository(s).metrics(r.id)["value"] for r in (done, local))
    pd.testing.assert_series_equal(ours_m, theirs_m, atol=1e-6)
