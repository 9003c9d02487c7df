"""Engine creation, backend pragmas and the per-action session scope.

SQLite has one writer at a time. Readers never wait (WAL). Writers take the write lock at
their first INSERT/UPDATE/DELETE with ``BEGIN IMMEDIATE`` and wait for it as long as
``$RECSYS_SQLITE_WRITE_WAIT_S`` (default 600 s), telling whoever waits what holds the lock
("waiting for the import of 'x'") instead of failing after a few seconds: a long import
otherwise made every small write in other processes fail with "database is locked".
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

ENV_URL = "RECSYS_DATABASE_URL"
ENV_HOME = "RECSYS_HOME"
ENV_WRITE_WAIT = "RECSYS_SQLITE_WRITE_WAIT_S"
#: busy timeout of plain statements (and the raw bulk paths): short, the gate below waits
BUSY_TIMEOUT_MS = 10_000
#: how long one attempt at the write lock waits before the waiter is told again what holds it
_ATTEMPT_MS = 2_000
_FIRST_ATTEMPT_MS = 200
_TELL_EVERY_S = 10.0
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
log = logging.getLogger(__name__)

#: Called with a one-line message while a writer waits for SQLite's write lock (the app shows
#: it on the page); keyed so a re-run script replaces its listener instead of adding one.
WAIT_LISTENERS: dict[str, Callable[[str], None]] = {}


class StoreError(RuntimeError):
    """A database failure, with the backend's message kept but the driver's noise removed."""


def default_home() -> Path:
    """Folder of the default SQLite file and artifacts: ``$RECSYS_HOME`` or ~/.recsys-workbench."""
    return Path(os.environ.get(ENV_HOME) or Path.home() / ".recsys-workbench")


def default_url() -> str:
    """``$RECSYS_DATABASE_URL`` when set, else a SQLite file in :func:`default_home`."""
    url = os.environ.get(ENV_URL)
    if url:
        return url
    home = default_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'workbench.db'}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the app read while the worker writes; the busy timeout makes writers wait
    # instead of failing at once; foreign keys are off by default in SQLite.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str | None = None) -> Engine:
    """Create an engine for ``url`` (default :func:`default_url`) with backend settings applied."""
    url = url or default_url()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "before_cursor_execute", _take_write_lock(_note_path(engine)))
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True)


class Store:
    """An engine plus a session factory; one per process (the app caches it as a resource)."""

    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        self.engine = make_engine(url)
        self.url = self.engine.url.render_as_string(hide_password=True)
        self.url_with_password = self.engine.url.render_as_string(hide_password=False)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if migrate:
            from db.migrate import upgrade

            upgrade(self.engine)

    @property
    def backend(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self.engine.dialect.name

    @contextmanager
    def session(self, *, purpose: str | None = None) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any error (mapped to StoreError).

        Args:
            purpose: what a long write is, e.g. "the import of 'shop'"; on SQLite, writers in
                other processes that wait for the lock are told so.
        """
        session = self._sessions()
        note = _WriterNote(_note_path(self.engine), purpose) if purpose else None
        reset = _NOTE.set(note)
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            raise StoreError(_short(exc)) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
            _NOTE.reset(reset)
            if note is not None:
                note.remove()

    def dispose(self) -> None:
        self.engine.dispose()


def write_wait_s() -> float:
    return float(os.environ.get(ENV_WRITE_WAIT) or 600)


def _note_path(engine: Engine) -> Path | None:
    """``<database file>.writer``: who holds a long write, for the writers that wait."""
    db = engine.url.database if engine.dialect.name == "sqlite" else None
    return Path(f"{db}.writer") if db and db != ":memory:" else None


class _WriterNote:
    """A small JSON file naming a long write while it holds the lock (SQLite only).

    Written when the session actually gets the write lock, not when it starts: a session that
    is itself waiting must not claim to be the one everybody waits for.
    """

    def __init__(self, path: Path | None, purpose: str) -> None:
        self.path, self.purpose, self.token = path, purpose, uuid.uuid4().hex
        self.written = False

    def write(self) -> None:
        if self.path is None or self.written:
            return
        body = {"purpose": self.purpose, "pid": os.getpid(), "since": time.time()}
        self.path.write_text(json.dumps({**body, "token": self.token}))
        self.written = True

    def remove(self) -> None:
        if self.written and _read_note(self.path).get("token") == self.token:
            self.path.unlink(missing_ok=True)  # type: ignore[union-attr]


#: the note of the session running in this thread, written once it holds the write lock
_NOTE: ContextVar[_WriterNote | None] = ContextVar("recsys_writer_note", default=None)


def _read_note(path: Path | None) -> dict[str, Any]:
    try:
        note = json.loads(path.read_text()) if path is not None else {}
    except (OSError, ValueError):
        return {}
    return note if isinstance(note, dict) else {}


def holder(path: Path | None) -> str:
    """What holds the write lock, as the waiting message names it."""
    note = _read_note(path)
    pid = note.get("pid")
    if not isinstance(pid, int) or not _alive(pid):
        return "another process writing to the database"
    return f"{note.get('purpose')} (process {pid}, writing for {time.time() - note['since']:.0f} s)"


def writes_blocked_s(engine: Engine) -> float:
    """Seconds a live long write (one with a purpose) has held SQLite's lock; 0 if none.

    Heartbeats cannot be written meanwhile, so the run repository does not count this time
    against a run's heartbeat.
    """
    note = _read_note(_note_path(engine))
    pid, since = note.get("pid"), note.get("since")
    if not isinstance(pid, int) or not isinstance(since, int | float) or not _alive(pid):
        return 0.0
    return max(0.0, time.time() - since)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _take_write_lock(note: Path | None) -> Callable[..., None]:
    """A ``before_cursor_execute`` hook: a transaction's first write takes the lock first.

    pysqlite would open a deferred transaction there and wait ``busy_timeout`` for the lock;
    instead we ask for it with ``BEGIN IMMEDIATE`` in short attempts, telling the waiter what
    holds it, until ``$RECSYS_SQLITE_WRITE_WAIT_S`` has passed.
    """

    def hook(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        dbapi = conn.connection.driver_connection
        if dbapi.in_transaction or not statement.lstrip()[:7].upper().startswith(_WRITES):
            return
        deadline, told = time.monotonic() + write_wait_s(), -_TELL_EVERY_S
        dbapi.execute(f"PRAGMA busy_timeout={_FIRST_ATTEMPT_MS}")  # a busy lock is said at once
        try:
            while True:
                try:
                    dbapi.execute("BEGIN IMMEDIATE")
                    if (mine := _NOTE.get()) is not None:
                        mine.write()
                    return
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        waited = f"waited {write_wait_s():.0f} s for {holder(note)}"
                        raise StoreError(f"Database error: {exc} ({waited})") from None
                if time.monotonic() - told >= _TELL_EVERY_S:
                    told = time.monotonic()
                    _tell_waiting(f"Waiting for {holder(note)}...")
                    dbapi.execute(f"PRAGMA busy_timeout={_ATTEMPT_MS}")
        finally:
            dbapi.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    return hook


def _tell_waiting(message: str) -> None:
    log.warning(message)
    for listener in list(WAIT_LISTENERS.values()):
        listener(message)


def _short(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    return f"Database error: {orig or exc}".split("\n[SQL:")[0]
