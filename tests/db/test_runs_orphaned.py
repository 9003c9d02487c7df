"""Orphaned runs in the repository, on both backends: read as failed, stored once reaped,
handed back by a stopping worker, retried as a copy."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from db import Store
from db.repositories import DatasetRepository
from db.runs import STALE_ERROR, RunRepository


@pytest.fixture
def claimed(store: Store) -> int:
    return _claimed_run(store)


def _claimed_run(store: Store) -> int:
    """A run claimed by worker "w1" (tests age its heartbeat as they need)."""
    with store.session() as s:
        datasets = DatasetRepository(s)
        ds = datasets.create("d")
        v = datasets.add_version(
            ds.id, parent_id=None, feedback="implicit", recipe=None, stats={}, n_users=1,
            n_items=1, n_interactions=0, has_timestamps=False, has_events=False,
        )  # fmt: skip
        repo = RunRepository(s)
        run = repo.create(dataset_id=ds.id, version_id=v.id, label="ease", model="ease", spec={})
        repo.claim_next("w1")
    return run.id


def _age(store: Store) -> None:
    with store.session() as s:
        s.execute(text("UPDATE runs SET heartbeat_at = '2000-01-01 00:00:00'"))


def _stored(store: Store, run_id: int) -> str:
    with store.engine.connect() as conn:
        q = text("SELECT status FROM runs WHERE id = :r")
        return conn.execute(q, {"r": run_id}).scalar_one()


def test_a_fresh_run_reads_as_running(store: Store, claimed: int) -> None:
    with store.session() as s:
        repo = RunRepository(s)
        assert repo.get(claimed).status == "running"  # type: ignore[union-attr]
        assert [r.id for r in repo.all(status="running")] == [claimed]
        assert repo.all(status="failed") == []


def test_an_orphaned_run_reads_as_failed_without_a_write(store: Store, claimed: int) -> None:
    _age(store)
    with store.session() as s:
        repo = RunRepository(s)
        run = repo.get(claimed)
        assert run is not None and (run.status, run.error) == ("failed", STALE_ERROR)
        assert [r.status for r in repo.all()] == ["failed"]
        assert [r.id for r in repo.all(status="failed")] == [claimed]
        assert repo.all(status="running") == []
    assert _stored(store, claimed) == "running"
    with store.session() as s:
        assert RunRepository(s).reap_stale() == [claimed]
    assert _stored(store, claimed) == "failed"


def test_the_stale_timeout_is_a_setting(
    store: Store, claimed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECSYS_RUN_STALE_S", "0.001")
    with store.session() as s:
        assert RunRepository(s).get(claimed).status == "failed"  # type: ignore[union-attr]


def test_hand_back_requeues_only_this_workers_run(store: Store, claimed: int) -> None:
    with store.session() as s:
        repo = RunRepository(s)
        assert repo.hand_back("someone-else", "x") == []
        assert repo.hand_back("w1", "handed back (SIGTERM)") == [claimed]
        run = repo.get(claimed)
        assert run is not None and (run.status, run.worker) == ("queued", None)
        assert run.progress_message == "handed back (SIGTERM)"
        assert repo.claim_next("w2") is not None


def test_retry_copies_an_orphaned_run_once_and_refuses_live_ones(
    store: Store, claimed: int
) -> None:
    with store.session() as s, pytest.raises(ValueError, match="is running"):
        RunRepository(s).retry(claimed)
    _age(store)
    with store.session() as s:
        copy = RunRepository(s).retry(claimed)
    with store.session() as s:
        repo = RunRepository(s)
        old = repo.get(claimed)
        assert old is not None and old.retried_as == copy.id
        assert old.error == f"{STALE_ERROR}\nRetried as run #{copy.id}."
        assert (copy.status, copy.label) == ("queued", f"ease (retry of #{claimed})")
        with pytest.raises(LookupError):
            repo.retry(12345)
    with store.session() as s:
        again = RunRepository(s).retry(claimed)  # allowed, and the label does not grow
    assert again.label == f"ease (retry of #{claimed})"


def test_time_under_a_long_sqlite_import_is_not_held_against_a_run(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Heartbeats cannot be written while an import holds SQLite's lock; the run is not
    orphaned for that, neither for readers nor for a reaper that queued behind the import."""
    import threading
    import time

    from tests.db.test_write_lock import HOLD_S, _hold

    store = sqlite_store
    run_id = _claimed_run(store)
    monkeypatch.setenv("RECSYS_RUN_STALE_S", "1")
    holding = threading.Event()
    holder = threading.Thread(target=_hold, args=(Store(store.url), holding))
    holder.start()
    assert holding.wait(10)
    time.sleep(HOLD_S / 2 + 0.5)  # past the stale timeout, all of it under the import
    with store.session() as s:
        assert RunRepository(s).get(run_id).status == "running"  # type: ignore[union-attr]
    with store.session() as s:
        assert RunRepository(s).reap_stale() == []  # waited for the import, then judged
    holder.join()
    time.sleep(1.2)  # now silence is silence
    with store.session() as s:
        assert RunRepository(s).get(run_id).status == "failed"  # type: ignore[union-attr]
