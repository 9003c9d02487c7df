"""Worker faults with real `recsys worker` processes and real signals, on both backends.

SIGTERM/SIGINT hand the run back to the queue and remove the worker's row; after SIGKILL every
reader (the repository, `recsys runs`) shows the run failed once its heartbeat is older than
the stale timeout, and `recsys retry` queues a copy.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text

from db import Store
from db.runs import RunRepository
from recsys_core.data.samples import synthetic
from recsys_core.jobs import runs as jobs
from recsys_core.jobs.datasets import import_dataset

STALE_S = 2.0
#: ~10 ms an epoch on the 300 x 150 synthetic set in numpy batches (the compiled loop of
#: batch_size 1 is faster): a fit of about 30 s, time to signal it
SLOW = {
    "dataset": "syn",
    "model": "bpr",
    "params": {"epochs": 3000, "batch_size": 1024},
    "ks": [5],
}


@pytest.fixture
def slow_run(store: Store) -> int:
    import_dataset(store, "syn", synthetic(300, 150, 9000, seed=5))
    return jobs.submit(store, jobs.parse_spec(SLOW)).id


@pytest.fixture
def spawn(store: Store) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start `recsys worker` processes against the test store; kill leftovers at the end."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(*args: str, stale_s: float = 60) -> subprocess.Popen[bytes]:
        env = dict(
            os.environ,
            RECSYS_DATABASE_URL=store.url_with_password,
            RECSYS_RUN_STALE_S=str(stale_s),
        )
        cmd = [sys.executable, "-m", "recsys_core.cli", "worker", *args]
        procs.append(subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE))
        return procs[-1]

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def _raw(store: Store, sql: str, **params: object) -> list[tuple]:
    """What is stored, bypassing the repository's view of orphaned runs."""
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 90) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _fitting(store: Store, run_id: int) -> bool:
    status, message = _raw(
        store, "SELECT status, progress_message FROM runs WHERE id = :r", r=run_id
    )[0]
    return status == "running" and message.startswith("fitting")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_worker_hands_its_run_back_and_removes_its_row(
    store: Store, slow_run: int, spawn: Callable[..., subprocess.Popen[bytes]], sig: int
) -> None:
    worker = spawn("--once")
    _wait_for(lambda: _fitting(store, slow_run), "the worker to start fitting")
    os.kill(worker.pid, sig)
    _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err.decode()
    assert f"run {slow_run} handed back" in err.decode()
    status, owner, started, message = _raw(
        store, "SELECT status, worker, started_at, progress_message FROM runs WHERE id = :r",
        r=slow_run,
    )[0]  # fmt: skip
    assert (status, owner, started) == ("queued", None, None)
    assert signal.Signals(sig).name in message
    assert _raw(store, "SELECT count(*) FROM workers WHERE pid = :p", p=worker.pid) == [(0,)]
    assert _raw(store, "SELECT count(*) FROM recommendations") == [(0,)]
    with store.session() as s:  # the next worker takes it like any queued run
        claimed = RunRepository(s).claim_next("next-worker")
    assert claimed is not None and claimed.id == slow_run


@pytest.mark.slow
def test_an_idle_worker_stops_cleanly_on_sigterm(
    store: Store, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    worker = spawn("--max-idle", "120")
    _wait_for(
        lambda: _raw(store, "SELECT count(*) FROM workers WHERE pid = :p", p=worker.pid) == [(1,)],
        "the worker to register",
    )
    os.kill(worker.pid, signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    assert _raw(store, "SELECT count(*) FROM workers") == [(0,)]


def _cli(store: Store, *args: str) -> tuple[int, dict]:
    env = dict(os.environ, RECSYS_RUN_STALE_S=str(STALE_S))
    cmd = [sys.executable, "-m", "recsys_core.cli", *args, "--db", store.url_with_password]
    done = subprocess.run([*cmd, "--json"], env=env, capture_output=True, timeout=120)
    return done.returncode, json.loads(done.stdout or b"{}")


@pytest.mark.slow
def test_a_killed_workers_run_reads_as_failed_everywhere_and_can_be_retried(
    store: Store,
    slow_run: int,
    spawn: Callable[..., subprocess.Popen[bytes]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RECSYS_RUN_STALE_S", str(STALE_S))
    worker = spawn("--once", stale_s=STALE_S)
    _wait_for(lambda: _fitting(store, slow_run), "the worker to start fitting")
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    killed_at = time.monotonic()

    def failed() -> bool:
        return jobs.get_run(store, slow_run).status == "failed"

    _wait_for(failed, "the run to read as failed", timeout=STALE_S + 10)
    assert time.monotonic() - killed_at < STALE_S + 5
    # no worker stored anything: the failure is what readers see of a silent run
    assert _raw(store, "SELECT status FROM runs WHERE id = :r", r=slow_run) == [("running",)]
    assert "worker stopped responding" in (jobs.get_run(store, slow_run).error or "")
    code, listed = _cli(store, "runs")
    assert code == 0 and [r["status"] for r in listed["runs"]] == ["failed"]
    with store.session() as s:
        assert [r.id for r in RunRepository(s).all(status="failed")] == [slow_run]
        assert RunRepository(s).all(status="running") == []

    code, retried = _cli(store, "retry", "--run", str(slow_run))
    assert code == 0, retried
    copy = jobs.get_run(store, retried["run_id"])
    assert copy.status == "queued" and copy.spec == jobs.get_run(store, slow_run).spec
    assert copy.label == f"bpr (retry of #{slow_run})"
    old = jobs.get_run(store, slow_run)
    assert old.retried_as == copy.id and "worker stopped responding" in (old.error or "")
    assert _raw(store, "SELECT status FROM runs WHERE id = :r", r=slow_run) == [("failed",)]
    assert _cli(store, "retry", "--run", str(copy.id))[0] == 2  # a queued run is not retried


def test_retry_refuses_unknown_and_done_runs(store: Store) -> None:
    import_dataset(store, "syn", synthetic(60, 40, 900, seed=1))
    done = jobs.train(store, jobs.parse_spec({"dataset": "syn", "model": "most_popular"}))
    assert _cli(store, "retry", "--run", str(done.id))[0] == 2
    assert _cli(store, "retry", "--run", "999")[0] == 2
