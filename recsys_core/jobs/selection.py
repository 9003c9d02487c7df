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
from recsys_core.jobs.preview import held_out_users
from recsys_core.splitting import Split


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


def run_options(runs: Sequence[Run]) -> dict[str, Run]:
    """Finished runs by their display label, newest first, for multiselects."""
    return {display_label(r): r for r in runs if r.status == "done"}
