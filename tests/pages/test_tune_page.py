"""AppTest of the Tune page: run two trials, see the charts and table, queue the best config."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from db import Store
from recsys_core.data.samples import synthetic
from recsys_core.jobs.analysis import list_runs
from recsys_core.jobs.datasets import import_dataset

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    url = f"sqlite:///{tmp_path / 'tune.db'}"
    monkeypatch.setenv("RECSYS_DATABASE_URL", url)
    monkeypatch.setenv("RECSYS_WORKER_AUTOSTART", "0")  # queued runs stay queued
    st.cache_resource.clear()
    st.cache_data.clear()
    s = Store(url)
    import_dataset(s, "syn", synthetic(200, 100, 4000, seed=3))
    return s


def _finish(app: AppTest) -> AppTest:
    """Wait for the search thread the page started, then rerun to show its outcome."""
    job = app.session_state["tune_job"]
    job.thread.join(timeout=120)
    assert not job.running
    return app.run()


def test_two_trials_show_history_importance_table_and_queue_the_best(store: Store) -> None:
    app = AppTest.from_file(str(ROOT / "pages/tune.py"), default_timeout=120).run()
    assert not app.exception
    assert app.selectbox(key="tune_model").value == "ease"
    app.number_input(key="tune_trials").set_value(2)
    next(b for b in app.button if b.label == "Start").click().run()
    assert not app.exception, app.exception
    _finish(app)
    assert not app.exception, app.exception
    assert any("carved out of the training data" in c.value for c in app.caption)
    assert not app.error
    charts = app.get("plotly_chart")
    assert len(charts) == 2  # trial history and parameter importance
    trials = app.dataframe[-1].value
    assert len(trials) == 2 and set(trials["state"]) == {"complete"}
    assert "reg" in trials.columns
    next(b for b in app.button if b.label == "Train the best config as a run").click().run()
    assert not app.exception
    assert any("Queued run" in s.value for s in app.success)
    (run,) = list_runs(store)
    best = trials.loc[trials["value"].idxmax()]
    assert run.status == "queued" and run.spec["params"]["reg"] == pytest.approx(best["reg"])


def test_models_with_nothing_to_search_are_not_offered(store: Store) -> None:
    app = AppTest.from_file(str(ROOT / "pages/tune.py"), default_timeout=120).run()
    options = app.selectbox(key="tune_model").options
    assert {"ease", "item_knn", "als"} <= set(options)
    assert "random" not in options and "most_popular" not in options
    assert not app.get("plotly_chart")  # no results before Start


def test_a_running_search_shows_its_trials_and_can_be_cancelled(store: Store) -> None:
    app = AppTest.from_file(str(ROOT / "pages/tune.py"), default_timeout=120).run()
    app.selectbox(key="tune_model").set_value("item_knn").run()
    app.number_input(key="tune_trials").set_value(500).run()
    next(b for b in app.button if b.label == "Start").click().run()
    job = app.session_state["tune_job"]
    deadline = time.monotonic() + 60
    while (job.trials is None or len(job.trials) < 2) and time.monotonic() < deadline:
        time.sleep(0.1)
    app.run()  # the page shows the trials so far while the search goes on
    assert not app.exception, app.exception
    assert job.running and app.dataframe and len(app.dataframe[-1].value) >= 2
    assert next(b for b in app.button if b.label == "Start").disabled
    app.button(key="tune_cancel").click().run()
    _finish(app)
    assert job.result is not None and job.result.cancelled
    n = len(job.result.trials)
    assert 2 <= n < 500
    assert any(f"Cancelled after {n} of 500 trials" in i.value for i in app.info)
    assert len(app.dataframe[-1].value) == n
    assert any(b.label == "Train the best config as a run" for b in app.button)
