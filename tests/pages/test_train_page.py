"""AppTest of the Train page: queue runs from the forms, watch them finish, see failures."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from db import Store
from recsys_core.data.samples import synthetic
from recsys_core.jobs.analysis import list_runs
from recsys_core.jobs.datasets import import_dataset
from recsys_core.jobs.worker import run_worker

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path, monkeypatch) -> Store:
    url = f"sqlite:///{tmp_path / 'train.db'}"
    monkeypatch.setenv("RECSYS_DATABASE_URL", url)
    monkeypatch.setenv("RECSYS_WORKER_AUTOSTART", "0")  # the test runs the worker itself
    st.cache_resource.clear()
    st.cache_data.clear()
    s = Store(url)
    import_dataset(s, "syn", synthetic(300, 150, 9000, seed=5))
    return s


def _app() -> AppTest:
    return AppTest.from_file(str(ROOT / "pages/train.py"), default_timeout=120).run()


def test_queue_two_models_then_the_worker_finishes_them(store: Store) -> None:
    app = _app()
    assert not app.exception
    app.multiselect(key="models").set_value(["most_popular", "item_knn"]).run()
    app.number_input(key="model_item_knn_n_neighbors").set_value(25)
    app.number_input(key="explain_top").set_value(5)
    queue = next(b for b in app.button if b.label == "Queue runs")
    queue.click().run()
    assert not app.exception
    assert any("Queued 2 run(s)" in s.value for s in app.success)
    runs = list_runs(store)
    assert sorted(r.model for r in runs) == ["item_knn", "most_popular"]
    knn = next(r for r in runs if r.model == "item_knn")
    assert knn.spec["params"]["n_neighbors"] == 25 and knn.status == "queued"
    assert knn.spec["explain_top"] == 5

    assert run_worker(store, once=True) == 2
    app.run()
    table = app.dataframe[-1].value
    assert sorted(table["status"]) == ["done", "done"]
    assert table["NDCG@10"].notna().all()


def test_check_split_shows_the_leak_checks(store: Store) -> None:
    app = _app()
    app.selectbox(key="split_kind").set_value("Global temporal cut-off").run()
    next(b for b in app.button if b.label == "Check this split").click().run()
    assert not app.exception
    checks = app.dataframe[0].value.set_index("check")["value"]
    assert checks["temporal_leaks"] == 0 and checks["overlapping_pairs"] == 0
    assert checks["n_test"] > 0 and checks["n_train"] > checks["n_test"]


def test_a_failing_run_shows_its_error(store: Store) -> None:
    app = _app()
    app.selectbox(key="split_kind").set_value("Predefined (the file's train/test column)").run()
    app.multiselect(key="models").set_value(["most_popular"]).run()
    next(b for b in app.button if b.label == "Queue runs").click().run()
    run_worker(store, once=True)
    app.run()
    assert any("no train/test column" in e.value for e in app.error)


def test_rerank_form_queues_a_derived_run(store: Store) -> None:
    from recsys_core.jobs import runs as jobs

    base = jobs.train(store, jobs.parse_spec({"dataset": "syn", "model": "item_knn"}))
    app = _app()
    form_alpha = next(n for n in app.number_input if n.label.startswith("Popularity penalty"))
    form_alpha.set_value(0.5)
    next(b for b in app.button if b.label == "Queue the re-ranking").click().run()
    assert not app.exception
    assert any(f"re-ranked (#{base.id})" in s.value for s in app.success)
    assert run_worker(store, once=True) == 1
    derived = next(r for r in list_runs(store) if r.id != base.id)
    assert derived.status == "done", derived.error
    assert derived.spec["derived"]["rerank"]["steps"][0]["kind"] == "popularity_penalty"
