"""Runs through the store: synchronous train, the queue and worker, failures, artifacts."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import text

from db import Store
from db.runs import RunRepository
from recsys_core.data.samples import synthetic
from recsys_core.errors import InputError
from recsys_core.jobs import runs as jobs
from recsys_core.jobs.analysis import compare_metrics, significance
from recsys_core.jobs.datasets import import_dataset
from recsys_core.jobs.worker import run_worker


@pytest.fixture
def synth_store(store: Store) -> Store:
    import_dataset(store, "syn", synthetic(300, 150, 9000, seed=5))
    return store


def spec(model: str = "most_popular", **kw) -> jobs.RunSpec:
    return jobs.parse_spec({"dataset": "syn", "model": model, "ks": [5, 10], **kw})


def _count(store: Store, table: str, run_id: int) -> int:
    with store.engine.connect() as conn:
        q = text(f"SELECT count(*) FROM {table} WHERE run_id = :r")
        return conn.execute(q, {"r": run_id}).scalar_one()


def test_train_stores_metrics_per_user_values_and_top_n(synth_store: Store) -> None:
    run = jobs.train(synth_store, spec("item_knn", n_recommendations=7))
    assert run.status == "done", run.error
    metrics = run.summary["metrics"]
    assert 0 < metrics["NDCG@10"] <= 1 and 0 < metrics["Recall@5"] <= metrics["Recall@10"]
    with synth_store.session() as s:
        repo = RunRepository(s)
        stored = repo.metrics(run.id)
        recs = repo.recommendations(run.id)
        per_user = repo.user_metrics(run.id, "user_id")
    low, high = stored.loc["NDCG@10", ["ci_low", "ci_high"]]
    assert low <= stored.loc["NDCG@10", "value"] <= high
    assert recs.groupby("user_id")["rank"].max().max() == 7
    assert per_user["NDCG@10"].mean() == pytest.approx(metrics["NDCG@10"], abs=1e-6)
    assert {v["view"] for v in run.summary["segments"]} >= {"user activity", "item popularity"}
    assert jobs.load_model(run).recommend(recs["user_id"].iloc[:1], 3).shape[0] == 3
    assert run.timings["save_s"] >= 0  # the writes are timed like every other phase


def test_same_spec_and_seed_give_the_same_numbers(synth_store: Store) -> None:
    a = jobs.train(synth_store, spec("ease", seed=3))
    b = jobs.train(synth_store, spec("ease", seed=3))
    assert a.summary["metrics"] == b.summary["metrics"]
    table = compare_metrics(synth_store, [a.id, b.id])
    assert set(table["label"]) == {f"ease · v1 · #{a.id}", f"ease · v1 · #{b.id}"}


def test_bad_specs_are_refused_before_anything_is_stored(synth_store: Store) -> None:
    for bad, match in [
        ({"model": "nope"}, "Unknown model"),
        ({"model": "ease", "params": {"reg": -1}}, "reg"),
        ({"model": "ease", "params": {"colour": 1}}, "unknown parameter"),
        ({"model": "ease", "ks": [0]}, "k"),
    ]:
        with pytest.raises(InputError, match=match):
            jobs.parse_spec({"dataset": "syn", **bad})
    with pytest.raises(InputError, match="No dataset"):
        jobs.submit(synth_store, jobs.RunSpec(dataset="other", model="ease"))
    with synth_store.session() as s:
        assert RunRepository(s).all() == []


def test_a_crashing_run_is_failed_with_its_error_and_no_results(synth_store: Store) -> None:
    # a temporal split needs timestamps the synthetic set has; a cut-off after every event
    # leaves no test data, which the split reports as an InputError inside the job
    run = jobs.train(
        synth_store,
        spec(split={"kind": "temporal", "cutoff": "2100-01-01T00:00:00"}),
    )
    assert run.status == "failed" and run.error
    for table in ("run_metrics", "run_user_metrics", "recommendations"):
        assert _count(synth_store, table, run.id) == 0


def test_worker_takes_queued_runs_and_cancel_before_start(synth_store: Store) -> None:
    first = jobs.submit(synth_store, spec("most_popular"))
    second = jobs.submit(synth_store, spec("random"))
    with synth_store.session() as s:
        RunRepository(s).request_cancel(second.id)
    assert run_worker(synth_store, once=True) == 1
    assert jobs.get_run(synth_store, first.id).status == "done"
    assert jobs.get_run(synth_store, second.id).status == "cancelled"
    tests = significance(
        synth_store, [first.id, jobs.train(synth_store, spec("ease")).id], "NDCG@10"
    )
    assert len(tests) == 1 and 0 <= tests.iloc[0]["wilcoxon_p_holm"] <= 1


def test_a_run_whose_worker_died_is_marked_failed(synth_store: Store) -> None:
    run = jobs.submit(synth_store, spec())
    with synth_store.session() as s:
        repo = RunRepository(s)
        repo.claim_next("ghost-worker")
        repo.write_recommendations(run.id, _fake_recs())  # half-written output
    with synth_store.session() as s:
        s.execute(text("UPDATE runs SET heartbeat_at = :t"), {"t": "2000-01-01 00:00:00"})
    with synth_store.session() as s:
        assert RunRepository(s).reap_stale(timedelta(seconds=60)) == [run.id]
    dead = jobs.get_run(synth_store, run.id)
    assert dead.status == "failed" and "worker stopped" in (dead.error or "")
    assert _count(synth_store, "recommendations", run.id) == 0


def test_tampered_model_file_is_not_loaded(synth_store: Store) -> None:
    run = jobs.train(synth_store, spec())
    with open(run.artifact_path, "ab") as fh:
        fh.write(b"x")
    with pytest.raises(InputError, match="checksum"):
        jobs.load_model(run)


def _fake_recs():
    import pandas as pd

    return pd.DataFrame({"user_id": ["1"], "item_id": ["2"], "score": [0.5], "rank": [1]})


def test_all_identical_ratings_train_and_a_threshold_above_them_fails_clearly(
    store: Store,
) -> None:
    data = synthetic(200, 100, 5000, seed=9)
    flat = data.interactions.assign(rating=3.0)
    import_dataset(store, "flat", replace(data, interactions=flat))
    ok = jobs.train(store, jobs.parse_spec({"dataset": "flat", "model": "ease", "ks": [10]}))
    assert ok.status == "done" and ok.summary["metrics"]["NDCG@10"] > 0
    spec = {"dataset": "flat", "model": "ease", "ks": [10], "relevance_threshold": 4}
    bad = jobs.train(store, jobs.parse_spec(spec))
    assert bad.status == "failed" and "No test user has a relevant item" in (bad.error or "")


def test_predefined_split_uses_the_imported_train_test_column(store: Store, tmp_path) -> None:
    from recsys_core.data.io import read_table
    from recsys_core.data.mapping import infer_mapping
    from recsys_core.data.validate import validate

    rows = [
        f"u{u},i{(u * 3 + j) % 40},{j % 5 + 1},{'test' if j >= 8 else 'train'}"
        for u in range(60)
        for j in range(10)
    ]
    path = tmp_path / "own_split.csv"
    path.write_text("user,item,rating,split\n" + "\n".join(rows) + "\n")
    raw = read_table(path)
    mapping = infer_mapping(raw.frame)
    assert mapping.split == "split"
    import_dataset(store, "own", validate(raw, mapping))
    spec = jobs.parse_spec({"dataset": "own", "model": "item_knn", "split": {"kind": "predefined"}})
    run = jobs.train(store, spec)
    assert run.status == "done", run.error
    assert (run.summary["n_train"], run.summary["n_test"]) == (480, 120)
    import_dataset(store, "plain", synthetic(100, 60, 2000, seed=1))
    other = jobs.train(store, spec.model_copy(update={"dataset": "plain"}))
    assert other.status == "failed" and "no train/test column" in (other.error or "")


def test_split_column_with_other_values_is_an_error(tmp_path) -> None:
    from recsys_core.data.io import read_table
    from recsys_core.data.mapping import infer_mapping
    from recsys_core.data.validate import validate

    path = tmp_path / "bad_split.csv"
    path.write_text("user,item,split\nu1,i1,train\nu1,i2,maybe\nu2,i1,test\n")
    raw = read_table(path)
    report = validate(raw, infer_mapping(raw.frame)).report
    (problem,) = [p for p in report.errors if p.code == "bad_split"]
    assert problem.count == 1 and problem.examples["line"].tolist() == [3]


def test_ensure_worker_starts_one_worker_not_one_per_call(synth_store: Store, monkeypatch) -> None:
    import os
    import signal

    from recsys_core.jobs.worker import ensure_worker

    monkeypatch.setenv("RECSYS_WORKER_IDLE_EXIT_S", "1")
    assert ensure_worker(synth_store) is True
    assert ensure_worker(synth_store) is False  # the first one counts as alive already
    with synth_store.session() as s:
        live = RunRepository(s).live_workers(timedelta(seconds=15))
    placeholder = next(w for w in live if w.startswith("starting-"))
    pid = int(placeholder.split("-")[1])
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)


def _segment(run, view: str, segment: str) -> dict:
    return next(r for r in run.summary["segments"] if r["view"] == view and r["segment"] == segment)


def test_cold_item_split_reports_cold_items_apart_and_who_can_rank_them(store: Store) -> None:
    import_dataset(store, "cold", synthetic(300, 200, 9000, seed=11))
    base = {
        "dataset": "cold",
        "ks": [10],
        "split": {"kind": "item_holdout", "test_item_fraction": 0.2},
    }
    content = jobs.train(store, jobs.parse_spec({**base, "model": "content"}))
    knn = jobs.train(store, jobs.parse_spec({**base, "model": "item_knn"}))
    assert content.status == knn.status == "done", (content.error, knn.error)
    cold = "cold items (no training data)"
    assert _segment(content, "cold vs warm items", cold)["mean"] > 0.05
    assert _segment(knn, "cold vs warm items", cold)["mean"] == 0
    assert content.summary["model"]["supports_cold_items"] is True
    assert knn.summary["model"]["supports_cold_items"] is False
    assert "text" in content.summary["model"]["encoders"]


@pytest.mark.slow
def test_fusion_run_records_gate_weights_and_ablation(sqlite_store: Store) -> None:
    import_dataset(sqlite_store, "mm", synthetic(200, 120, 5000, seed=3))
    params = {"embedding_size": 8, "tower_layers": [16], "text_dim": 8, "epochs": 3,
              "validation_fraction": 0.0}  # fmt: skip
    run = jobs.train(
        sqlite_store, jobs.parse_spec({"dataset": "mm", "model": "fusion", "params": params})
    )
    assert run.status == "done", run.error
    report = run.summary["model"]
    assert sum(report["modality_weights"].values()) == pytest.approx(1.0, abs=1e-4)
    assert {"modality", "drop"} <= set(report["ablation"][0])


def test_ranker_run_records_its_candidates_metrics_and_says_when_it_loses(
    sqlite_store: Store,
) -> None:
    from recsys_core.jobs.analysis import ranker_note

    import_dataset(sqlite_store, "rk", synthetic(300, 150, 9000, seed=5))
    params = {"generators": ["item_knn", "most_popular"], "n_candidates": 30, "n_estimators": 20}
    run = jobs.train(
        sqlite_store, jobs.parse_spec({"dataset": "rk", "model": "ranker", "params": params})
    )
    assert run.status == "done", run.error
    cands = run.summary["model"]["candidates"]
    assert set(cands) == {"item_knn", "most_popular"}
    best = max(c["NDCG@10"] for c in cands.values())
    note = ranker_note(run)
    assert (note is None) == (run.summary["metrics"]["NDCG@10"] > best)
    if note is not None:
        assert "does not beat its best candidate model" in note


def test_reasons_are_stored_with_the_top_of_each_list(sqlite_store: Store) -> None:
    import_dataset(sqlite_store, "why", synthetic(120, 80, 3000, seed=2))
    spec = jobs.parse_spec({"dataset": "why", "model": "item_knn", "n_recommendations": 15})
    run = jobs.train(sqlite_store, spec)
    assert run.status == "done", run.error
    with sqlite_store.session() as s:
        recs = RunRepository(s).recommendations(run.id)
    top = recs[recs["rank"] <= spec.explain_top]
    assert spec.explain_top == 3 and top["reason"].notna().all()
    assert top["reason"].str.startswith("Because you").mean() > 0.9
    assert recs.loc[recs["rank"] > spec.explain_top, "reason"].isna().all()
    from recsys_core.export import export_table

    table = export_table(sqlite_store, [run.id], 3, explanations=True)
    assert table["reason"].notna().all()
