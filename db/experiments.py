"""Experiments repository: online experiments, their variants' runs, per-user totals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from db.bulk import bulk_insert, bulk_select
from db.schema import (
    ExperimentTable,
    ExperimentUserTable,
    ExperimentValueTable,
    ExperimentVariantTable,
)

_USERS = "SELECT user_id, variant, assigned_at FROM experiment_users WHERE experiment_id = :key"
_VALUES = "SELECT user_id, name, value FROM experiment_values WHERE experiment_id = :key"


@dataclass(frozen=True)
class Experiment:
    """An experiment as stored; ``runs`` maps every variant to its linked run id (or None)."""

    id: int
    name: str
    description: str
    spec: dict[str, Any]
    metrics: list[str]
    pre: dict[str, str]
    source: dict[str, Any]
    n_users: int
    n_rows: int
    created_at: datetime
    counts: dict[str, int]
    runs: dict[str, int | None]


class ExperimentRepository:
    """Reads and writes experiments inside the caller's session (never commits)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(self, row: dict[str, Any], counts: dict[str, int]) -> int:
        """Insert the experiment (``row``: ExperimentTable columns) and its variants."""
        table = ExperimentTable(**row)
        self.session.add(table)
        self.session.flush()
        self.session.add_all(
            ExperimentVariantTable(experiment_id=table.id, variant=v, n_users=n)
            for v, n in counts.items()
        )
        self.session.flush()
        return table.id

    def add_users(self, experiment_id: int, users: pd.DataFrame, values: list[str]) -> int:
        """Bulk-write per-user assignment and the ``values`` columns (long). Returns rows."""
        n = len(users)
        bulk_insert(
            self.session,
            "experiment_users",
            {
                "experiment_id": np.full(n, experiment_id),
                "user_id": users["user_id"].to_numpy(),
                "variant": users["variant"].to_numpy(),
                "assigned_at": users["assigned_at"].to_numpy(dtype=np.float64),
            },
        )
        long = users[["user_id", *values]].melt(id_vars="user_id", var_name="name")
        return n + bulk_insert(
            self.session,
            "experiment_values",
            {
                "experiment_id": np.full(len(long), experiment_id),
                "user_id": long["user_id"].to_numpy(),
                "name": long["name"].to_numpy(),
                "value": long["value"].to_numpy(dtype=np.float64),
            },
        )

    def _experiment(self, row: ExperimentTable) -> Experiment:
        variants = self.session.scalars(
            select(ExperimentVariantTable)
            .where(ExperimentVariantTable.experiment_id == row.id)
            .order_by(ExperimentVariantTable.variant)
        ).all()
        return Experiment(
            id=row.id,
            name=row.name,
            description=row.description,
            spec=dict(row.spec),
            metrics=list(row.metrics),
            pre=dict(row.pre),
            source=dict(row.source),
            n_users=row.n_users,
            n_rows=row.n_rows,
            created_at=row.created_at,
            counts={v.variant: v.n_users for v in variants},
            runs={v.variant: v.run_id for v in variants},
        )

    def all(self) -> list[Experiment]:
        rows = self.session.scalars(select(ExperimentTable).order_by(ExperimentTable.id)).all()
        return [self._experiment(r) for r in rows]

    def get(self, name: str) -> Experiment | None:
        row = self.session.scalars(
            select(ExperimentTable).where(ExperimentTable.name == name)
        ).one_or_none()
        return None if row is None else self._experiment(row)

    def link(self, experiment_id: int, variant: str, run_id: int | None) -> int:
        """Link (or with None unlink) a variant to a run; returns rows changed (0: no variant)."""
        result = self.session.execute(
            update(ExperimentVariantTable)
            .where(
                ExperimentVariantTable.experiment_id == experiment_id,
                ExperimentVariantTable.variant == variant,
            )
            .values(run_id=run_id)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def delete(self, experiment_id: int) -> None:
        for table in (ExperimentValueTable, ExperimentUserTable, ExperimentVariantTable):
            self.session.execute(delete(table).where(table.experiment_id == experiment_id))
        self.session.execute(delete(ExperimentTable).where(ExperimentTable.id == experiment_id))

    def users(self, experiment_id: int) -> pd.DataFrame:
        """One row per user: user_id, variant, assigned_at and one column per stored value."""
        users = bulk_select(
            self.session,
            _USERS,
            experiment_id,
            ["user_id", "variant", "assigned_at"],
            {"user_id": str, "variant": str, "assigned_at": float},
        )
        values = bulk_select(
            self.session,
            _VALUES,
            experiment_id,
            ["user_id", "name", "value"],
            {"user_id": str, "name": str, "value": float},
        )
        users = users.astype({"user_id": str, "variant": str, "assigned_at": float})
        values = values.astype({"user_id": str, "name": str, "value": float})
        wide = values.pivot(index="user_id", columns="name", values="value")
        wide.columns.name = None
        return users.merge(wide, left_on="user_id", right_index=True, how="left")
