"""Which file column plays which role: pydantic mappings, and their inference from the data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from recsys_core.columns import Columns
from recsys_core.data._names import ROLES, find, norm, shown_names
from recsys_core.data.side_mapping import (
    ItemMapping,
    UserMapping,
    check_side_mapping,
    infer_item_mapping,
    infer_user_mapping,
)
from recsys_core.errors import InputError

__all__ = [
    "ROLES",
    "ColumnMapping",
    "ItemMapping",
    "UserMapping",
    "apply_overrides",
    "check_mapping",
    "check_side_mapping",
    "infer_item_mapping",
    "infer_mapping",
    "infer_user_mapping",
    "parse_event_weights",
    "shown_names",
]

# Strength columns of implicit feedback: mapped to the rating role with feedback "implicit".
_IMPLICIT_STRENGTH: Final = ("playcount", "plays", "count", "clicks", "quantity", "qty", "weight")
#: Largest event weight: weights times ratings must stay finite as 32-bit floats.
_MAX_WEIGHT: Final = 1e6


class ColumnMapping(BaseModel):
    """Roles of the behaviour file's columns; checked against the file by :func:`check_mapping`."""

    model_config = ConfigDict(extra="forbid")

    user: str = Field(description="Column holding the user id.")
    item: str = Field(description="Column holding the item id.")
    rating: str | None = Field(
        None, description="Column with the rating (explicit) or the strength, e.g. play count."
    )
    timestamp: str | None = Field(
        None, description="Column with the time: Unix seconds or milliseconds, or ISO-8601."
    )
    event: str | None = Field(None, description="Column with the event type (view, cart, buy).")
    split: str | None = Field(
        None,
        description="Column marking each row train or test (train/test, 0/1, true/false), for "
        "the analyst's own predefined split.",
    )
    event_weights: dict[str, float] = Field(
        default_factory=dict,
        description="Weight per event type for implicit feedback; unlisted types weigh 1.0.",
    )
    feedback: Literal["explicit", "implicit"] | None = Field(
        None, description="Feedback kind; None infers explicit when a rating column is mapped."
    )
    rating_range: tuple[float, float] | None = Field(
        default=None, description="Lowest and highest valid rating; values outside are errors."
    )

    @field_validator("rating_range")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and value[0] > value[1]:
            raise ValueError(f"rating_range {value} has its lowest value above its highest")
        return value

    def roles(self) -> dict[str, str]:
        """Mapped roles and their columns, e.g. {"user": "userId", "item": "movieId"}."""
        return {r: c for r in ROLES if (c := getattr(self, r))}

    def resolved_feedback(self) -> Literal["explicit", "implicit"]:
        """The feedback kind, inferred as explicit exactly when a rating column is mapped."""
        if self.feedback is not None:
            return self.feedback
        return "explicit" if self.rating else "implicit"


# ---------------------------------------------------------------------------------- inference
def infer_mapping(frame: pd.DataFrame, overrides: Mapping[str, str] | None = None) -> ColumnMapping:
    """Guess the roles of a behaviour file's columns from their names.

    A strength column named like a count (plays, clicks, quantity) becomes the rating role
    with implicit feedback, since such numbers are not ratings.

    Args:
        frame: the behaviour file's cells.
        overrides: ``--map ROLE=COLUMN`` pairs (see :func:`apply_overrides`). They are
            applied before the check for user and item columns, so they can name columns
            whose names mean nothing to inference; their columns are not guessed for others.

    Raises:
        InputError: no user or no item column could be recognised (nor was given).
    """
    columns = [str(c) for c in frame.columns]
    given = {_role_key(r): c.strip() for r, c in (overrides or {}).items()}
    found = _guess_roles(columns, taken={c for c in given.values() if c})
    feedback = found.pop("feedback")
    missing = [role for role in ("user", "item") if not (given.get(role) or found[role])]
    if missing:
        flags = " ".join(f"--map {r}=COLUMN" for r in missing)
        raise InputError(
            f"Could not tell which column holds the {' and the '.join(missing)} id; the file's "
            f"columns are {shown_names(columns)}. Pick the columns on the import page, or pass "
            f"{flags} on the command line."
        )
    guessed = ColumnMapping.model_construct(
        user=found["user"],
        item=found["item"],
        rating=found["rating"],
        timestamp=found["timestamp"],
        event=found["event"],
        split=found["split"],
        event_weights={},
        feedback=feedback,
        rating_range=None,
    )
    rating_given = "rating" in given
    mapping = apply_overrides(guessed, overrides or {}, columns=columns)
    if rating_given and feedback == "implicit":  # the guessed count column was replaced
        mapping = mapping.model_copy(update={"feedback": None})
    return mapping


