"""Roles of item and user attribute columns: pydantic mappings, and their inference from values.

An attribute table's columns each play one role: the id, the title (items: stored as the
``title`` attribute, which every page shows instead of the id), free text, a category, a
multi-valued list ("A|B"), a number, a date (stored as a year number), an image path or URL
(kept out of the features, which would read URLs as words), a 0/1 flag folded with its
neighbours into one multi-valued attribute, or nothing (an unmapped column is ignored).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from recsys_core.data._names import EXACT, find, norm, shown_names
from recsys_core.errors import InputError

#: The attribute every page reads item names from (see models.explanation.NAME_COLUMNS).
TITLE: Final = "title"
_NUMBER = r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?"
_CODE_NAME = re.compile(r"(code|id)$")
_POSTAL_NAME = re.compile(r"(zip|zipcode|postal|postalcode|postcode|plz)$")
_TITLE_NAMES: Final = ("title", "name", "itemname", "productname", "movietitle", "booktitle")
_URL = re.compile(r"(https?://|www\.)\S+", re.IGNORECASE)
_IMAGE = re.compile(r"\S+\.(jpe?g|png|gif|webp|bmp)(\?\S*)?", re.IGNORECASE)
_DATE = re.compile(r"\d{4}-\d\d-\d\d([ T][-0-9:.+Z]*)?|\d{1,2}[-/.](\d{1,2}|[A-Za-z]{3})[-/.]\d{4}")
_INFER_ROWS: Final = 10_000
#: A run of at least this many 0/1 columns is read as one multi-valued attribute.
MIN_FLAGS: Final = 3
_FLAG_VALUES: Final = frozenset({"0", "1"})


class ItemMapping(BaseModel):
    """Roles of the item metadata file's columns."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Column holding the item id (as in the behaviour file).")
    title: str | None = Field(
        None, description="Column with the item's name; stored as 'title' and shown everywhere."
    )
    text: list[str] = Field(default_factory=list, description="Free-text columns (plot).")
    categorical: list[str] = Field(
        default_factory=list, description="Columns with a few repeated values (brand, language)."
    )
    multi_valued: list[str] = Field(
        default_factory=list, description="Columns listing several values per cell (genres A|B)."
    )
    separator: str = Field("|", min_length=1, description="Separator of multi-valued cells.")
    numeric: list[str] = Field(default_factory=list, description="Number columns (price, year).")
    timestamp: list[str] = Field(
        default_factory=list, description="Date columns (release date), stored as a year number."
    )
    image: list[str] = Field(
        default_factory=list,
        description="Image path or URL columns: recorded, never read as text or numbers.",
    )
    flags: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Multi-valued attribute -> its 0/1 columns (u.item's 19 genre flags).",
    )

    def attributes(self) -> dict[str, list[str]]:
        """Attribute columns by kind (flags, images and the title are listed apart)."""
        return {
            "text": self.text,
            "categorical": self.categorical,
            "multi_valued": self.multi_valued,
            "numeric": self.numeric,
            "timestamp": self.timestamp,
        }


class UserMapping(BaseModel):
    """Roles of the user attribute file's columns."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Column holding the user id (as in the behaviour file).")
    categorical: list[str] = Field(
        default_factory=list, description="Columns with a few repeated values (country, plan)."
    )
    numeric: list[str] = Field(default_factory=list, description="Number columns (age, tenure).")
    text: list[str] = Field(default_factory=list, description="Free-text columns (bio).")
    multi_valued: list[str] = Field(
        default_factory=list, description="Columns listing several values per cell (A|B)."
    )
    separator: str = Field("|", min_length=1, description="Separator of multi-valued cells.")
    timestamp: list[str] = Field(
        default_factory=list, description="Date columns (sign-up date), stored as a year number."
    )
    flags: dict[str, list[str]] = Field(
        default_factory=dict, description="Multi-valued attribute -> its 0/1 columns."
    )

    def attributes(self) -> dict[str, list[str]]:
        """Attribute columns by kind."""
        return {
            "text": self.text,
            "categorical": self.categorical,
            "multi_valued": self.multi_valued,
            "numeric": self.numeric,
            "timestamp": self.timestamp,
        }


# ---------------------------------------------------------------------------------- inference
def infer_item_mapping(frame: pd.DataFrame, separator: str = "|") -> ItemMapping:
    """Guess an item table's id and title columns and the kind of every other column.

    Cells holding ``separator`` make a multi-valued column (MovieLens genres "A|B"); a run of
    0/1 columns folds into one multi-valued ``flags`` attribute; number columns are numeric,
    except postal codes (ignored: a zip code is no quantity); URLs are images when they end
    like an image file, else ignored; long or mostly unique wordy values are text (the first
    such column, or one named like a title, is the title); few distinct values are
    categorical. Only the first 10,000 rows are looked at.
    """
    id_col = _id_column(frame, "item")
    sample = frame.head(_INFER_ROWS)
    flag_cols = flag_block(sample, exclude=id_col)
    kinds = _classify_columns(sample, [id_col, *flag_cols], separator)
    title = _title_column(sample, kinds["text"] + kinds["categorical"])
    for kind in ("text", "categorical"):
        kinds[kind] = [c for c in kinds[kind] if c != title]
    kinds.pop("ignore")
    flags = {"flags": flag_cols} if flag_cols else {}
    return ItemMapping(id=id_col, title=title, separator=separator, flags=flags, **kinds)


def infer_user_mapping(frame: pd.DataFrame) -> UserMapping:
    """Guess a user table's id column and the kind of every other column from its values."""
    id_col = _id_column(frame, "user")
    sample = frame.head(_INFER_ROWS)
    flag_cols = flag_block(sample, exclude=id_col)
    kinds = _classify_columns(sample, [id_col, *flag_cols], None)
    return UserMapping(
        id=id_col,
        separator="|",
        text=kinds["text"],
        categorical=kinds["categorical"],
        numeric=kinds["numeric"],
        timestamp=kinds["timestamp"],
        flags={"flags": flag_cols} if flag_cols else {},
    )


