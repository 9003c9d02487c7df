"""Cleaning recipes: small JSON-serialisable steps that filter an Interactions dataset."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.progress import Progress, report

_DAY = 86_400


class _Recipe(BaseModel):
    """Shared behaviour: frozen, strict parameters and a readable label."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def label(self) -> str:
        """Short phrase naming the step and its parameters, for logs and the Data page."""
        raise NotImplementedError

    def transform(self, inter: Interactions) -> Interactions:
        """The cleaned interactions, without the empty-result check (use :func:`apply_recipe`)."""
        raise NotImplementedError

    def empty_hint(self, inter: Interactions) -> str:
        """What to change when the step would remove every interaction."""
        return "Loosen its parameters."


class Dedup(_Recipe):
    """Keep one row per repeated (user, item) pair.

    "first"/"last" pick by timestamp when there are timestamps (ties and timestamp-less data
    by input order). "sum" adds the values into the latest row (for implicit weights such as
    play counts). "max" keeps the row with the largest value (ties: the latest).
    """

    kind: Literal["dedup"] = Field(default="dedup", description="Recipe type tag.")
    keep: Literal["first", "last", "sum", "max"] = Field(
        default="last",
        description="Which row of a repeated (user, item) pair to keep, or how to merge.",
    )

    def label(self) -> str:
        return f"dedup (keep {self.keep})"

    def transform(self, inter: Interactions) -> Interactions:
        if self.keep == "sum" and inter.feedback == "explicit":
            raise InputError(
                "Dedup with keep='sum' would add ratings together (two 4-star ratings become 8);"
                " use keep='last' or 'max' for explicit ratings."
            )
        n = inter.n_interactions
        pos = np.arange(n)
        time = inter.timestamps if inter.timestamps is not None else pos
        keys: tuple[np.ndarray, ...] = (pos, time, inter.items, inter.users)
        if self.keep == "max":  # value becomes the key just below the pair
            keys = (pos, time, inter.values, inter.items, inter.users)
        order = np.lexsort(keys)
        u, i = inter.users[order], inter.items[order]
        starts = np.flatnonzero(np.r_[True, (u[1:] != u[:-1]) | (i[1:] != i[:-1])])
        ends = np.r_[starts[1:], n] - 1
        rows = order[starts] if self.keep == "first" else order[ends]
        kept = np.sort(rows)
        out = inter.subset(kept)
        if self.keep != "sum":
            return out
        values = np.empty(n, dtype=np.float32)
        values[rows] = np.add.reduceat(inter.values[order].astype(np.float64), starts)
        return dataclasses.replace(out, values=values[kept])


class RatingThreshold(_Recipe):
    """Turn explicit ratings into implicit positives: keep ratings >= min_rating, value 1."""

    kind: Literal["threshold"] = Field(default="threshold", description="Recipe type tag.")
    min_rating: float = Field(
        description="Smallest rating that counts as a positive (e.g. 4 on a 1-5 scale).",
        allow_inf_nan=False,
    )

    def label(self) -> str:
        return f"rating threshold (≥ {self.min_rating:g})"

    def transform(self, inter: Interactions) -> Interactions:
        if inter.feedback != "explicit":
            raise InputError(
                "The rating threshold needs explicit ratings, but this dataset holds implicit"
                " feedback (weights); drop the step or import the rating column as ratings."
            )
        out = inter.subset(inter.values >= self.min_rating)
        ones = np.ones(out.n_interactions, dtype=np.float32)
        return dataclasses.replace(out, values=ones, feedback="implicit")

    def empty_hint(self, inter: Interactions) -> str:
        return f"The highest rating in the data is {float(inter.values.max()):g}."


