"""The worker's heartbeat thread: it beats, and stops quietly once its worker row is gone."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from db import Store
from db.runs import RunRepository
from recsys_core.data.samples import synthetic
from recsys_core.jobs import runs as jobs
from recsys_core.jobs.analysis import list_runs
from recsys_core.jobs.datasets import import_dataset
from recsys_core.jobs.worker import _beat, run_worker


@pytest.fixture
def thread_errors() -> Iterator[list[BaseException | None]]:
    """Exceptions that escape any thread (they used to surface as a StoreError warning)."""
    errors: list[BaseException | None] = []
    old = threading.excepthook
    threading.excepthook = lambda args: errors.append(args.exc_value)
    yield errors
    threading.excepthook = old


def _beat_at(store: Store, worker: str) -> list:
    with store.engine.connect() as conn:
        q = text("SELECT heartbeat_at FROM workers WHERE id = :w")
        return [r[0] for r in conn.execute(q, {"w": worker})]


def test_the_beat_thread_stops_quietly_when_its_row_is_removed(
    store: Store, thread_errors: list
) -> None:
    with store.session() as s:
        RunRepository(s).register_worker("w1", 1, "host")
    first = _beat_at(store, "w1")
    stop = threading.Event()
    beat = threading.Thread(target=_beat, args=(store, "w1", [None], stop, 0.05))
    beat.start()
    time.sleep(0.5)
    assert _beat_at(store, "w1") > first  # it beats
    with store.session() as s:
        RunRepository(s).remove_worker("w1")
    beat.join(timeout=5)
    assert not beat.is_alive()  # stopped by itself: `stop` was never set
    assert thread_errors == []
    assert _beat_at(store, "w1") == []  # and did not bring the row back


def test_beating_a_missing_worker_reports_it_instead_of_raising(store: Store) -> None:
    with store.session() as s:
        assert RunRepository(s).beat_worker("never-registered") is False


def test_a_worker_leaves_no_row_and_no_thread_error(store: Store, thread_errors: list) -> None:
    assert run_worker(store, once=True) == 0
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM workers")).scalar_one() == 0
    assert thread_errors == []


def test_an_inline_run_never_reads_as_orphaned(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`recsys train` has no worker beating for it; its own heartbeat keeps it alive."""
    # stale after 1.5 s, beats every 0.375 s; the run lasts ~3 stale windows or more. (0.4 s was
    # shorter than a busy 2-core machine may keep the beating thread waiting: flaky at load 7.)
    monkeypatch.setenv("RECSYS_RUN_STALE_S", "1.5")
    import_dataset(store, "syn", synthetic(300, 150, 9000, seed=5))
    seen: set[str] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.update(r.status for r in list_runs(store))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    # numpy batches: the compiled loop (batch_size 1) would end before a stale window
    params = {"epochs": 600, "batch_size": 1024}
    spec = {"dataset": "syn", "model": "bpr", "params": params, "ks": [5]}
    try:
        run = jobs.train(store, jobs.parse_spec(spec))
    finally:
        done.set()
        watcher.join()
    assert run.status == "done", run.error
    assert "running" in seen and "failed" not in seen
