"""Experiment logs: which column is which, validation with clear messages, per-user totals.

A log has one row per user or one row per event: a user id, the variant, optionally the
assignment time and the outcome's time, numeric outcome columns (exposures, clicks,
revenue, ...) and optionally a pre-period value per metric for CUPED (``pre_revenue`` or
``revenue_pre`` pairs with ``revenue``). Files are read by the Data page's reader
(:func:`recsys_core.data.io.read_table`); rows are summed per user, vectorised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from recsys_core.data._validate_cells import parse_ids, parse_numbers, parse_timestamps
from recsys_core.data.io import RawTable
from recsys_core.errors import InputError

__all__ = ["ExperimentLog", "ExperimentMapping", "infer_log_mapping", "validate_log"]

USER, VARIANT, ASSIGNED = "user_id", "variant", "assigned_at"
_NAMES: Final[dict[str, tuple[str, ...]]] = {
    "user": (
        "userid",
        "user",
        "uid",
        "visitorid",
        "visitor",
        "customerid",
        "customer",
        "clientid",
        "accountid",
        "memberid",
        "unitid",
        "unit",
    ),
    "variant": (
        "variant",
        "variation",
        "arm",
        "group",
        "bucket",
        "treatment",
        "cohort",
        "experimentgroup",
        "variantid",
        "variationid",
        "abgroup",
    ),
    "assigned_at": (
        "assignedat",
        "assignmenttime",
        "assigned",
        "assignmentts",
        "assignmentdate",
        "firstexposure",
        "exposedat",
        "enrolledat",
        "bucketedat",
    ),
    "event_time": (
        "eventtime",
        "timestamp",
        "time",
        "ts",
        "eventts",
        "date",
        "eventdate",
        "outcometime",
        "occurredat",
        "datetime",
    ),
}
_PRE = re.compile(r"^(pre[_\- ]?period[_\- ]|pre[_\- ])(?P<a>.+)$|^(?P<b>.+)[_\- ]pre(period)?$")
_SHOWN = 5
_SNIFF_ROWS = 2_000


class ExperimentMapping(BaseModel):
    """Roles of an experiment log's columns."""

    model_config = ConfigDict(extra="forbid")

    user: str = Field(description="Column holding the user (randomisation unit) id.")
    variant: str = Field(description="Column holding the variant the user was assigned to.")
    assigned_at: str | None = Field(default=None, description="Assignment time (optional).")
    event_time: str | None = Field(default=None, description="Time of the outcome row (optional).")
    metrics: list[str] = Field(default_factory=list, description="Numeric outcome columns.")
    pre: dict[str, str] = Field(
        default_factory=dict, description="Metric -> its pre-period column, for CUPED."
    )

    def columns(self) -> list[str]:
        roles = [self.user, self.variant, self.assigned_at, self.event_time, *self.metrics]
        return [c for c in [*roles, *self.pre.values()] if c]


@dataclass(frozen=True, eq=False)
class ExperimentLog:
    """A validated log, summed per user.

    Attributes:
        users: one row per user: ``user_id``, ``variant``, ``assigned_at`` (Unix seconds,
            NaN when unknown), one column per metric and one per pre-period column.
        metrics: outcome columns, in file order.
        pre: metric -> its pre-period column in ``users``.
        source: file name for messages.
        n_rows: rows read from the file.
        warnings: things the analyst should know that did not block the import.
    """

    users: pd.DataFrame
    metrics: tuple[str, ...]
    pre: dict[str, str]
    source: str
    n_rows: int
    warnings: tuple[str, ...] = ()

    @property
    def variants(self) -> list[str]:
        return sorted(self.users[VARIANT].unique().tolist())


