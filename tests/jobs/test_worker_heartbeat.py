"""The worker's heartbeat thread: it beats, and stops quietly once its worker row is gone."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from db import Store
from db.runs import RunRepository
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
