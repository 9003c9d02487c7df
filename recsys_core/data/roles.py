"""One role per column, as the analyst sees and edits them, and the mappings they make.

The import page and the CLI show every column of every file with a name and a role. A
proposal comes from a known layout (:mod:`recsys_core.data.layouts`) or from inference; the
analyst renames columns and changes roles; :func:`side_mapping` and :func:`behaviour_mapping`
turn the result into the pydantic mappings validation takes. Roles are kept by position, so
renaming a column never loses its role.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Final, Literal

from recsys_core.data._names import ROLES, norm
from recsys_core.data.io import RawTable, check_column_names, renamed
from recsys_core.data.layouts import Layout, recognise
from recsys_core.data.mapping import ColumnMapping, infer_mapping
from recsys_core.data.side_mapping import (
    TITLE,
    ItemMapping,
    UserMapping,
    flag_block,
    infer_item_mapping,
    infer_user_mapping,
)
from recsys_core.errors import InputError

Entity = Literal["item", "user"]
#: Roles of item metadata columns, as offered on the page and by ``--role``.
ITEM_ROLES: Final = (
    "id", "title", "text", "category", "multi", "number", "timestamp", "image", "flag", "ignore",
)  # fmt: skip
#: Roles of user attribute columns.
USER_ROLES: Final = ("id", "text", "category", "multi", "number", "timestamp", "flag", "ignore")
#: Roles of behaviour columns.
BEHAVIOUR_ROLES: Final = (*ROLES, "ignore")
#: What each role means, for the page's help and the CLI's messages.
ROLE_HELP: Final = {
    "id": "the item or user id",
    "title": "the name shown everywhere instead of the id",
    "text": "free text (plot, description)",
    "category": "one value from a few (brand, gender)",
    "multi": "several values in a cell (A|B|C)",
    "number": "a quantity (price, age)",
    "timestamp": "a date, kept as a year number",
    "image": "an image path or URL (not a text feature)",
    "flag": "a 0/1 column, folded with the other flags into one multi-valued attribute",
    "ignore": "not imported",
}
_KIND: Final = {
    "text": "text", "category": "categorical", "multi": "multi_valued", "number": "numeric",
    "timestamp": "timestamp",
}  # fmt: skip


@dataclass(frozen=True)
class Proposal:
    """Names and roles proposed for a file's columns (by position), and where they came from."""

    names: list[str]
    roles: list[str]
    fold: str
    layout: Layout | None


def propose_side(
    raw: RawTable,
    entity: Entity,
    *,
    names: Sequence[str] | None = None,
    flag_names: Sequence[str] | None = None,
) -> Proposal:
    """Names and roles for an attribute file: a known layout's, else inferred from values.

    Args:
        raw: the file as read.
        entity: "item" or "user".
        names: the analyst's names (one per column) instead of the file's or the layout's.
        flag_names: names for a block of 0/1 columns (u.genre's genre names).
    """
    layout = recognise(raw)
    layout = layout if layout is not None and layout.table == f"{entity}s" else None
    chosen = list(names) if names else list(layout.names or raw.frame.columns) if layout else []
    chosen = chosen or [str(c) for c in raw.frame.columns]
    table = renamed(raw, chosen)
    if layout is not None:
        roles = list(layout.roles)
    else:
        infer = infer_item_mapping if entity == "item" else infer_user_mapping
        roles = side_roles(infer(table.frame), chosen)
    if flag_names and not names:
        chosen = _named_flags(chosen, roles, list(flag_names), raw.source)
    return Proposal(chosen, roles, layout.fold if layout else "flags", layout)


def _named_flags(names: list[str], roles: list[str], given: list[str], source: str) -> list[str]:
    flags = [j for j, r in enumerate(roles) if r == "flag"]
    if len(flags) != len(given):
        raise InputError(
            f"{len(given)} flag names were given, but {source} has {len(flags)} 0/1 flag "
            "columns; give one name per flag column."
        )
    out = list(names)
    for j, name in zip(flags, given, strict=True):
        out[j] = name
    return out


def side_roles(mapping: ItemMapping | UserMapping, columns: Sequence[str]) -> list[str]:
    """The role of every column under ``mapping`` ("ignore" where it maps none)."""
    role = {mapping.id: "id"}
    kinds = {v: k for k, v in _KIND.items()}
    for kind, cols in mapping.attributes().items():
        role |= dict.fromkeys(cols, kinds[kind])
    role |= {c: "flag" for cols in mapping.flags.values() for c in cols}
    if isinstance(mapping, ItemMapping):
        role |= dict.fromkeys(mapping.image, "image")
        role |= {mapping.title: "title"} if mapping.title else {}
    return [role.get(str(c), "ignore") for c in columns]


