"""Engine creation, backend pragmas and the per-action session scope."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

ENV_URL = "RECSYS_DATABASE_URL"
ENV_HOME = "RECSYS_HOME"


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
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str | None = None) -> Engine:
    """Create an engine for ``url`` (default :func:`default_url`) with backend settings applied."""
    url = url or default_url()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
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
    def session(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any error (mapped to StoreError)."""
        session = self._sessions()
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

    def dispose(self) -> None:
        self.engine.dispose()


def _short(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    return f"Database error: {orig or exc}".split("\n[SQL:")[0]
