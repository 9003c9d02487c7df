"""AppTest of the Tune page's "Find the best model": families ranked, runs stored, cancel."""

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
    monkeypatch.setenv("RECSYS_WORKER_AUTOSTART", "0")
    st.cache_resource.clear()
    st.cache_data.clear()
    s = Store(url)
    import_dataset(s, "syn", synthetic(200, 100, 4000, seed=3))
    return s


def _auto_page() -> AppTest:
    app = AppTest.from_file(str(ROOT / "pages/tune.py"), default_timeout=180).run()
    app.radio(key="tune_mode").set_value("Find the best model").run()
    assert not app.exception, app.exception
    return app


def _finish(app: AppTest) -> AppTest:
    job = app.session_state["tune_job"]
    job.thread.join(timeout=300)
    assert not job.running
    return app.run()


@pytest.mark.slow
def test_find_the_best_model_ranks_families_and_stores_the_runs(store: Store) -> None:
    app = _auto_page()
    app.number_input(key="auto_top").set_value(2).run()
    app.number_input(key="auto_budget").set_value(0.5).run()  # every family, a few trials each
    assert any("ease, rp3beta, item_knn" in c.value for c in app.caption)
    next(b for b in app.button if b.label == "Start").click().run()
    _finish(app)
    assert not app.exception, app.exception
    assert not app.error
    families, runs = app.dataframe[0].value, app.dataframe[1].value
    assert list(families["rank"]) == list(range(1, len(families) + 1)) and len(families) >= 2
    assert list(families["validation"].dropna()) == sorted(families["validation"].dropna(),
                                                           reverse=True)  # fmt: skip
    assert list(runs["kind"]) == ["model", "model", "blend", "ranker"]
    assert runs["chosen"].sum() == 1
    assert any("Chosen on validation" in s.value for s in app.success)
    assert {r.id for r in list_runs(store)} == set(runs["run_id"])


def test_find_the_best_model_can_be_cancelled_while_it_runs(store: Store) -> None:
    app = _auto_page()
    app.number_input(key="auto_budget").set_value(60.0).run()
    next(b for b in app.button if b.label == "Start").click().run()
    job = app.session_state["tune_job"]
    deadline = time.monotonic() + 120
    while job.tables[0] is None and time.monotonic() < deadline:
        time.sleep(0.1)
    app.run()
    assert not app.exception, app.exception
    assert job.running and app.dataframe  # the families searched so far
    app.button(key="tune_cancel").click().run()
    _finish(app)
    assert job.result is not None and job.result.cancelled
    assert any("Cancelled" in i.value for i in app.info)
    assert list_runs(store) == []