class KCore(_Recipe):
    """Repeatedly drop users and items with too few interactions until none is left.

    Counts are interactions (rows); run Dedup first to count distinct items per user.
    Removing an item can push a user below ``min_user`` and the other way round, so the
    filter repeats until nothing changes.
    """

    kind: Literal["kcore"] = Field(default="kcore", description="Recipe type tag.")
    min_user: int = Field(default=5, ge=1, description="Fewest interactions a kept user must have.")
    min_item: int = Field(default=5, ge=1, description="Fewest interactions a kept item must have.")

    def label(self) -> str:
        return f"k-core ({self.min_user}, {self.min_item})"

    def transform(self, inter: Interactions) -> Interactions:
        rows = np.arange(inter.n_interactions)
        while True:
            u, i = inter.users[rows], inter.items[rows]
            user_count = np.bincount(u, minlength=inter.n_users)
            item_count = np.bincount(i, minlength=inter.n_items)
            ok = (user_count[u] >= self.min_user) & (item_count[i] >= self.min_item)
            if ok.all():
                return inter.subset(rows)
            rows = rows[ok]

    def empty_hint(self, inter: Interactions) -> str:
        return "Lower min_user / min_item: no group of users and items is that dense."


class OutlierUsers(_Recipe):
    """Drop users far more active than the rest (bots, shared accounts, crawlers)."""

    kind: Literal["outlier_users"] = Field(default="outlier_users", description="Recipe type tag.")
    quantile: float = Field(
        default=0.99,
        gt=0.0,
        le=1.0,
        description="Users whose interaction count is above this quantile of user activity"
        " (over users with at least one interaction) are dropped; 1 keeps everyone.",
    )

    def label(self) -> str:
        return f"outlier users (activity above quantile {self.quantile:g})"

    def transform(self, inter: Interactions) -> Interactions:
        counts = np.bincount(inter.users, minlength=inter.n_users)
        limit = np.quantile(counts[counts > 0], self.quantile)
        return inter.subset(counts[inter.users] <= limit)


def _unix(moment: datetime) -> float:
    """Unix seconds; naive datetimes are read as UTC, like the stored timestamps."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class TimeWindow(_Recipe):
    """Keep interactions inside a time window, or the last N days of the data."""

    kind: Literal["time_window"] = Field(default="time_window", description="Recipe type tag.")
    start: datetime | None = Field(
        default=None, description="First moment kept (inclusive); times without a zone are UTC."
    )
    end: datetime | None = Field(
        default=None,
        description="Moment the window ends (exclusive); times without a zone are UTC.",
    )
    last_days: int | None = Field(
        default=None, ge=1, description="Keep only the last N days before the latest interaction."
    )

    @model_validator(mode="after")
    def _one_window(self) -> TimeWindow:
        window = self.start is not None or self.end is not None
        if window and self.last_days is not None:
            raise ValueError("give either start/end or last_days, not both")
        if not window and self.last_days is None:
            raise ValueError("give a start and/or end date, or last_days")
        if self.start and self.end and _unix(self.start) >= _unix(self.end):
            raise ValueError(f"start ({self.start}) must be before end ({self.end})")
        return self

    def label(self) -> str:
        if self.last_days is not None:
            return f"time window (last {self.last_days} days)"
        start = self.start.date().isoformat() if self.start else "…"
        end = self.end.date().isoformat() if self.end else "…"
        return f"time window ({start} → {end})"

    def transform(self, inter: Interactions) -> Interactions:
        ts = inter.timestamps
        if ts is None:
            raise InputError(
                "The time window needs timestamps, but this dataset has none; map a timestamp"
                " column when importing or drop the step."
            )
        if self.last_days is not None:
            return inter.subset(ts > int(ts.max()) - self.last_days * _DAY)
        keep = np.ones(len(ts), dtype=bool)
        if self.start is not None:
            keep &= ts >= _unix(self.start)
        if self.end is not None:
            keep &= ts < _unix(self.end)
        return inter.subset(keep)

    def empty_hint(self, inter: Interactions) -> str:
        assert inter.timestamps is not None  # transform has checked
        first, last = (
            pd.Timestamp(int(t), unit="s") for t in (inter.timestamps.min(), inter.timestamps.max())
        )
        return f"The data runs from {first.date()} to {last.date()}."


class DropEvents(_Recipe):
    """Drop interactions of some event types (e.g. keep purchases, drop page views)."""

    kind: Literal["drop_events"] = Field(default="drop_events", description="Recipe type tag.")
    events: list[str] = Field(min_length=1, description="Event types to remove.")

    def label(self) -> str:
        return f"drop events ({', '.join(self.events)})"

    def transform(self, inter: Interactions) -> Interactions:
        if inter.events is None:
            raise InputError(
                "Dropping events needs an event type column, but this dataset has none; map"
                " one when importing or drop the step."
            )
        present = pd.Series(pd.unique(inter.events)).astype(str)
        unknown = sorted(set(self.events) - set(present))
        if unknown:
            raise InputError(
                f"Event types {unknown} do not occur in the data (check spelling);"
                f" the data has {sorted(present)}."
            )
        return inter.subset(~pd.Series(inter.events).astype(str).isin(self.events).to_numpy())

    def empty_hint(self, inter: Interactions) -> str:
        return "Those are the only event types in the data; keep at least one."


Recipe = Annotated[
    Dedup | RatingThreshold | KCore | OutlierUsers | TimeWindow | DropEvents,
    Field(discriminator="kind"),
]
_RECIPE = TypeAdapter(Recipe)


class CleaningPlan(BaseModel):
    """An ordered list of recipes; its JSON is stored with each dataset version."""

    model_config = ConfigDict(extra="forbid")

    steps: list[Recipe] = Field(default_factory=list, description="Recipes applied in order.")

    def to_json(self) -> str:
        """Compact JSON that :meth:`from_json` reads back to an equal plan."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> CleaningPlan:
        """Parse a stored plan; raises pydantic's ValidationError on a malformed one."""
        return cls.model_validate_json(text)


