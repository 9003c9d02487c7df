"""Where Optuna keeps named studies, always apart from the workbench's tables, and safe setup.

Split from :mod:`recsys_core.tuning` because storage rules (URLs, schemas, locks) change for
other reasons than the search itself.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import URL, create_engine, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import NullPool

from db import Store
from db.engine import default_home
from recsys_core.errors import InputError

#: A database of Optuna's own (never the workbench's), shared by workers tuning one study.
OPTUNA_URL_ENV = "RECSYS_OPTUNA_URL"
#: Without it, a PostgreSQL workbench keeps Optuna's tables in this schema of its own database.
OPTUNA_SCHEMA = "optuna"
_SEARCH_PATH = re.compile(r'-c\s*search_path\s*=\s*"?([A-Za-z_][A-Za-z0-9_$]*)')
#: pg_advisory_lock key serialising Optuna storage setup (the bytes of "recsys_o").
_SETUP_LOCK = 0x7265637379735F6F


def optuna_storage_url(store: Store) -> str:
    """Where a named study lives, always apart from the workbench's own tables.

    ``$RECSYS_OPTUNA_URL`` when set (refused if it is the workbench's own database and
    schema). Otherwise a SQLite workbench uses ``RECSYS_HOME/optuna.db``, and a PostgreSQL
    workbench uses schema ``optuna`` of its own database: the URL carries the libpq option
    ``options=-csearch_path=optuna``, so every connection Optuna opens, including those its
    Alembic migrations (``optuna storage upgrade``) build from the URL alone, resolves Optuna's
    unqualified table names there, never in ``public``. Passing the search path through
    ``engine_kwargs`` instead would leave those migrations reading the workbench's own
    ``alembic_version``. :func:`tune` creates the schema on first use.
    """
    url = os.environ.get(OPTUNA_URL_ENV)
    if url:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        try:
            same = _place(make_url(url)) == _place(store.engine.url)
        except ArgumentError:
            raise InputError(f"{OPTUNA_URL_ENV} is not a database URL.") from None
        if same:
            raise InputError(f"{OPTUNA_URL_ENV} must not point at the workbench database itself.")
        return url
    if store.backend == "sqlite":
        return f"sqlite:///{default_home() / 'optuna.db'}"
    options = f"{store.engine.url.query.get('options', '')} -csearch_path={OPTUNA_SCHEMA}"
    own = store.engine.url.update_query_dict({"options": options.strip()})
    return own.render_as_string(hide_password=False)


def _search_path_schema(url: URL) -> str | None:
    """The schema a libpq ``options=-csearch_path=...`` in ``url`` puts first (last -c wins)."""
    found = _SEARCH_PATH.findall(str(url.query.get("options", "")))
    return found[-1] if found else None


def _place(url: URL) -> tuple[str, ...]:
    """Where tables land: backend, then the resolved file or server, database and schema."""
    if url.get_backend_name() == "sqlite":
        return ("sqlite", str(Path(url.database or "").resolve()))
    where = (url.host or "", str(url.port or 5432), url.database or "")
    return (url.get_backend_name(), *where, _search_path_schema(url) or "public")


@contextmanager
def storage_lock(url: str | None) -> Iterator[None]:
    """One worker at a time sets up Optuna's storage and the study's identity.

    Optuna's first ``create_all`` and version stamp race when several workers start on an
    empty storage (duplicate-type or "table already exists" errors, seen with 4 workers on
    PostgreSQL and on SQLite), and two workers could both find a new study without an
    identity. PostgreSQL: a session-level advisory lock in that database, and the schema the
    URL's search path names is created if missing (checked first, because ``CREATE SCHEMA``
    needs a privilege even when the schema exists). SQLite: an exclusive ``flock`` on a file
    beside the database (workers sharing a SQLite study share a machine).
    """
    if url is not None and make_url(url).get_backend_name() == "sqlite":
        with _file_lock(Path(make_url(url).database or "optuna.db")):
            yield
        return
    if url is None or make_url(url).get_backend_name() != "postgresql":
        yield
        return
    schema = _search_path_schema(make_url(url))
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            try:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _SETUP_LOCK})
                found = text("SELECT 1 FROM pg_namespace WHERE nspname = :s")
                if schema and conn.execute(found, {"s": schema}).first() is None:
                    conn.execute(text(f'CREATE SCHEMA "{schema}"'))
                conn.commit()
            except DBAPIError as exc:
                raise InputError(
                    f"Cannot set up Optuna's storage ({exc.orig}): create schema {schema!r} "
                    f"once, or set {OPTUNA_URL_ENV} to a database of Optuna's own."
                ) from exc
            yield  # closing the connection (NullPool) releases the lock, even after an error
    finally:
        engine.dispose()


@contextmanager
def _file_lock(database: Path) -> Iterator[None]:
    lock = database.with_name(database.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
