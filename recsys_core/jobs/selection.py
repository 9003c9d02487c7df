"""Choosing runs and users on the Export page (and any page that picks them)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

from db.runs import Run
from recsys_core.columns import Columns
from recsys_core.errors import InputError
from recsys_core.evaluation import segment_users
from recsys_core.jobs.analysis import display_label
from recsys_core.jobs.context import run_spec
from recsys_core.jobs.leaderboard import higher_is_better
from recsys_core.jobs.preview import held_out_users
from recsys_core.jobs.summary import run_summary
from recsys_core.splitting import Split

#: The metric that ranks runs until the analyst picks another on Compare.
PRIMARY = "NDCG@10"


def activity_groups(parts: Split) -> dict[str, list[str]]:
    """Test users by training-activity bucket (0–4, 5–19, ... interactions), empty ones left out."""
    labels = segment_users(parts.train, "activity")
    labels = labels[labels.index.isin(held_out_users(parts))]
    groups = labels.groupby(labels, observed=True).groups
    return {str(k): sorted(map(str, v)) for k, v in groups.items() if len(v)}


def parse_user_ids(text: str) -> list[str]:
    """Ids pasted by an analyst: split on commas, semicolons, whitespace; duplicates dropped."""
    return list(dict.fromkeys(t for t in re.split(r"[,;\s]+", text or "") if t))


def unmatched_ids(table: pd.DataFrame, ids: Sequence[str]) -> list[str]:
    """Asked-for ids that have no rows in ``table`` (unknown users or not in any test set)."""
    have = set(table[Columns.user].astype(str))
    return [i for i in ids if i not in have]


def stored_top_n(runs: Sequence[Run]) -> int:
    """The longest list every one of ``runs`` stored, i.e. the largest K they can export."""
    if not runs:
        raise InputError("Pick at least one finished run.")
    return min(run_spec(r).n_recommendations for r in runs)


def best_first(runs: Sequence[Run], metric: str = PRIMARY) -> list[Run]:
    """Finished runs, best on ``metric`` first (runs without it last, newest first among them).

    Pickers default to the head of this list: an analyst opens Explain or Export to look at
    the best model, which is rarely the one trained last.
    """
    sign = 1.0 if higher_is_better(metric) else -1.0

    def key(run: Run) -> tuple[bool, float]:
        value = run_summary(run).metric(metric)
        return (value is None, -sign * value if value is not None else 0.0)

    return sorted((r for r in runs if r.status == "done"), key=key)


def run_options(runs: Sequence[Run], metric: str = PRIMARY) -> dict[str, Run]:
    """Finished runs by their display label, best on ``metric`` first, for pickers."""
    return {display_label(r): r for r in best_first(runs, metric)}
