"""Shared fixtures: real stores on SQLite files and on a real PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from db import Store
from db.schema import Base

# Longest modules first under xdist; `--record-module-seconds` refreshes the table.
from tests._schedule import (  # noqa: F401  (hooks, found by name)
    pytest_addoption,
    pytest_collection_modifyitems,
    pytest_configure,
)

PG_ENV = "RECSYS_TEST_POSTGRES_URL"
SAMPLE = Path(__file__).resolve().parents[1] / "recsys_core/data/samples/ml-latest-small"


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep every test away from the analyst's own ~/.recsys-workbench and database."""
    monkeypatch.setenv("RECSYS_HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.delenv("RECSYS_DATABASE_URL", raising=False)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database on the PostgreSQL server named by $RECSYS_TEST_POSTGRES_URL."""
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (CI sets it; see README)")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"recsys_test_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'workbench.db'}")
    yield store
    store.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The same test on a SQLite file and on PostgreSQL (emptied after each test)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'workbench.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    s = Store(url)
    yield s
    if request.param == "postgresql":
        with s.engine.begin() as conn:
            names = ", ".join(t.name for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} CASCADE"))
    s.dispose()
