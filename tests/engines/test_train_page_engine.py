"""The Train page offers the Spark engine only where workers have a cluster, and says which
engine suits the dataset; a run queued on Spark carries the engine in its spec."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from db import Store
from recsys_core.data.samples import synthetic
from recsys_core.jobs.analysis import list_runs
from recsys_core.jobs.datasets import import_dataset
from recsys_core.jobs.spec import LOCAL_UP_TO, engine_advice

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path, monkeypatch) -> Store:
    url = f"sqlite:///{tmp_path / 'train.db'}"
    monkeypatch.setenv("RECSYS_DATABASE_URL", url)
    monkeypatch.setenv("RECSYS_WORKER_AUTOSTART", "0")
    st.cache_resource.clear()
    st.cache_data.clear()
    s = Store(url)
    import_dataset(s, "syn", synthetic(120, 60, 2000, seed=5))
    return s


def _app() -> AppTest:
    return AppTest.from_file(str(ROOT / "pages/train.py"), default_timeout=120).run()


def test_no_engine_choice_without_a_cluster(store: Store, monkeypatch) -> None:
    monkeypatch.delenv("RECSYS_SPARK_MASTER", raising=False)
    app = _app()
    assert not app.exception
    assert not [r for r in app.radio if r.label == "Engine"]


def test_spark_is_offered_and_queued_with_the_advice(store: Store, monkeypatch) -> None:
    monkeypatch.setenv("RECSYS_SPARK_MASTER", "local[2]")
    app = _app()
    engine = next(r for r in app.radio if r.label == "Engine")
    assert engine.options == ["local", "spark"] and engine.value == "local"
    assert any("fit one machine" in c.value for c in app.caption)
    engine.set_value("spark").run()
    app.multiselect(key="models").set_value(["most_popular"]).run()
    next(b for b in app.button if b.label == "Queue runs").click().run()
    assert not app.exception
    (run,) = list_runs(store)
    assert run.spec["engine"] == "spark" and run.status == "queued"


def test_advice_turns_at_the_documented_size() -> None:
    assert "local engine is faster" in engine_advice(LOCAL_UP_TO)
    assert "Spark" in engine_advice(LOCAL_UP_TO + 1) and "scales out" in engine_advice(10**9)