def _id_column(frame: pd.DataFrame, role: str) -> str:
    columns = [str(c) for c in frame.columns]
    if not columns:
        raise InputError(f"The {role} table has no columns; upload a file with a header row.")
    names = {norm(c): c for c in reversed(columns)}
    found = next((names[n] for n in ("id", *EXACT[role]) if n in names), None)
    return found or find(columns, role, set()) or columns[0]


def _title_column(frame: pd.DataFrame, candidates: list[str]) -> str | None:
    """A column named like a title, else the first text column that is mostly unique."""
    by_name = {norm(c): c for c in reversed(candidates)}
    named = next((by_name[n] for n in _TITLE_NAMES if n in by_name), None)
    if named is not None:
        return named
    for col in candidates:
        values = frame[col].dropna().astype(str).str.strip()
        values = values[values != ""]
        if len(values) and values.nunique() / len(values) > 0.9 and not _is_url(values):
            return col
    return None


def flag_block(frame: pd.DataFrame, exclude: str | None = None) -> list[str]:
    """The longest run of neighbouring 0/1 columns (at least MIN_FLAGS), or [].

    Such a block is one attribute spread over columns (u.item's 19 genre flags): read as 19
    numbers it would weigh 19 times as much as any other attribute.
    """
    best: list[str] = []
    run: list[str] = []
    for col in [*frame.columns, None]:  # a loop over columns, not rows
        if col is not None and str(col) != exclude and _is_flag(frame[col]):
            run.append(str(col))
            continue
        best = run if len(run) > len(best) else best
        run = []
    return best if len(best) >= MIN_FLAGS else []


def _is_flag(column: pd.Series) -> bool:
    values = column.dropna().astype(str).str.strip()
    return bool(len(values)) and bool(values.isin(_FLAG_VALUES).all())


def _is_url(values: pd.Series) -> bool:
    return bool(values.str.fullmatch(_URL).mean() >= 0.8)


def _classify_columns(
    sample: pd.DataFrame, skip: list[str], separator: str | None
) -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {
        "text": [], "categorical": [], "multi_valued": [], "numeric": [], "timestamp": [],
        "image": [], "ignore": [],
    }  # fmt: skip
    for col in sample.columns:
        if str(col) not in skip:
            kind = classify(sample[col], str(col), separator)
            if kind:
                kinds[kind].append(str(col))
    return kinds


def classify(column: pd.Series, name: str, separator: str | None) -> str | None:
    """The kind of one attribute column from its values and name (None: all empty)."""
    values = column.dropna().astype(str).str.strip()
    values = values[values != ""]
    if values.empty:
        return None
    if _POSTAL_NAME.search(norm(name)):
        return "ignore"
    if _is_url(values) or values.str.fullmatch(_IMAGE).mean() >= 0.8:
        return "image" if values.str.fullmatch(_IMAGE).mean() >= 0.8 else "ignore"
    if values.str.fullmatch(_NUMBER).mean() >= 0.95:
        return "categorical" if _CODE_NAME.search(norm(name)) else "numeric"
    if values.str.fullmatch(_DATE).mean() >= 0.95:
        return "timestamp"
    if separator and values.str.contains(separator, regex=False).mean() >= 0.05:
        return "multi_valued"
    unique_share = values.nunique() / len(values)
    wordy = values.str.count(" ").mean() >= 1
    if values.str.len().mean() >= 25 or (unique_share > 0.5 and wordy):
        return "text"
    if unique_share <= 0.5 or values.nunique() <= 50:
        return "categorical"
    return "text"


# ---------------------------------------------------------------------------------- checks
def side_columns(mapping: ItemMapping | UserMapping) -> list[tuple[str, str]]:
    """(role, column) of every mapped column, the id first."""
    named = [("id", mapping.id)]
    if isinstance(mapping, ItemMapping):
        named += [("title", mapping.title)] if mapping.title else []
        named += [("image", c) for c in mapping.image]
    named += [(k, c) for k, cols in mapping.attributes().items() for c in cols]
    named += [(f"flag of {group}", c) for group, cols in mapping.flags.items() for c in cols]
    return named


def check_side_mapping(
    mapping: ItemMapping | UserMapping, columns: Iterable[str], source: str
) -> None:
    """Refuse item/user mappings naming missing columns, giving a column two roles, or an
    attribute name that would hide the title."""
    known = [str(c) for c in columns]
    named = side_columns(mapping)
    for kind, column in named:
        if column not in known:
            raise InputError(
                f"{source}: the {kind} column {column!r} is not in the file; "
                f"the columns are {shown_names(known)}."
            )
    seen: dict[str, str] = {}
    for kind, column in named:
        if column in seen:
            raise InputError(
                f"{source}: the column {column!r} is mapped as both {seen[column]} and {kind}; "
                "choose one."
            )
        seen[column] = kind
    stored = [c for k, c in named if k not in ("id", "title", "image") and not k.startswith("flag")]
    stored += list(mapping.flags)
    clash = next((c for c in stored if norm(c) == TITLE), None)
    if clash is not None and getattr(mapping, "title", None):
        raise InputError(
            f"{source}: the column {clash!r} is not the title but would be stored as one "
            "(the title column is stored as 'title'); rename it, or pick it as the title."
        )
    if len(set(stored)) < len(stored):
        raise InputError(
            f"{source}: the folded flag attributes {sorted(mapping.flags)} need names that no "
            "other stored column has; rename them."
        )
