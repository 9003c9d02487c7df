"""The store on both backends: migrations, pragmas, bulk paths, rollback."""

from __future__ import annotations

import json

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from db import Store, StoreError
from db.repositories import DatasetRepository, InteractionArrays
from db.schema import Base


def test_migrations_upgrade_fresh_database_without_drift(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert {"datasets", "dataset_versions", "users", "items", "interactions"} <= set(
        inspect(store.engine).get_table_names()
    )


def test_upgrade_twice_is_a_no_op(store: Store) -> None:
    from alembic.script import ScriptDirectory

    from db.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(store.engine)).get_current_head()
    Store(store.engine.url.render_as_string(hide_password=False)).dispose()
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head


def test_sqlite_pragmas_wal_foreign_keys_busy_timeout(sqlite_store: Store) -> None:
    with sqlite_store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000


def _arrays(n: int, rng: np.random.Generator, *, ts: bool = True) -> InteractionArrays:
    return InteractionArrays(
        user_code=rng.integers(0, 50, n).astype(np.int32),
        item_code=rng.integers(0, 80, n).astype(np.int32),
        value=rng.integers(1, 6, n).astype(np.float32),
        ts=rng.integers(1_500_000_000, 1_600_000_000, n) if ts else None,
        event=np.array(["view", "buy"], dtype=object)[rng.integers(0, 2, n)],
    )


def test_interactions_round_trip_in_file_order(store: Store, rng: np.random.Generator) -> None:
    data = _arrays(5000, rng)
    with store.session() as s:
        repo = DatasetRepository(s)
        ds = repo.create("d")
        v = repo.add_version(
            ds.id,
            parent_id=None,
            feedback="explicit",
            recipe=None,
            stats={},
            n_users=50,
            n_items=80,
            n_interactions=5000,
            has_timestamps=True,
            has_events=True,
        )
        assert repo.write_interactions(v.id, data) == 5000
    with store.session() as s:
        back = DatasetRepository(s).read_interactions(v.id)
    np.testing.assert_array_equal(back.user_code, data.user_code)
    np.testing.assert_array_equal(back.item_code, data.item_code)
    np.testing.assert_array_equal(back.value, data.value)
    np.testing.assert_array_equal(back.ts, data.ts)
    assert back.event is not None and back.event.tolist() == data.event.tolist()


def test_entity_attributes_round_trip_text_lists_numbers(store: Store) -> None:
    attrs = [
        {"title": "Toy Story (1995)", "genres": ["Animation", "Children"], "year": 1995.0},
        None,
        {"title": 'Quote "marks", commas\nand newline ünïcode', "genres": [], "price": 0.5},
    ]
    with store.session() as s:
        repo = DatasetRepository(s)
        ds = repo.create("d")
        repo.write_entities(ds.id, "item", ["007", "2", "x,y"], attrs)
    with store.session() as s:
        back = DatasetRepository(s).read_entities(ds.id, "item")
    assert back["external_id"].tolist() == ["007", "2", "x,y"]
    assert back["attributes"].tolist() == [json.loads(json.dumps(a)) for a in attrs]


def test_failed_unit_of_work_writes_nothing(store: Store, rng: np.random.Generator) -> None:
    with pytest.raises(StoreError), store.session() as s:
        repo = DatasetRepository(s)
        ds = repo.create("d")
        repo.write_entities(ds.id, "user", ["a", "b"])
        repo.create("d")  # unique name violated: the whole unit rolls back
    with store.session() as s:
        assert DatasetRepository(s).all() == []
        assert s.execute(text("SELECT count(*) FROM users")).scalar() == 0
