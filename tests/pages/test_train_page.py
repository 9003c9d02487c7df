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
from recsys_core.jobs.runs import load_model
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


def test_hybrid_form_sets_components_and_the_nested_switching_rule(store: Store) -> None:
    app = _app()
    app.multiselect(key="models").set_value(["hybrid"]).run()
    app.text_input(key="model_hybrid_components").set_value("item_knn:0.7, most_popular:0.3")
    app.checkbox(key="model_hybrid_switching_on").check().run()
    app.number_input(key="model_hybrid_switching_cold_user_model").set_value(1)
    app.number_input(key="model_hybrid_switching_cold_user_threshold").set_value(4)
    next(b for b in app.button if b.label == "Queue runs").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    (run,) = list_runs(store)
    params = run.spec["params"]
    assert params["components"] == ["item_knn:0.7", "most_popular:0.3"]
    assert params["switching"] == {"cold_user_model": 1, "cold_user_threshold": 4}
    assert run_worker(store, once=True) == 1
    (run,) = list_runs(store)
    assert run.status == "done", run.error
    model = load_model(run, store)
    assert model.config.switching is not None and model.config.switching.cold_user_model == 1


def test_untouched_forms_queue_every_model_with_exactly_its_default_config(store: Store) -> None:
    """A form left as it is must mean the model's defaults (list fields included)."""
    from recsys_core.models.registry import REGISTRY

    app = _app()
    app.multiselect(key="models").set_value(list(REGISTRY)).run()
    assert app.text_input(key="model_neumf_mlp_layers").value == "32, 16, 8"
    assert app.text_input(key="model_hybrid_components").value == "item_knn:0.8, most_popular:0.2"
    next(b for b in app.button if b.label == "Queue runs").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    runs = list_runs(store)
    assert sorted(r.model for r in runs) == sorted(REGISTRY)
    for run in runs:
        config = REGISTRY[run.model].config_class
        assert config.model_validate(run.spec["params"]) == config(), run.model