def side_mapping(
    names: Sequence[str],
    roles: Sequence[str],
    entity: Entity,
    *,
    fold: str = "flags",
    separator: str = "|",
) -> ItemMapping | UserMapping:
    """The mapping made by one role per column.

    Raises:
        InputError: a role the entity does not take, no id or several, several titles.
    """
    allowed = ITEM_ROLES if entity == "item" else USER_ROLES
    by_role: dict[str, list[str]] = {r: [] for r in allowed}
    for name, role in zip(names, roles, strict=True):
        if role not in allowed:
            raise InputError(
                f"{role!r} is not a role of {entity} columns ({name!r}); the roles are "
                f"{', '.join(allowed)}."
            )
        by_role[role].append(str(name))
    ids, titles = by_role["id"], by_role.get("title", [])
    if len(ids) != 1:
        found = f"the columns {ids}" if ids else "no column"
        raise InputError(f"The {entity} table needs one id column; {found} has the role id.")
    if len(titles) > 1:
        raise InputError(f"Pick one title column; {titles} all have the role title.")
    kinds = {_KIND[r]: by_role[r] for r in _KIND}
    (fold,) = check_column_names([fold], f"the name of the folded {entity} flags")
    flags = {fold if fold != "column_1" else "flags": by_role["flag"]} if by_role["flag"] else {}
    if entity == "user":
        return UserMapping(id=ids[0], separator=separator, flags=flags, **kinds)
    title = titles[0] if titles else None
    image = by_role["image"]
    return ItemMapping(
        id=ids[0], title=title, image=image, separator=separator, flags=flags, **kinds
    )


def set_roles(
    names: Sequence[str], roles: Sequence[str], changes: Mapping[str, str], source: str
) -> list[str]:
    """``roles`` with ``--role COLUMN=ROLE`` changes applied (a new title demotes the old)."""
    out = list(roles)
    for column, role in changes.items():
        if column not in names:
            raise InputError(
                f"--role {column}={role}: {source} has no column {column!r}; its columns are "
                f"{list(names)}."
            )
        if role.strip() == "title":  # the old title stays text, unless named "title"
            out = [_demoted(n) if r == "title" else r for n, r in zip(names, out, strict=True)]
        out[list(names).index(column)] = role.strip()
    return out


def _demoted(name: str) -> str:
    return "ignore" if norm(name) == TITLE else "text"


# ---------------------------------------------------------------------------------- behaviour
def propose_behaviour(raw: RawTable, names: Sequence[str] | None = None) -> Proposal:
    """Names and roles for the behaviour file (roles "ignore" where inference finds none)."""
    layout = recognise(raw)
    layout = layout if layout is not None and layout.table == "behaviour" else None
    chosen = list(names) if names else [str(c) for c in raw.frame.columns]
    table = renamed(raw, chosen)
    try:
        mapping: ColumnMapping | None = infer_mapping(table.frame)
    except InputError:
        mapping = None
    roles = behaviour_roles(mapping, chosen)
    if layout is not None and "user" not in roles:
        roles = list(layout.roles)
    return Proposal(chosen, roles, "flags", layout)


def behaviour_roles(mapping: ColumnMapping | None, columns: Sequence[str]) -> list[str]:
    """The role of every behaviour column under ``mapping`` ("ignore" where none)."""
    by_column = {c: r for r, c in mapping.roles().items()} if mapping else {}
    return [by_column.get(str(c), "ignore") for c in columns]


def behaviour_mapping(
    names: Sequence[str],
    roles: Sequence[str],
    *,
    feedback: Literal["explicit", "implicit"] | None = None,
    event_weights: Mapping[str, float] | None = None,
) -> ColumnMapping:
    """The behaviour mapping made by one role per column.

    Raises:
        InputError: a role given twice, or no user or item column.
    """
    picked: dict[str, str] = {}
    for name, role in zip(names, roles, strict=True):
        if role not in BEHAVIOUR_ROLES:
            raise InputError(f"{role!r} is not a behaviour role; the roles are {BEHAVIOUR_ROLES}.")
        if role != "ignore" and role in picked:
            raise InputError(
                f"The columns {picked[role]!r} and {name!r} both have the role {role}; "
                "give each role one column."
            )
        picked[role] = str(name)
    missing = [r for r in ("user", "item") if r not in picked]
    if missing:
        raise InputError(
            f"Pick the column holding the {' and the '.join(missing)} id (role "
            f"{' / '.join(missing)}); the columns are {list(names)}."
        )
    return ColumnMapping.model_validate(
        {r: picked.get(r) for r in ROLES}
        | {"feedback": feedback, "event_weights": dict(event_weights or {})}
    )


def dataset_name(*tables: RawTable | None) -> str:
    """The default dataset name: the first recognised layout's ("ml-100k" for u.data), else
    the behaviour file's name without its extension."""
    for raw in tables:
        layout = recognise(raw) if raw is not None else None
        if layout is not None:
            return layout.dataset
    first = next((t for t in tables if t is not None), None)
    return PurePath(first.source).stem if first is not None else "dataset"


def source_of(*tables: RawTable | None) -> dict[str, str]:
    """What the store records of the behaviour, item and user files: their names, formats
    and recognised layouts (keys file/format, items_file/items_format, users_...)."""
    out: dict[str, str] = {}
    for prefix, raw in zip(("", "items_", "users_"), tables, strict=False):
        if raw is not None:
            layout = recognise(raw)
            out[f"{prefix}file"] = raw.source
            known = f" ({layout.label})" if layout else ""
            out[f"{prefix}format"] = raw.fmt.describe() + known
    return out


__all__ = [
    "BEHAVIOUR_ROLES",
    "ITEM_ROLES",
    "ROLE_HELP",
    "USER_ROLES",
    "Proposal",
    "behaviour_mapping",
    "behaviour_roles",
    "dataset_name",
    "flag_block",
    "propose_behaviour",
    "propose_side",
    "set_roles",
    "side_mapping",
    "side_roles",
    "source_of",
]
