"""A run computes each list once and scores those lists: its stored numbers are the engine's.

The stored metrics must equal an independent ``evaluate()`` of the same model on the same
split, and the stored top-N must equal ``model.topk`` (items, scores and ranks), so folding
the run's two passes into one changed no number.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from db import Store
from db.runs import RunRepository
from recsys_core.data.samples import synthetic
from recsys_core.evaluation import evaluate
from recsys_core.jobs import runs as jobs
from recsys_core.jobs.context import run_context
from recsys_core.jobs.datasets import import_dataset
from recsys_core.jobs.summary import RunSummary, run_summary


@pytest.fixture
def synth_store(store: Store) -> Store:
    import_dataset(store, "syn", synthetic(200, 120, 6000, seed=11))
    return store


@pytest.mark.parametrize("model", ["most_popular", "item_knn", "ease"])
def test_stored_metrics_equal_an_independent_evaluate(synth_store: Store, model: str) -> None:
    run = jobs.train(
        synth_store,
        jobs.parse_spec({"dataset": "syn", "model": model, "ks": [3, 10], "seed": 4}),
    )
    assert run.status == "done", run.error
    ctx = run_context(synth_store, run)
    fresh = evaluate({"m": ctx.model}, ctx.split, ks=(3, 10))
    with synth_store.session() as s:
        stored = RunRepository(s).metrics(run.id)
        per_user = RunRepository(s).user_metrics(run.id, "user_id")
    expected = fresh.summary["value"]
    np.testing.assert_allclose(stored.loc[expected.index, "value"], expected, rtol=1e-12)
    mine = per_user.set_index("user_id").sort_index()
    theirs = fresh.per_user.set_index("user_id").sort_index()
    assert list(mine.index) == list(theirs.index)
    np.testing.assert_allclose(mine[theirs.columns], theirs, rtol=1e-12)


def test_stored_top_n_equals_model_topk(synth_store: Store) -> None:
    run = jobs.train(
        synth_store,
        jobs.parse_spec(
            {"dataset": "syn", "model": "item_knn", "ks": [5], "n_recommendations": 12}
        ),
    )
    ctx = run_context(synth_store, run)
    users = np.unique(ctx.split.test.users)
    items, scores = ctx.model.topk(users, 12)
    with synth_store.session() as s:
        recs = RunRepository(s).recommendations(run.id)
    keep = items >= 0
    rows, cols = np.nonzero(keep)
    expected = pd.DataFrame(
        {
            "user_id": ctx.train.user_ids[users[rows]].astype(str),
            "item_id": ctx.train.item_ids[items[keep]].astype(str),
            "score": scores[keep].astype(np.float64),
            "rank": cols + 1,
        }
    )
    got = recs[["user_id", "item_id", "score", "rank"]].astype({"user_id": str, "item_id": str})
    key = ["user_id", "rank"]
    pd.testing.assert_frame_equal(
        got.sort_values(key, ignore_index=True),
        expected.sort_values(key, ignore_index=True),
        check_dtype=False,
    )
    assert recs.groupby("user_id")["rank"].max().max() == 12


def test_old_summaries_without_newer_keys_still_load() -> None:
    old = {"metrics": {"NDCG@10": 0.3}, "n_train": 5, "n_test": 2}
    summary = RunSummary.model_validate(old)
    assert summary.metric("NDCG@10") == 0.3 and summary.segments == []
    assert summary.model.supports_cold_items is None
    assert RunSummary.model_validate({}).metrics == {}
    # keys a later version adds to the model report are kept, not refused
    report = RunSummary.model_validate({"model": {"future_key": [1]}}).model
    assert report.model_dump()["future_key"] == [1]


def test_a_stored_summary_reads_back_typed(synth_store: Store) -> None:
    run = jobs.train(synth_store, jobs.parse_spec({"dataset": "syn", "model": "most_popular"}))
    summary = run_summary(run)
    assert summary.metric("NDCG@10") == run.summary["metrics"]["NDCG@10"]
    assert summary.n_test == run.summary["n_test"] > 0
    assert {s.view for s in summary.segments} >= {"user activity", "item popularity"}
    assert summary.model.supports_cold_items is False
    assert set(run.summary) == {"metrics", "checks", "n_train", "n_test", "segments", "model"}
