"""Repositories: take a session, never commit, return frozen dataclasses (or arrays for bulk)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from db.bulk import bulk_insert, bulk_select
from db.schema import DatasetTable, DatasetVersionTable, InteractionTable, ItemTable, UserTable

EntityKind = Literal["user", "item"]
_ENTITY: dict[str, type[UserTable] | type[ItemTable]] = {"user": UserTable, "item": ItemTable}


@dataclass(frozen=True)
class Dataset:
    id: int
    name: str
    description: str
    source: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class DatasetVersion:
    id: int
    dataset_id: int
    version: int
    parent_id: int | None
    feedback: str
    recipe: dict[str, Any] | None
    stats: dict[str, Any]
    n_users: int
    n_items: int
    n_interactions: int
    has_timestamps: bool
    has_events: bool
    has_split: bool
    created_at: datetime


@dataclass(frozen=True)
class InteractionArrays:
    """A version's interactions as columns, in file order; codes index the dataset's entities."""

    user_code: np.ndarray
    item_code: np.ndarray
    value: np.ndarray
    ts: np.ndarray | None
    event: np.ndarray | None
    is_test: np.ndarray | None = None


def _dto(cls: Any, row: Any) -> Any:
    return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})


class DatasetRepository:
    """Datasets, their versions, entity maps and interactions."""

    def __init__(self, session: Session) -> None:
        self.s = session

    # ---------------------------------------------------------------- datasets
    def create(self, name: str, description: str = "", source: dict | None = None) -> Dataset:
        row = DatasetTable(name=name, description=description, source=source or {})
        self.s.add(row)
        self.s.flush()
        return _dto(Dataset, row)

    def by_name(self, name: str) -> Dataset | None:
        row = self.s.scalar(select(DatasetTable).where(DatasetTable.name == name))
        return None if row is None else _dto(Dataset, row)

    def by_id(self, dataset_id: int) -> Dataset | None:
        row = self.s.get(DatasetTable, dataset_id)
        return None if row is None else _dto(Dataset, row)

    def all(self) -> list[Dataset]:
        rows = self.s.scalars(select(DatasetTable).order_by(DatasetTable.name))
        return [_dto(Dataset, r) for r in rows]

    def delete(self, dataset_id: int) -> None:
        # Explicit deletes keep SQLite fast and correct even where cascades are off.
        versions = select(DatasetVersionTable.id).where(
            DatasetVersionTable.dataset_id == dataset_id
        )
        self.s.execute(delete(InteractionTable).where(InteractionTable.version_id.in_(versions)))
        self.s.execute(
            delete(DatasetVersionTable).where(DatasetVersionTable.dataset_id == dataset_id)
        )
        for table in _ENTITY.values():
            self.s.execute(delete(table).where(table.dataset_id == dataset_id))
        self.s.execute(delete(DatasetTable).where(DatasetTable.id == dataset_id))

    # ---------------------------------------------------------------- versions
    def add_version(self, dataset_id: int, **fields: Any) -> DatasetVersion:
        """Append the next version number; ``fields`` are DatasetVersion's other columns."""
        last = self.s.scalar(
            select(func.max(DatasetVersionTable.version)).where(
                DatasetVersionTable.dataset_id == dataset_id
            )
        )
        row = DatasetVersionTable(dataset_id=dataset_id, version=(last or 0) + 1, **fields)
        self.s.add(row)
        self.s.flush()
        return _dto(DatasetVersion, row)

    def versions(self, dataset_id: int) -> list[DatasetVersion]:
        rows = self.s.scalars(
            select(DatasetVersionTable)
            .where(DatasetVersionTable.dataset_id == dataset_id)
            .order_by(DatasetVersionTable.version)
        )
        return [_dto(DatasetVersion, r) for r in rows]

    def version(self, version_id: int) -> DatasetVersion | None:
        row = self.s.get(DatasetVersionTable, version_id)
        return None if row is None else _dto(DatasetVersion, row)

    # ---------------------------------------------------------------- entities
    def write_entities(
        self,
        dataset_id: int,
        kind: EntityKind,
        external_ids: Sequence[str],
        attributes: Sequence[dict[str, Any] | None] | None = None,
    ) -> None:
        """Give ``external_ids`` the codes 0..n-1 (their order) with optional attribute dicts."""
        n = len(external_ids)
        attrs = [None] * n if attributes is None else [_json(a) for a in attributes]
        bulk_insert(
            self.s,
            _ENTITY[kind].__tablename__,
            {
                "dataset_id": np.full(n, dataset_id, dtype=np.int64),
                "code": np.arange(n, dtype=np.int64),
                "external_id": list(external_ids),
                "attributes": attrs,
            },
        )

    def update_attributes(
        self,
        dataset_id: int,
        kind: EntityKind,
        codes: Sequence[int],
        attributes: Sequence[dict[str, Any] | None],
    ) -> None:
        """Replace the attribute dicts of some entities (one executemany, by primary key)."""
        table = _ENTITY[kind]
        rows = [
            {"dataset_id": dataset_id, "code": int(c), "attributes": a}
            for c, a in zip(codes, attributes, strict=True)
        ]
        if rows:
            self.s.execute(update(table), rows)

    def set_source(self, dataset_id: int, source: dict[str, Any]) -> None:
        self.s.execute(
            update(DatasetTable).where(DatasetTable.id == dataset_id).values(source=source)
        )

    def read_entities(self, dataset_id: int, kind: EntityKind) -> pd.DataFrame:
        """Frame with columns code, external_id, attributes (parsed dicts or None), by code."""
        table = _ENTITY[kind].__tablename__
        frame = bulk_select(
            self.s,
            f"SELECT code, external_id, attributes FROM {table} "
            "WHERE dataset_id = :key ORDER BY code",
            dataset_id,
            ["code", "external_id", "attributes"],
            dtype={"external_id": str, "attributes": str},
        )
        frame["attributes"] = pd.Series(
            [
                a if isinstance(a, dict) else (json.loads(a) if isinstance(a, str) and a else None)
                for a in frame["attributes"].tolist()
            ],
            dtype=object,
        )
        return frame

    # ---------------------------------------------------------------- interactions
    def write_interactions(self, version_id: int, data: InteractionArrays) -> int:
        """Write a version's rows; values must be finite (SQLite would keep an infinity that
        PostgreSQL's COPY turns into 'inf': the backends must store the same)."""
        n = len(data.user_code)
        if not np.isfinite(data.value).all():
            raise ValueError("interaction values must be finite numbers")
        return bulk_insert(
            self.s,
            InteractionTable.__tablename__,
            {
                "version_id": np.full(n, version_id, dtype=np.int64),
                "seq": np.arange(n, dtype=np.int64),
                "user_code": data.user_code.astype(np.int64),
                "item_code": data.item_code.astype(np.int64),
                "value": data.value.astype(np.float64),
                "ts": np.full(n, np.nan) if data.ts is None else data.ts,
                "event": [None] * n if data.event is None else data.event,
                "is_test": [None] * n if data.is_test is None else data.is_test.astype(bool),
            },
        )

    def read_interactions(self, version_id: int) -> InteractionArrays:
        v = self.version(version_id)
        if v is None:
            raise KeyError(f"dataset version {version_id} does not exist")
        frame = bulk_select(
            self.s,
            "SELECT user_code, item_code, value, ts, event, is_test FROM interactions "
            "WHERE version_id = :key ORDER BY seq",
            version_id,
            ["user_code", "item_code", "value", "ts", "event", "is_test"],
            dtype={"event": str},
        )
        return InteractionArrays(
            user_code=frame["user_code"].to_numpy(dtype=np.int32),
            item_code=frame["item_code"].to_numpy(dtype=np.int32),
            value=frame["value"].to_numpy(dtype=np.float32),
            ts=frame["ts"].to_numpy(dtype=np.int64) if v.has_timestamps else None,
            event=frame["event"].to_numpy(dtype=object) if v.has_events else None,
            is_test=_flags(frame["is_test"]) if v.has_split else None,
        )


def _json(value: dict[str, Any] | None) -> str | None:
    """Strict JSON text both backends accept: no NaN/Infinity (not JSON; SQLite would keep
    them, PostgreSQL refuses them) and no NUL (PostgreSQL's jsonb cannot hold \\u0000).

    Callers validate first; these errors only guard the store against a missed check.
    """
    if value is None:
        return None
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, default=_plain)
    if "\\u0000" in text.replace("\\\\", ""):
        raise ValueError("an attribute holds a NUL character, which the store cannot keep")
    return text


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def _flags(col: pd.Series) -> np.ndarray:
    """Booleans from either backend: SQLite gives 0/1, PostgreSQL's CSV gives t/f."""
    if col.dtype == object or pd.api.types.is_string_dtype(col):
        return col.astype(str).str.lower().isin(["t", "true", "1"]).to_numpy()
    return col.to_numpy(dtype=bool)
