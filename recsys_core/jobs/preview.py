"""Preview's read side: one user's history, held-out items and the runs' stored lists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from db import Store
from db.runs import RunRepository
from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.models.explanation import NAME_COLUMNS
from recsys_core.splitting import Split

HIT = "✓"


def run_recommendations(
    store: Store, run_id: int, users: Sequence[str] | None = None
) -> pd.DataFrame:
    """The stored top-N of a run (user_id, item_id, score, rank, reason), by user then rank.

    ``users`` reads only those users' rows: a page showing one user should not load (and cache)
    every user's list, which is millions of rows at 100k users.
    """
    with store.session() as s:
        return RunRepository(s).recommendations(run_id, users)


def held_out_users(parts: Split) -> list[str]:
    """Users with held-out interactions, numeric ids in numeric order."""
    ids = pd.Series(np.unique(parts.test.user_ids[parts.test.users]).astype(str))
    key = pd.to_numeric(ids, errors="coerce")
    order = np.lexsort((ids.to_numpy(), key.fillna(np.inf).to_numpy()))
    return ids.iloc[order].tolist()


def find_users(users: Sequence[str], query: str, limit: int = 1000) -> list[str]:
    """Users whose id contains ``query`` (case-insensitive); an exact match comes first."""
    q = query.strip().lower()
    if not q:
        return list(users[:limit])
    found = [u for u in users if q in u.lower()]
    found.sort(key=lambda u: u.lower() != q)
    return found[:limit]


@dataclass(frozen=True)
class UserView:
    """One user's side of a split, with item metadata for display.

    Attributes:
        user: the external user id.
        history: training interactions, latest first when there are timestamps.
        held_out: the test interactions (what a good model would recommend).
        relevant: the held-out item ids, which count as hits.
    """

    user: str
    history: pd.DataFrame
    held_out: pd.DataFrame
    relevant: frozenset[str]


def user_view(parts: Split, user: str) -> UserView:
    """History and held-out items of ``user`` in a split.

    Raises:
        InputError: the id is not in the dataset, or the user has no held-out interactions.
    """
    user = str(user).strip()
    (idx,) = parts.train.user_index([user])
    if idx < 0:
        raise InputError(
            f"No user {user!r} in this dataset. Ids are matched exactly (case matters); "
            "pick one from the list of test users."
        )
    test_rows = parts.test.users == idx
    if not test_rows.any():
        raise InputError(
            f"User {user!r} has no held-out interactions in this run's split, so the runs "
            "stored no recommendations for them; pick one of the listed test users."
        )
    history = _user_rows(parts.train, parts.train.users == idx)
    held_out = _user_rows(parts.test, test_rows)
    return UserView(user, history, held_out, frozenset(held_out[Columns.item]))


def _user_rows(inter: Interactions, mask: np.ndarray) -> pd.DataFrame:
    frame = inter.subset(mask).to_frame().drop(columns=[Columns.user])
    if Columns.timestamp in frame:
        frame = frame.sort_values(Columns.timestamp, ascending=False, ignore_index=True)
        frame[Columns.timestamp] = pd.to_datetime(frame[Columns.timestamp], unit="s")
    return with_item_metadata(frame, inter.item_features)


def with_item_metadata(frame: pd.DataFrame, features: pd.DataFrame | None) -> pd.DataFrame:
    """``frame`` with the item metadata columns joined on item id (lists shown as "a, b")."""
    if features is None or frame.empty:
        return frame.reset_index(drop=True)
    meta = features.reindex(pd.Index(frame[Columns.item].astype(str))).reset_index(drop=True)
    for col in meta.columns:
        if meta[col].dtype == object:
            meta[col] = meta[col].map(_display)
    clash = [c for c in meta.columns if c in frame.columns]
    meta = meta.drop(columns=clash)
    out = pd.concat([frame.reset_index(drop=True), meta], axis=1)
    name = name_column(meta)
    if name is None or Columns.item not in out.columns:
        return out
    # the title reads beside the id, before scores and other attributes
    order = [c for c in out.columns if c != name]
    order.insert(order.index(Columns.item) + 1, name)
    return out[order]


def name_column(features: pd.DataFrame | None) -> str | None:
    """The item table's title/name column (the one reasons and charts name items by), if any."""
    if features is None:
        return None
    lower = {str(c).lower(): str(c) for c in features.columns}
    return next((lower[c] for c in NAME_COLUMNS if c in lower), None)


def _display(value: object) -> object:
    if isinstance(value, list | tuple | np.ndarray):
        return ", ".join(map(str, value))
    return value


def user_lists(
    recommendations: Mapping[str, pd.DataFrame],
    view: UserView,
    k: int,
    features: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Each run's top-``k`` for the user, with a ✓ in the ``hit`` column for held-out items.

    Args:
        recommendations: display label -> that run's stored top-N (all users, or only this
            user's rows as ``run_recommendations(..., users=[user])`` returns them).
        view: the user's split view; its held-out items are the hits.
        k: list length to show.
        features: item metadata to join (title, genres...).
    """
    out = {}
    for label, recs in recommendations.items():
        mine = recs[(recs[Columns.user] == view.user) & (recs[Columns.rank] <= k)]
        mine = mine.sort_values(Columns.rank)[[Columns.rank, Columns.item, Columns.score]]
        hits = mine[Columns.item].isin(view.relevant).to_numpy()
        mine.insert(1, "hit", np.where(hits, HIT, ""))
        out[label] = with_item_metadata(mine, features)
    return out


@dataclass(frozen=True)
class Overlap:
    """How much the runs' lists agree: Jaccard index and shared item counts per pair."""

    jaccard: pd.DataFrame
    shared: pd.DataFrame


def list_overlap(lists: Mapping[str, Sequence[str]]) -> Overlap:
    """Pairwise overlap of item lists (the diagonal compares a list with itself)."""
    names = list(lists)
    sets = {n: set(map(str, lists[n])) for n in names}
    jac = pd.DataFrame(np.nan, index=names, columns=names)
    shared = pd.DataFrame(0, index=names, columns=names)
    for a in names:
        for b in names:
            both, either = len(sets[a] & sets[b]), len(sets[a] | sets[b])
            shared.loc[a, b] = both
            jac.loc[a, b] = both / either if either else np.nan
    return Overlap(jac, shared)
