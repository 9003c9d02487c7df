"""The Train page's Retry button: an orphaned run (its worker died) is queued again as a copy."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from db import Store
from db.runs import RunRepository
from recsys_core.data.samples import synthetic
from recsys_core.jobs import runs as jobs
from recsys_core.jobs.analysis import list_runs
from recsys_core.jobs.datasets import import_dataset
from recsys_core.jobs.worker import run_worker

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def orphan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Store, int]:
    """A run a worker claimed and then stopped beating for (as after `kill -9`)."""
    url = f"sqlite:///{tmp_path / 'train.db'}"
    monkeypatch.setenv("RECSYS_DATABASE_URL", url)
    monkeypatch.setenv("RECSYS_WORKER_AUTOSTART", "0")  # the test runs the worker itself
    st.cache_resource.clear()
    store = Store(url)
    import_dataset(store, "syn", synthetic(100, 60, 2000, seed=5))
    run = jobs.submit(store, jobs.parse_spec({"dataset": "syn", "model": "most_popular"}))
    with store.session() as s:
        RunRepository(s).claim_next("killed-worker")
        s.execute(text("UPDATE runs SET heartbeat_at = '2000-01-01 00:00:00'"))
    return store, run.id


def test_retry_button_queues_a_copy_that_a_worker_finishes(orphan: tuple[Store, int]) -> None:
    store, run_id = orphan
    app = AppTest.from_file(str(ROOT / "pages/train.py"), default_timeout=120).run()
    assert any("worker stopped responding" in e.value for e in app.error)
    app.button(key=f"retry_{run_id}").click().run()
    assert not app.exception
    copy = next(r for r in list_runs(store) if r.id != run_id)
    assert copy.status == "queued" and copy.label == f"most_popular (retry of #{run_id})"
    assert jobs.get_run(store, run_id).retried_as == copy.id
    app.run()
    assert f"retry_{run_id}" not in [b.key for b in app.button]  # retried once is enough
    assert run_worker(store, once=True) == 1
    assert jobs.get_run(store, copy.id).status == "done"