def _norm(name: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _numeric(column: pd.Series) -> bool:
    sample = parse_numbers(column.iloc[:_SNIFF_ROWS])
    return bool((~sample.missing).any() and not sample.bad.any())


def infer_log_mapping(frame: pd.DataFrame) -> ExperimentMapping:
    """Guess the roles from column names; every other numeric column is an outcome metric.

    Raises:
        InputError: no user or no variant column could be recognised.
    """
    columns = [str(c) for c in frame.columns]
    found: dict[str, str | None] = {}
    for role, names in _NAMES.items():
        free = {_norm(c): c for c in columns if c not in found.values()}
        found[role] = next((free[n] for n in names if n in free), None)
    missing = [r for r in ("user", "variant") if not found[r]]
    if missing:
        raise InputError(
            f"Could not tell which column holds the {' and the '.join(missing)}; the columns "
            f"are {columns}. Pick them in the mapping (CLI: --map {missing[0]}=COLUMN)."
        )
    rest = [c for c in columns if c not in found.values() and _numeric(frame[c])]
    pre = {}
    for c in rest:
        match = _PRE.match(c)
        base = match and (match.group("a") or match.group("b"))
        if base and base in rest:
            pre[base] = c
    metrics = [c for c in rest if c not in pre.values()]
    return ExperimentMapping(
        user=str(found["user"]),
        variant=str(found["variant"]),
        assigned_at=found["assigned_at"],
        event_time=found["event_time"],
        metrics=metrics,
        pre=pre,
    )


def _lines(raw: RawTable, mask: np.ndarray) -> str:
    lines = raw.line(np.flatnonzero(mask)[:_SHOWN]).tolist()
    more = int(mask.sum()) - len(lines)
    return ", ".join(map(str, lines)) + (f" and {more:,} more" if more > 0 else "")


def _check_mapping(raw: RawTable, mapping: ExperimentMapping) -> None:
    known = [str(c) for c in raw.frame.columns]
    missing = [c for c in mapping.columns() if c not in known]
    if missing:
        raise InputError(f"{raw.source}: no column(s) {missing}; the columns are {known}.")
    seen = mapping.columns()
    doubled = sorted({c for c in seen if seen.count(c) > 1})
    if doubled:
        raise InputError(f"{raw.source}: column(s) {doubled} are mapped to two roles.")
    if not mapping.metrics:
        raise InputError(f"{raw.source}: no outcome column is mapped; pick at least one metric.")
    unknown = [m for m in mapping.pre if m not in mapping.metrics]
    if unknown:
        raise InputError(f"{raw.source}: pre-period columns given for non-metrics {unknown}.")


def _ids(raw: RawTable, column: str, role: str) -> pd.Series:
    ids = parse_ids(raw.frame[column])
    bad = ids.missing | ids.malformed
    if bad.any():
        raise InputError(
            f"{raw.source}: {int(bad.sum()):,} row(s) have no usable {role} in column "
            f"{column!r} (lines {_lines(raw, bad)})."
        )
    return ids.values.astype(str).reset_index(drop=True)


def _numbers(raw: RawTable, column: str, warnings: list[str]) -> np.ndarray:
    parsed = parse_numbers(raw.frame[column])
    if parsed.bad.any():
        hint = " (decimal commas? use a dot)" if parsed.decimal_comma.any() else ""
        raise InputError(
            f"{raw.source}: column {column!r} must hold numbers; {int(parsed.bad.sum()):,} "
            f"cell(s) do not{hint} (lines {_lines(raw, parsed.bad)})."
        )
    if parsed.missing.any():
        warnings.append(f"{int(parsed.missing.sum()):,} empty cell(s) in {column!r} count as 0.")
    return np.nan_to_num(parsed.values, nan=0.0)


def _times(raw: RawTable, column: str | None, role: str) -> np.ndarray:
    if column is None:
        return np.full(len(raw.frame), np.nan)
    parsed = parse_timestamps(raw.frame[column])
    bad = parsed.kind < 0
    if bad.any():
        raise InputError(
            f"{raw.source}: the {role} column {column!r} has {int(bad.sum()):,} cell(s) that "
            f"are not times (Unix seconds or ISO-8601; lines {_lines(raw, bad)})."
        )
    return np.where(parsed.kind == 0, np.nan, parsed.seconds.astype(np.float64))


def validate_log(raw: RawTable, mapping: ExperimentMapping) -> ExperimentLog:
    """Check the log and sum it per user; nothing is stored here.

    Raises:
        InputError: a named column is missing; ids, numbers or times do not parse; a user is
            in two variants; an outcome happened before the user's assignment; fewer than
            two variants.
    """
    _check_mapping(raw, mapping)
    warnings: list[str] = []
    rows = pd.DataFrame(
        {
            USER: _ids(raw, mapping.user, "user id"),
            VARIANT: _ids(raw, mapping.variant, "variant"),
            ASSIGNED: _times(raw, mapping.assigned_at, "assignment time"),
        }
    )
    values = [*mapping.metrics, *mapping.pre.values()]
    for column in values:
        rows[column] = _numbers(raw, column, warnings)
    _check_one_variant(rows, raw.source)
    _check_outcome_times(rows, raw, _times(raw, mapping.event_time, "outcome time"))
    totals = {ASSIGNED: "min", VARIANT: "first"} | dict.fromkeys(mapping.metrics, "sum")
    per_user = rows.groupby(USER, sort=False).agg(
        totals | dict.fromkeys(mapping.pre.values(), "first")
    )
    users = per_user.reset_index()[[USER, VARIANT, ASSIGNED, *values]]
    if users[VARIANT].nunique() < 2:
        raise InputError(
            f"{raw.source}: the log has only the variant(s) {sorted(users[VARIANT].unique())}; "
            "an experiment needs a control and at least one other variant."
        )
    return ExperimentLog(
        users, tuple(mapping.metrics), dict(mapping.pre), raw.source, len(rows), tuple(warnings)
    )


def _check_one_variant(rows: pd.DataFrame, source: str) -> None:
    counts = rows.groupby(USER, sort=False)[VARIANT].nunique()
    crossed = counts[counts > 1]
    if crossed.empty:
        return
    shown = rows[rows[USER].isin(crossed.index[:_SHOWN])].groupby(USER, sort=False)[VARIANT]
    examples = "; ".join(f"{u}: {', '.join(sorted(set(v)))}" for u, v in shown)
    raise InputError(
        f"{source}: {len(crossed):,} user(s) appear in more than one variant (e.g. {examples}). "
        "Each user must stay in one variant: fix the assignment or drop these users."
    )


def _check_outcome_times(rows: pd.DataFrame, raw: RawTable, event: np.ndarray) -> None:
    if np.isnan(event).all() or rows[ASSIGNED].isna().all():
        return
    assigned = rows.groupby(USER, sort=False)[ASSIGNED].transform("min").to_numpy()
    early = event < assigned  # NaN compares False: rows without a time are not flagged
    if early.any():
        raise InputError(
            f"{raw.source}: {int(early.sum()):,} outcome row(s) happened before their user's "
            f"assignment (lines {_lines(raw, early)}). Outcomes before assignment cannot be "
            "caused by the variant: drop them or check the time zones of both columns."
        )
