"""Validate imported tables: every problem with file, line, column, value and a fix."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

import numpy as np
import pandas as pd

from recsys_core.columns import Columns
from recsys_core.data._validate_interactions import Checked, check_interactions, duplicate_pairs
from recsys_core.data._validate_report import Problem, ValidationReport, table_problem
from recsys_core.data._validate_tables import SideTable, check_side_table, coverage
from recsys_core.data.io import RawTable
from recsys_core.data.mapping import (
    ColumnMapping,
    ItemMapping,
    UserMapping,
    check_mapping,
    check_side_mapping,
    infer_item_mapping,
    infer_user_mapping,
)

__all__ = [
    "COMFORTABLE_INTERACTIONS",
    "COMFORTABLE_REPEAT_USERS",
    "MIN_INTERACTIONS",
    "MIN_ITEMS",
    "MIN_REPEAT_USERS",
    "Problem",
    "ValidatedData",
    "ValidationReport",
    "validate",
]

#: Below this many valid interactions nothing can be trained and tested: an error.
MIN_INTERACTIONS: Final = 10
#: Below this many, metrics are too noisy to compare models: a warning.
COMFORTABLE_INTERACTIONS: Final = 1_000
#: Users with two or more interactions: a per-user split keeps one to test and one to train,
#: so below this many no split is possible: an error.
MIN_REPEAT_USERS: Final = 2
#: Below this many such users, per-user metrics average over too few users: a warning.
COMFORTABLE_REPEAT_USERS: Final = 50
#: Ranking needs at least two distinct items: an error below.
MIN_ITEMS: Final = 2


@dataclass(frozen=True, eq=False)
class ValidatedData:
    """The valid rows in canonical columns, the attribute tables, and the report.

    Attributes:
        interactions: Columns.user/item (str), Columns.rating (explicit) or Columns.weight
            (implicit) as float64, Columns.timestamp (int64 Unix seconds) and Columns.event
            when mapped. Rows with errors are left out.
        items: attributes indexed by item id (str, named Columns.item), or None.
        users: attributes indexed by user id (str, named Columns.user), or None.
        feedback: "explicit" (ratings) or "implicit" (weights).
        report: every problem found; import only when ``report.ok``.
    """

    interactions: pd.DataFrame
    items: pd.DataFrame | None
    users: pd.DataFrame | None
    feedback: Literal["explicit", "implicit"]
    report: ValidationReport


def validate(
    interactions: RawTable,
    mapping: ColumnMapping,
    *,
    items: RawTable | None = None,
    item_mapping: ItemMapping | None = None,
    users: RawTable | None = None,
    user_mapping: UserMapping | None = None,
    now: datetime | None = None,
) -> ValidatedData:
    """Check the behaviour file and optional item/user tables; never drop a row silently.

    Args:
        interactions: the behaviour file.
        mapping: roles of its columns.
        items: item attributes; ``item_mapping`` is inferred when not given.
        users: user attributes; ``user_mapping`` is inferred when not given.
        now: timestamps after it are flagged as future (default: the current time, UTC).

    Raises:
        InputError: the mappings do not fit the files (unknown or reused columns).
    """
    check_mapping(mapping, interactions.frame.columns, interactions.source)
    feedback = mapping.resolved_feedback()
    moment = _utc(now)
    checked = check_interactions(interactions, mapping, feedback, moment)
    problems = list(checked.problems)
    user_codes, _ = pd.factorize(checked.frame[Columns.user])
    item_codes, _ = pd.factorize(checked.frame[Columns.item])
    dup = duplicate_pairs(interactions, mapping, checked, (user_codes, item_codes), feedback)
    problems += [dup] if dup else []
    problems += _readiness(interactions, user_codes, item_codes)
    item_table = _side(interactions, checked, items, item_mapping, "item", mapping.item)
    user_table = _side(interactions, checked, users, user_mapping, "user", mapping.user)
    for side in (item_table, user_table):
        problems += side.problems if side else []
    return ValidatedData(
        interactions=checked.frame,
        items=item_table.frame if item_table else None,
        users=user_table.frame if user_table else None,
        feedback=feedback,
        report=ValidationReport(tuple(problems)),
    )


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _side(
    raw: RawTable,
    checked: Checked,
    table: RawTable | None,
    mapping: ItemMapping | UserMapping | None,
    entity: Literal["item", "user"],
    column: str,
) -> SideTable | None:
    """Check one attribute table and how it covers the behaviour file's ids."""
    if table is None:
        return None
    if mapping is None:
        mapping = (infer_item_mapping if entity == "item" else infer_user_mapping)(table.frame)
    check_side_mapping(mapping, table.frame.columns, table.source)
    name = Columns.item if entity == "item" else Columns.user
    side = check_side_table(table, mapping, entity, name)
    used = checked.frame[name]
    side.problems += coverage(
        raw, table, side, used, checked.positions, (column, mapping.id), entity
    )
    return side


def _readiness(raw: RawTable, user_codes: np.ndarray, item_codes: np.ndarray) -> list[Problem]:
    """Enough data to train and split? Errors below the floors, warnings below comfort."""
    n = len(user_codes)
    repeat = int((np.bincount(user_codes) >= 2).sum()) if n else 0
    n_items = int(item_codes.max(initial=-1)) + 1
    src = raw.source
    found: list[Problem] = []
    if n < COMFORTABLE_INTERACTIONS:
        severity: Literal["error", "warning"] = "error" if n < MIN_INTERACTIONS else "warning"
        need = MIN_INTERACTIONS if severity == "error" else COMFORTABLE_INTERACTIONS
        message = f"{src}: only {n:,} valid interactions; " + (
            f"at least {need:,} are needed to train and test a model. Add data, or fix "
            "the rows with errors."
            if severity == "error"
            else f"below ~{need:,} model comparisons are noisy. More data gives firmer results."
        )
        found.append(table_problem("too_few_interactions", severity, raw, n, message))
    if repeat < COMFORTABLE_REPEAT_USERS:
        severity = "error" if repeat < MIN_REPEAT_USERS else "warning"
        message = (
            f"{src}: only {repeat:,} users have two or more interactions. A per-user split "
            "keeps one interaction to test and one to train, so "
            + (
                f"at least {MIN_REPEAT_USERS} such users are needed. Add data."
                if severity == "error"
                else f"below ~{COMFORTABLE_REPEAT_USERS} such users metrics are noisy."
            )
        )
        found.append(table_problem("too_few_repeat_users", severity, raw, repeat, message))
    if n_items < MIN_ITEMS:
        message = f"{src}: only {n_items} distinct item(s); ranking needs at least {MIN_ITEMS}."
        found.append(table_problem("too_few_items", "error", raw, n_items, message))
    return found