@dataclass(frozen=True)
class Counts:
    """Size of a dataset counting ACTIVE users and items (with at least one interaction)."""

    n_users: int
    n_items: int
    n_interactions: int
    density: float

    @classmethod
    def of(cls, inter: Interactions) -> Counts:
        """Count active users/items; density is interactions / (active users x active items)."""
        n_users = int(np.count_nonzero(np.bincount(inter.users, minlength=inter.n_users)))
        n_items = int(np.count_nonzero(np.bincount(inter.items, minlength=inter.n_items)))
        cells = n_users * n_items
        return cls(
            n_users, n_items, inter.n_interactions, inter.n_interactions / cells if cells else 0.0
        )


@dataclass(frozen=True)
class StepStats:
    """What one step did: its recipe (as JSON dict) and the counts before and after."""

    recipe: dict[str, Any]
    before: Counts
    after: Counts

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form, kept with the dataset version the step produced."""
        return {"recipe": self.recipe, "before": asdict(self.before), "after": asdict(self.after)}

    def describe(self) -> str:
        """One line, e.g. "k-core (5, 5): 100,836 → 98,000 interactions, 610 → 600 users, …"."""
        label = _RECIPE.validate_python(self.recipe).label()
        parts = [
            f"{getattr(self.before, f):,} → {getattr(self.after, f):,} {name}"
            for f, name in (
                ("n_interactions", "interactions"),
                ("n_users", "users"),
                ("n_items", "items"),
            )
        ]
        return f"{label}: {', '.join(parts)}"


def apply_recipe(inter: Interactions, recipe: Recipe) -> tuple[Interactions, StepStats]:
    """Apply one recipe; the id spaces stay the same (nothing is re-indexed).

    Raises:
        InputError: the data lacks what the recipe needs, or the recipe would remove every
            interaction (an empty dataset is never what the analyst meant).
    """
    if inter.n_interactions == 0:
        raise InputError("There are no interactions to clean.")
    out = recipe.transform(inter)
    if out.n_interactions == 0:
        raise InputError(
            f"{recipe.label()} would remove every interaction ({inter.n_interactions:,} → 0)."
            f" {recipe.empty_hint(inter)}"
        )
    stats = StepStats(recipe.model_dump(mode="json"), Counts.of(inter), Counts.of(out))
    return out, stats


def apply_plan(
    inter: Interactions, plan: CleaningPlan, progress: Progress | None = None
) -> tuple[Interactions, list[StepStats]]:
    """Apply the plan's steps in order, reporting one progress unit per step."""
    stats: list[StepStats] = []
    total = len(plan.steps)
    for done, recipe in enumerate(plan.steps):
        report(progress, done, total, recipe.label())
        inter, step = apply_recipe(inter, recipe)
        stats.append(step)
    report(progress, total, total, "cleaning done")
    return inter, stats
