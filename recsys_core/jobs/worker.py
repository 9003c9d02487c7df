"""The background worker: takes queued runs from the store, one at a time, with heartbeats.

The app starts one when none is alive, so training never blocks a page. A worker that is
killed stops beating; after ``$RECSYS_RUN_STALE_S`` (60 s) every reader sees its run as failed
(``db.runs``), and the next worker or retry stores that failure.

Stopping: SIGTERM or SIGINT (a service manager, Ctrl-C) hands the current run back to the
queue at once (status ``queued``, progress reset, a note saying why), removes the worker's
row and exits 0. We hand back rather than finish: a run can take hours, and service managers
send SIGKILL after a short grace period (Docker 10 s, systemd 90 s), so "finish first" would
usually end as an orphaned run anyway. The next worker starts the run afresh.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from types import FrameType

from db import Store
from db.engine import StoreError, default_home
from db.runs import Run, RunRepository, beat_every_s
from recsys_core.errors import InputError
from recsys_core.jobs.runs import EngineStage, execute

IDLE_SLEEP_S = 1.0
log = logging.getLogger(__name__)


class WorkerStopped(BaseException):
    """Raised in the main thread by SIGTERM/SIGINT. A BaseException, so the run's own
    ``except Exception`` (which turns crashes into failed runs) lets it through."""


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _ignore_stop_signals() -> None:
    """From here on the worker is cleaning up; a second Ctrl-C must not cut that short."""
    if _in_main_thread():
        for sig in _STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGINT into :class:`WorkerStopped` while the worker runs."""
    if not _in_main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def stop(signum: int, _frame: FrameType | None) -> None:
        _ignore_stop_signals()
        raise WorkerStopped(signal.Signals(signum).name)

    old = {sig: signal.signal(sig, stop) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _beat(
    store: Store, worker: str, run_id: list[int | None], stop: threading.Event, every: float
) -> None:
    """Beat for the worker and its current run, even while a long fit reports nothing.

    Stops quietly when the worker's row is gone (the worker removed it on the way out, or an
    operator did): a worker nobody sees as alive must not keep its run looking alive either.
    A database error (e.g. SQLite busy past its timeout) skips one beat instead of ending
    the thread, so one slow moment does not orphan a healthy run.
    """
    while not stop.wait(every):
        try:
            with store.session() as s:
                repo = RunRepository(s)
                if not repo.beat_worker(worker):
                    return
                if run_id[0] is not None:
                    repo.progress_beat(run_id[0])
        except StoreError as exc:
            log.warning("Worker %s missed a heartbeat: %s", worker, exc)


def run_worker(
    store: Store,
    *,
    once: bool = False,
    max_idle_s: float | None = None,
    engines: Mapping[str, EngineStage] | None = None,
) -> int:
    """Process queued runs until stopped; returns how many it ran.

    Args:
        once: return after the queue is empty (tests and scripts).
        max_idle_s: exit after this long with nothing to do (the app's auto-started worker).
        engines: stages of the non-local engines this worker drives (e.g. Spark's).
    """
    worker = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    current: list[int | None] = [None]
    stop = threading.Event()
    with store.session() as s:
        repo = RunRepository(s)
        repo.remove_worker(f"starting-{os.getpid()}")  # ensure_worker's placeholder for us
        repo.register_worker(worker, os.getpid(), socket.gethostname())
    beat = threading.Thread(
        target=_beat, args=(store, worker, current, stop, beat_every_s()), daemon=True
    )
    beat.start()
    done = [0]
    with _stop_on_signals():
        try:
            _loop(store, worker, current, done, once, max_idle_s, engines or {})
        except WorkerStopped as why:
            _hand_back(store, worker, str(why))
        finally:
            _ignore_stop_signals()
            stop.set()
            beat.join()  # no beat may land after the row is removed
            with store.session() as s:
                RunRepository(s).remove_worker(worker)
    return done[0]


def _loop(
    store: Store,
    worker: str,
    current: list[int | None],
    done: list[int],
    once: bool,
    max_idle_s: float | None,
    engines: Mapping[str, EngineStage],
) -> None:
    """Claim and execute runs; ``current`` and ``done`` are shared with the beat and caller."""
    idle_since = time.monotonic()
    while True:
        with store.session() as s:
            repo = RunRepository(s)
            repo.reap_stale()
            run = repo.claim_next(worker)
        if run is None:
            if once or (max_idle_s is not None and time.monotonic() - idle_since > max_idle_s):
                return
            time.sleep(IDLE_SLEEP_S)
            continue
        current[0] = run.id
        execute(store, run.id, worker=worker, engines=engines)
        current[0] = None
        done[0] += 1
        idle_since = time.monotonic()


def _hand_back(store: Store, worker: str, signal_name: str) -> None:
    """Re-queue the run this worker held when it was told to stop (if it still holds one)."""
    note = f"handed back: its worker was stopped ({signal_name}); the next worker restarts it"
    with store.session() as s:
        ids = RunRepository(s).hand_back(worker, note)
    held = f"run {ids[0]} handed back to the queue" if ids else "no run in progress"
    log.warning("Worker %s stopped by %s; %s.", worker, signal_name, held)


def retry_run(store: Store, run_id: int) -> Run:
    """Queue a copy of a failed, cancelled or orphaned run (the original keeps its error)."""
    try:
        with store.session() as s:
            return RunRepository(s).retry(run_id)
    except LookupError:
        raise InputError(f"No run {run_id}; `recsys runs` lists them.") from None
    except ValueError as exc:
        raise InputError(str(exc)) from None


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
        if repo.live_workers(timedelta(seconds=3 * beat_every_s())):
            return False
        repo.reap_stale()
    log_file = open(default_home() / "worker.log", "ab")  # noqa: SIM115 - handed to the child
    # The URL goes through the environment, not argv, so a password never shows in `ps`.
    env = dict(os.environ, RECSYS_DATABASE_URL=store.url_with_password)
    idle = os.environ.get("RECSYS_WORKER_IDLE_EXIT_S", "600")
    proc = subprocess.Popen(
        [sys.executable, "-m", "recsys_core.cli", "worker", "--max-idle", idle],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    # Announce the child at once: page reruns in the seconds before it checks in itself
    # would otherwise each start another worker. The placeholder ages out like any beat.
    with store.session() as s:
        RunRepository(s).register_worker(f"starting-{proc.pid}", proc.pid, socket.gethostname())
    return True