def _guess_roles(columns: list[str], taken: set[str]) -> dict[str, str | None]:
    """Columns for every role by name (None where nothing fits), and "feedback"."""
    taken = set(taken)
    found: dict[str, str | None] = {}
    for role in ROLES:
        found[role] = find(columns, role, taken)
        if found[role]:
            taken.add(str(found[role]))
    found["feedback"] = None
    if found["rating"] is None:
        strength = next(
            (c for c in columns if c not in taken and norm(c) in _IMPLICIT_STRENGTH), None
        )
        found["rating"], found["feedback"] = strength, "implicit" if strength else None
    return found


# ---------------------------------------------------------------------------------- overrides
def apply_overrides(
    mapping: ColumnMapping, overrides: Mapping[str, str], *, columns: Iterable[str] | None = None
) -> ColumnMapping:
    """Apply ``--map ROLE=COLUMN`` pairs; an empty COLUMN unmaps an optional role.

    A column taken from another optional role leaves that role unmapped, as the analyst meant.

    Args:
        mapping: the inferred mapping.
        overrides: role -> column name.
        columns: the file's columns; when given, unknown columns are refused here already.

    Raises:
        InputError: unknown role or column, listing the valid ones.
    """
    known = None if columns is None else [str(c) for c in columns]
    update: dict[str, str | None] = {}
    for role, column in overrides.items():
        key = _role_key(role)
        value = column.strip() or None
        if value is None and key in ("user", "item"):
            raise InputError(f"--map {role}= needs a column: the {key} id cannot be unmapped.")
        if value is not None and known is not None and value not in known:
            raise InputError(
                f"--map {role}={column}: there is no column {value!r}; the columns are "
                f"{shown_names(known)}."
            )
        update[key] = value
    data = mapping.model_dump()
    for role in ROLES:
        if role not in update and data[role] in update.values() and role not in ("user", "item"):
            data[role] = None
    data.update(update)
    try:
        return ColumnMapping.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"The column mapping is not valid: {exc}") from exc


def _role_key(role: str) -> str:
    key = role.strip().lower()
    aliases = {getattr(Columns, r): r for r in ROLES}
    key = aliases.get(key, key)
    if key not in ROLES:
        raise InputError(f"Unknown role {role!r} in --map; the roles are {', '.join(ROLES)}.")
    return key


def check_mapping(mapping: ColumnMapping, columns: Iterable[str], source: str) -> None:
    """Refuse mappings that name missing columns, reuse a column, or lack a needed role."""
    known = [str(c) for c in columns]
    for role in ("user", "item"):
        if not getattr(mapping, role):
            raise InputError(
                f"{source}: no {role} column is mapped; pick the column holding the {role} id "
                f"(columns: {shown_names(known)})."
            )
    roles = mapping.roles()
    for role, column in roles.items():
        if column not in known:
            raise InputError(
                f"{source}: the {role} column {column!r} is not in the file; "
                f"the columns are {shown_names(known)}."
            )
    seen: dict[str, str] = {}
    for role, column in roles.items():
        if column in seen:
            raise InputError(
                f"{source}: the column {column!r} is mapped as both {seen[column]} and {role}; "
                "give each role its own column."
            )
        seen[column] = role
    if mapping.feedback == "explicit" and not mapping.rating:
        raise InputError(
            f"{source}: explicit feedback needs a rating column; map one "
            "(--map rating=COLUMN) or choose implicit feedback."
        )


def parse_event_weights(text: str) -> dict[str, float]:
    """``"view=1, cart=3, buy=5"`` -> ``{"view": 1.0, ...}``, the form both the page and the
    CLI accept; a malformed pair or a non-numeric or negative weight is an InputError."""
    weights: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = float("nan")
        if not sep or not name.strip() or not 0 <= weight <= _MAX_WEIGHT:
            raise InputError(
                f"Event weights take TYPE=WEIGHT pairs with a number from 0 to {_MAX_WEIGHT:g}, "
                f"e.g. 'view=1, buy=5'; "
                f"got {part!r}."
            )
        weights[name.strip()] = weight
    return weights
