"""AppTest of the Tune page: run two trials, see the charts and table, queue the best config."""

from __future__ import annotations

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


def test_two_trials_show_history_importance_table_and_queue_the_best(store: Store) -> None:
    app = AppTest.from_file(str(ROOT / "pages/tune.py"), default_timeout=120).run()
    assert not app.exception
    assert app.selectbox(key="tune_model").value == "ease"
    app.number_input(key="tune_trials").set_value(2)
    next(b for b in app.button if b.label == "Start").click().run()
    assert not app.exception, app.exception
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
