"""Whole runs on the Spark engine, on SQLite and PostgreSQL: the CLI and the worker drive them,
their results land like any run's, and readers (Compare, Preview, Export) take them as usual.
"""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from db import Store
from db.runs import RunRepository
from recsys_core.cli import main
from recsys_core.data.samples import synthetic
from recsys_core.evaluation.evaluate import evaluate
from recsys_core.export import export_table
from recsys_core.jobs import runs as jobs
from recsys_core.jobs.analysis import compare_metrics
from recsys_core.jobs.context import run_model, run_split
from recsys_core.jobs.datasets import import_dataset
from recsys_core.jobs.preview import run_recommendations, user_view

pytestmark = [pytest.mark.slow]


@pytest.fixture
def syn(store: Store) -> Store:
    import_dataset(store, "syn", synthetic(200, 120, 6000, seed=3))
    return store


@pytest.fixture
def syn_sqlite(sqlite_store: Store) -> Store:
    """Cancel goes through the run's progress rows, tested on both stores in tests/jobs."""
    import_dataset(sqlite_store, "syn", synthetic(200, 120, 6000, seed=3))
    return sqlite_store


def run(*argv: str) -> tuple[int, dict, str]:
    """One CLI command in-process: (exit code, its --json output or {}, stderr)."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return (
        code,
        json.loads(out.getvalue()) if out.getvalue().startswith("{") else {},
        err.getvalue(),
    )


def _spark_engines() -> dict:
    from recsys_core.cli.run_commands import _engines

    return _engines()


def test_cli_train_on_spark_lands_like_a_local_run(spark, syn) -> None:
    """`recsys train --engine spark`: metrics, top-N and reasons stored; the same model and
    split trained locally give the same metrics (MostPopular is deterministic)."""
    db = syn.url_with_password
    argv = ["train", "--dataset", "syn", "--model", "most_popular", "--k", "5", "--k", "10",
            "--top-n", "10", "--explain-top", "2", "--db", db, "--json"]  # fmt: skip
    code, spark_out, err = run(*argv, "--engine", "spark")
    assert code == 0, err
    code, local_out, err = run(*argv)  # a local run beside it, for Compare
    assert code == 0, err
    ours = spark_out["metrics"]
    assert 0 < ours["NDCG@10"] <= 1 and set(ours) >= {"Precision@5", "Coverage@10", "MAP@10"}
    spark_run = jobs.get_run(syn, spark_out["run_id"])
    assert spark_run.status == "done" and spark_run.timings["rank_s"] > 0
    # the same random split locally would draw another sample: compare with a local model
    # fitted on the Spark run's own split instead
    parts = run_split(syn, spark_run)
    local = evaluate({"m": jobs.parse_spec(spark_run.spec).build_model().fit(parts.train)},
                     parts, [5, 10]).summary["value"]  # fmt: skip
    for label in ("NDCG@10", "Recall@5", "MRR@10", "Coverage@10"):
        assert ours[label] == pytest.approx(local[label], abs=1e-6)
    recs = run_recommendations(syn, spark_run.id)
    assert recs["rank"].max() == 10 and recs.groupby("user_id").size().max() == 10
    assert recs.loc[recs["rank"] <= 2, "reason"].notna().all()
    assert recs.loc[recs["rank"] > 2, "reason"].isna().all()
    # readers: Compare, Preview (the run's split rebuilt), Export with reasons, the model file
    table = compare_metrics(syn, [spark_run.id, local_out["run_id"]])
    assert "NDCG@10" in table.to_string()
    view = user_view(parts, str(recs["user_id"].iloc[0]))
    assert len(view.history) > 0
    exported = export_table(syn, [spark_run.id], 5, explanations=True)
    assert len(exported) == 5 * recs["user_id"].nunique() and exported["reason"].notna().all()
    model = run_model(syn, spark_run)
    items, _ = model.topk(np.unique(parts.test.users)[:5], 10)
    stored = recs[recs["user_id"].isin(parts.train.user_ids[np.unique(parts.test.users)[:5]])]
    assert sorted(parts.train.item_ids[items[items >= 0]]) == sorted(stored["item_id"])


def test_worker_runs_a_queued_spark_run_and_refuses_what_spark_cannot(spark, syn) -> None:
    db = syn.url_with_password
    code, out, err = run(
        "train", "--dataset", "syn", "--model", "als", "--param", "epochs=3",
        "--split", '{"kind": "leave_last_n", "n": 2}', "--engine", "spark", "--queue",
        "--db", db, "--json",
    )  # fmt: skip
    assert code == 0 and out["status"] == "queued", err
    code, w, err = run("worker", "--once", "--db", db, "--json")
    assert code == 0 and w["runs_processed"] == 1, err
    done = jobs.get_run(syn, out["run_id"])
    assert done.status == "done", done.error
    with syn.session() as s:
        metrics = RunRepository(s).metrics(done.id)
    assert 0 <= float(metrics.loc["NDCG@10", "value"]) <= 1
    code, _, err = run("train", "--dataset", "syn", "--model", "ease", "--engine", "spark",
                       "--db", db)  # fmt: skip
    assert code == 2 and "The Spark engine runs" in err


def test_a_spark_run_without_the_engine_fails_with_a_message(syn) -> None:
    spec = jobs.parse_spec({"dataset": "syn", "model": "most_popular", "engine": "spark"})
    done = jobs.train(syn, spec)  # no engines handed: this process cannot drive Spark
    assert done.status == "failed" and "no spark engine" in (done.error or "")


def test_cancel_stops_the_spark_jobs(spark, syn_sqlite) -> None:
    syn = syn_sqlite
    spec = jobs.parse_spec(
        {"dataset": "syn", "model": "als", "params": {"epochs": 200}, "engine": "spark"}
    )
    queued = jobs.submit(syn, spec)
    finished: list = []
    thread = threading.Thread(
        target=lambda: finished.append(jobs.execute(syn, queued.id, engines=_spark_engines()))
    )
    thread.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        label = jobs.get_run(syn, queued.id).progress_message or ""
        if label.startswith("spark: fitting"):
            break
        time.sleep(0.2)
    assert label.startswith("spark: fitting"), label
    with syn.session() as s:
        RunRepository(s).request_cancel(queued.id)
    cancelled_at = time.monotonic()
    thread.join(timeout=120)
    took = time.monotonic() - cancelled_at
    assert finished and finished[0].status == "cancelled"
    # Spark's jobs stopped: 200 sweeps alone take ~45 s here; the cancel is seen within
    # TICK_S and repeated until a job of the fit is hit
    assert took < 20, took
