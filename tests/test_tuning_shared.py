"""Several workers share one Optuna study through PostgreSQL, never in the workbench's tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from db import Store
from db.schema import Base
from recsys_core.data.samples import synthetic
from recsys_core.errors import InputError
from recsys_core.jobs.datasets import import_dataset
from recsys_core.tuning import OPTUNA_SCHEMA, OPTUNA_URL_ENV, optuna_storage_url, tune
from tests.test_tuning import spec

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[1]
N = 12  # trials per worker: long enough for the two workers' trials to interleave
WORKBENCH = {t.name for t in Base.metadata.sorted_tables} | {"alembic_version"}


@pytest.fixture
def pg_syn(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The synthetic dataset on PostgreSQL; Optuna's schema and the rows are dropped after."""
    monkeypatch.delenv(OPTUNA_URL_ENV, raising=False)
    store = Store(postgres_url)
    import_dataset(store, "syn", synthetic(200, 100, 4000, seed=3))
    yield store
    with store.engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{OPTUNA_SCHEMA}" CASCADE'))
        conn.execute(text(f"TRUNCATE {', '.join(sorted(WORKBENCH - {'alembic_version'}))} CASCADE"))
    store.dispose()


def _tables(store: Store, schema: str) -> set[str]:
    sql = text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s")
    with store.engine.connect() as conn:
        return set(conn.execute(sql, {"s": schema}).scalars())


def _schemas(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return list(conn.execute(text("SELECT nspname FROM pg_namespace")).scalars())


def _version(store: Store, schema: str) -> list[str]:
    with store.engine.connect() as conn:
        return list(
            conn.execute(text(f'SELECT version_num FROM "{schema}".alembic_version')).scalars()
        )


def _spawn(*argv: str) -> subprocess.Popen[str]:
    """A worker process of its own, started without RECSYS_OPTUNA_URL."""
    env = {k: v for k, v in os.environ.items() if k != OPTUNA_URL_ENV}
    pipe = subprocess.PIPE
    return subprocess.Popen(
        [sys.executable, *argv], cwd=ROOT, env=env, text=True, stdin=pipe, stdout=pipe, stderr=pipe
    )


def _cli(store: Store, *args: str) -> subprocess.Popen[str]:
    """``python -m recsys_core.cli tune ... --study shared``, the way a worker machine runs it."""
    db = ["--db", store.url_with_password, "--json"]
    return _spawn(
        "-m", "recsys_core.cli", "tune", *db, "--dataset", "syn", "--study", "shared", *args
    )


def test_two_cli_workers_fill_one_study_in_the_optuna_schema_and_a_third_is_refused(
    pg_syn: Store,
) -> None:
    assert OPTUNA_SCHEMA not in _schemas(pg_syn)  # the workers set up an empty storage
    before = _version(pg_syn, "public")
    workers = [_cli(pg_syn, "--model", "ease", "--trials", str(N), "--seed", s) for s in "12"]
    done = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [err[-2000:] for _, err in done]
    outs = [json.loads(out) for out, _ in done]
    assert {o["study"] for o in outs} == {"shared"}
    # whoever finished first already saw trials of the other: the workers ran interleaved
    assert min(o["n_trials"] for o in outs) > N and max(o["n_trials"] for o in outs) == 2 * N

    url = optuna_storage_url(pg_syn)
    assert url.endswith("?options=-csearch_path%3Doptuna") and "/" + make_url(url).database in url
    storage = optuna.storages.RDBStorage(url)
    assert [s.study_name for s in optuna.get_all_study_summaries(storage)] == ["shared"]
    trials = optuna.load_study(study_name="shared", storage=storage).trials
    assert sorted(t.number for t in trials) == list(range(2 * N))
    assert all(t.state == TrialState.COMPLETE for t in trials)

    third = _cli(pg_syn, "--model", "item_knn", "--trials", "1")
    _, err = third.communicate(timeout=120)
    assert third.returncode == 2
    assert "Study 'shared' tunes model 'ease'" in err and "pick another study name" in err
    assert len(optuna.load_study(study_name="shared", storage=storage).trials) == 2 * N

    # Optuna's tables and its Alembic stamp sit in their schema; the workbench's are untouched
    assert _tables(pg_syn, "public") == WORKBENCH
    assert {"studies", "trials", "version_info", "alembic_version"} <= _tables(pg_syn, "optuna")
    assert _version(pg_syn, "public") == before
    assert _version(pg_syn, OPTUNA_SCHEMA) == [storage.get_head_version()]
    assert not {"studies", "trials"} & set(Base.metadata.tables)
    storage.engine.dispose()


RACER = """
import sys
from db import Store
from recsys_core.errors import InputError
from recsys_core.tuning import _study, parse_tune_spec
store = Store(sys.argv[1], migrate=False)
spec = parse_tune_spec({"dataset": "syn", "model": sys.argv[2], "n_trials": 1, "study": "race"})
print("ready", flush=True)
sys.stdin.readline()  # the start signal, sent once every worker is past its imports
try:
    _study(store, spec, None)
except InputError as exc:
    sys.exit(f"refused: {exc}")
"""


def test_workers_starting_together_on_an_empty_storage_set_it_up_once(pg_syn: Store) -> None:
    """Four workers open the same new study at one instant, two of them for another model.

    Without the setup lock, Optuna's own table creation fails here with duplicate-type errors.
    """
    assert OPTUNA_SCHEMA not in _schemas(pg_syn)
    models = ["ease", "item_knn", "ease", "item_knn"]
    procs = [_spawn("-c", RACER, pg_syn.url_with_password, m) for m in models]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline() == "ready\n", p.communicate()[1]
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")  # the start signal, to all four within a few milliseconds
            p.stdin.flush()
        errs = [p.communicate(timeout=120)[1] for p in procs]
    finally:
        for p in procs:
            p.kill()  # only if still running after a failure; a finished process ignores it
    study = optuna.load_study(study_name="race", storage=optuna_storage_url(pg_syn))
    winner = study.user_attrs["recsys"]["model"]
    assert [p.returncode == 0 for p in procs] == [m == winner for m in models], errs
    refused = [e for m, e in zip(models, errs, strict=True) if m != winner]
    assert all("refused: Study 'race' tunes model" in e for e in refused), refused
    assert _tables(pg_syn, "public") == WORKBENCH


def test_recsys_optuna_url_overrides_with_a_database_of_its_own(
    pg_syn: Store, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = f"recsys_optuna_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        own = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
        monkeypatch.setenv(OPTUNA_URL_ENV, own)
        assert optuna_storage_url(pg_syn) == own
        result = tune(pg_syn, spec(study="elsewhere", n_trials=2))
        assert result.study_name == "elsewhere" and len(result.trials) == 2
        assert len(optuna.load_study(study_name="elsewhere", storage=own).trials) == 2
        assert OPTUNA_SCHEMA not in _schemas(pg_syn) and _tables(pg_syn, "public") == WORKBENCH

        plain = pg_syn.url_with_password.replace("postgresql+psycopg://", "postgresql://")
        for same in (plain, pg_syn.url_with_password + "?options=-csearch_path%3Dpublic"):
            monkeypatch.setenv(OPTUNA_URL_ENV, same)
            with pytest.raises(InputError, match="must not point at the workbench database"):
                optuna_storage_url(pg_syn)
        other_schema = pg_syn.url_with_password + "?options=-csearch_path%3Dstudies_here"
        monkeypatch.setenv(OPTUNA_URL_ENV, other_schema)
        assert optuna_storage_url(pg_syn) == other_schema
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
