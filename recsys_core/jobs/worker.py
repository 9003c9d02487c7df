"""The background worker: takes queued runs from the store, one at a time, with heartbeats.

The app starts one when none is alive, so training never blocks a page. A worker that is
killed stops beating; the next worker (or the app) marks its run failed with the reason.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta

from db import Store
from db.engine import default_home
from db.runs import RunRepository
from recsys_core.jobs.runs import execute

BEAT_EVERY_S = 5.0
STALE_AFTER = timedelta(seconds=60)
IDLE_SLEEP_S = 1.0


def _beat(store: Store, worker: str, run_id: list[int | None], stop: threading.Event) -> None:
    """Beat for the worker and its current run, even while a long fit reports nothing."""
    while not stop.wait(BEAT_EVERY_S):
        with store.session() as s:
            repo = RunRepository(s)
            repo.beat_worker(worker, os.getpid(), socket.gethostname())
            if run_id[0] is not None:
                repo.progress_beat(run_id[0])


def run_worker(store: Store, *, once: bool = False, max_idle_s: float | None = None) -> int:
    """Process queued runs until stopped; returns how many it ran.

    Args:
        once: return after the queue is empty (tests and scripts).
        max_idle_s: exit after this long with nothing to do (the app's auto-started worker).
    """
    worker = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    current: list[int | None] = [None]
    stop = threading.Event()
    with store.session() as s:
        RunRepository(s).beat_worker(worker, os.getpid(), socket.gethostname())
    beat = threading.Thread(target=_beat, args=(store, worker, current, stop), daemon=True)
    beat.start()
    done, idle_since = 0, time.monotonic()
    try:
        while True:
            with store.session() as s:
                repo = RunRepository(s)
                repo.reap_stale(STALE_AFTER)
                run = repo.claim_next(worker)
            if run is None:
                if once or (max_idle_s is not None and time.monotonic() - idle_since > max_idle_s):
                    return done
                time.sleep(IDLE_SLEEP_S)
                continue
            current[0] = run.id
            execute(store, run.id, worker=worker)
            current[0] = None
            done += 1
            idle_since = time.monotonic()
    finally:
        stop.set()
        with store.session() as s:
            RunRepository(s).remove_worker(worker)


def ensure_worker(store: Store) -> bool:
    """Start a detached worker process when none is alive; returns True when one was started.

    ``RECSYS_WORKER_AUTOSTART=0`` turns this off (workers run elsewhere, e.g. ``recsys worker``
    on another machine against the same PostgreSQL); ``RECSYS_WORKER_IDLE_EXIT_S`` (default
    600) is how long an auto-started worker waits for work before it exits.
    """
    if os.environ.get("RECSYS_WORKER_AUTOSTART", "1") == "0":
        return False
    with store.session() as s:
        repo = RunRepository(s)
        repo.reap_stale(STALE_AFTER)
        if repo.live_workers(STALE_AFTER / 4):
            return False
    log = open(default_home() / "worker.log", "ab")  # noqa: SIM115 - handed to the child
    # The URL goes through the environment, not argv, so a password never shows in `ps`.
    env = dict(os.environ, RECSYS_DATABASE_URL=store.url_with_password)
    idle = os.environ.get("RECSYS_WORKER_IDLE_EXIT_S", "600")
    proc = subprocess.Popen(
        [sys.executable, "-m", "recsys_core.cli", "worker", "--max-idle", idle],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    # Announce the child at once: page reruns in the seconds before it checks in itself
    # would otherwise each start another worker. The placeholder ages out like any beat.
    with store.session() as s:
        RunRepository(s).beat_worker(f"starting-{proc.pid}", proc.pid, socket.gethostname())
    return True
