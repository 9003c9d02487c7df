"""Named, documented user, item, user x item and context features for learning-to-rank."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.features.encoders import ItemEncoderConfig, encode_items

_DAY = 86_400.0
#: Candidate rows per chunk of the row-wise dot products (bounds memory at ~100 MB).
_CHUNK = 200_000

#: Fixed features by name, with the text the Ranking page shows. NaN means "not known"
#: (no timestamps, no item table, no history), which LightGBM treats as its own branch.
FEATURES: dict[str, str] = {
    "user_activity": "User: number of training interactions of the user.",
    "user_tenure_days": "User: days between the user's first and last interaction (recency span).",
    "user_mean_rating": "User: mean rating (weight for implicit data) the user gave.",
    "user_top_category_share": (
        "User: share of the user's history in their most frequent item category "
        "(1 = a single-category user)."
    ),
    "item_popularity": "Item: number of training interactions with the item.",
    "item_recency_days": "Item: days from the item's last interaction to the end of training.",
    "item_mean_rating": "Item: mean rating (weight for implicit data) the item received.",
    "category_match": (
        "User x item: mean, over the item's categories/genres, of the share of the user's "
        "history in that category (0 = none of its categories, 1 = all history in them)."
    ),
    "content_similarity": (
        "User x item: cosine similarity between the item's content vector (text + categories) "
        "and the mean content vector of the user's history."
    ),
    "days_since_last": (
        "Context: days from the user's last interaction to the end of training (how long ago "
        "the user was last seen)."
    ),
    "last_hour": "Context: hour of day (UTC) of the user's last interaction.",
    "last_weekday": "Context: weekday (0 = Monday) of the user's last interaction.",
}
USER_COLUMNS = [
    "user_activity",
    "user_tenure_days",
    "user_mean_rating",
    "user_top_category_share",
    "days_since_last",
    "last_hour",
    "last_weekday",
]
ITEM_COLUMNS = ["item_popularity", "item_recency_days", "item_mean_rating"]
PAIR_COLUMNS = ["category_match", "content_similarity"]


def generator_feature_descriptions(names: list[str]) -> dict[str, str]:
    """Descriptions of the per-generator features: ``score_<name>`` and ``rank_<name>`` of
    :func:`build_features`, and ``z_`` and ``list_<name>`` the two-stage ranker adds."""
    out: dict[str, str] = {}
    for name in names:
        out[f"score_{name}"] = f"User x item: the {name} model's score of the candidate."
        out[f"rank_{name}"] = (
            f"User x item: the candidate's rank (1 = best) among the user's candidates by the "
            f"{name} model's score (every generator scores every candidate)."
        )
        out[f"z_{name}"] = (
            f"User x item: the {name} model's score standardised over the user's candidates "
            "(0 = their mean, 1 = one standard deviation above)."
        )
        out[f"list_{name}"] = (
            f"User x item: the item's rank in the {name} model's own top list; list length "
            "+ 1 when it is not in it."
        )
    return out


@dataclass(frozen=True)
class FeatureContext:
    """Per-user and per-item tables learned from training data; pairs are looked up in them.

    Kept as plain arrays so a ranker can save them and score the same features after loading
    (a loaded model keeps its training matrix but not timestamps or the item table).

    Attributes:
        user_num: float64 [n_users, len(USER_COLUMNS)].
        item_num: float64 [n_items, len(ITEM_COLUMNS)].
        user_cats: float32 [n_users, n_categories], share of history per category.
        item_cats: float32 [n_items, n_categories], multi-hot categories.
        user_content: float32 [n_users, d], unit mean content vector of the history.
        item_content: float32 [n_items, d], unit content vectors (d = 0 without item table).
    """

    user_num: np.ndarray
    item_num: np.ndarray
    user_cats: np.ndarray
    item_cats: np.ndarray
    user_content: np.ndarray
    item_content: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        """The fields by name, for saving."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def feature_context(train: Interactions) -> FeatureContext:
    """Learn the user and item tables from ``train`` (vectorised, one pass per table)."""
    binary = train.matrix.copy()
    binary.data[:] = 1.0
    item_cats, item_content = _item_vectors(train)
    activity = np.bincount(train.users, minlength=train.n_users).astype(np.float64)
    counts = np.asarray(binary.sum(axis=1)).ravel()
    user_cats = _row_share(binary @ item_cats, counts)
    user_content = _unit(np.asarray(binary @ item_content, dtype=np.float64))
    top_share = np.full(train.n_users, np.nan)
    if user_cats.shape[1]:
        top_share = np.where(counts > 0, user_cats.max(axis=1), np.nan)
    tenure, since, hour, weekday = _user_time(train)
    mean = _mean(train.users, train.values, train.n_users)
    # The order of USER_COLUMNS.
    user_num = np.column_stack([activity, tenure, mean, top_share, since, hour, weekday])
    item_num = np.column_stack(
        [
            np.bincount(train.items, minlength=train.n_items).astype(np.float64),
            _item_recency(train),
            _mean(train.items, train.values, train.n_items),
        ]
    )
    return FeatureContext(
        user_num,
        item_num,
        user_cats.astype(np.float32),
        item_cats.astype(np.float32),
        user_content.astype(np.float32),
        item_content.astype(np.float32),
    )


def build_features(
    train: Interactions,
    users: np.ndarray,
    items: np.ndarray,
    candidate_scores: dict[str, np.ndarray],
    candidate_ranks: dict[str, np.ndarray],
) -> pd.DataFrame:
    """One row of named features per (user index, item index) candidate pair.

    Args:
        train: the interactions the features describe (no future data: no leakage).
        users: user index per candidate row.
        items: item index per candidate row.
        candidate_scores: generator name -> its score per row (NaN outside its list).
        candidate_ranks: generator name -> the item's rank per row in its list.

    Returns:
        Columns: :data:`FEATURES` order, then ``score_<name>``, ``rank_<name>`` per generator.
    """
    return features_from_context(
        feature_context(train), users, items, candidate_scores, candidate_ranks
    )


def features_from_context(
    ctx: FeatureContext,
    users: np.ndarray,
    items: np.ndarray,
    candidate_scores: dict[str, np.ndarray],
    candidate_ranks: dict[str, np.ndarray],
) -> pd.DataFrame:
    """As :func:`build_features`, from tables learned once (the ranker's scoring path)."""
    u = np.asarray(users, dtype=np.int64).ravel()
    i = np.asarray(items, dtype=np.int64).ravel()
    if len(u) != len(i):
        raise InputError(f"users and items differ in length ({len(u)} vs {len(i)}).")
    for name, arr in [*candidate_scores.items(), *candidate_ranks.items()]:
        if len(arr) != len(u):
            raise InputError(f"Candidate column {name!r} has {len(arr)} rows, expected {len(u)}.")
    cols: dict[str, np.ndarray] = {}
    user_part = ctx.user_num[u]
    for j, name in enumerate(USER_COLUMNS):
        cols[name] = user_part[:, j]
    item_part = ctx.item_num[i]
    for j, name in enumerate(ITEM_COLUMNS):
        cols[name] = item_part[:, j]
    n_cats = ctx.item_cats.sum(axis=1)[i]
    match = _rowwise_dot(ctx.user_cats, ctx.item_cats, u, i)
    cols["category_match"] = np.divide(match, n_cats, out=np.full(len(u), np.nan), where=n_cats > 0)
    sim = _rowwise_dot(ctx.user_content, ctx.item_content, u, i)
    has_content = np.linalg.norm(ctx.item_content, axis=1)[i] > 0
    cols["content_similarity"] = np.where(has_content, sim, np.nan)
    order = [*FEATURES]
    frame = pd.DataFrame({name: cols[name] for name in order})
    for name in candidate_scores:
        frame[f"score_{name}"] = np.asarray(candidate_scores[name], dtype=np.float64)
        frame[f"rank_{name}"] = np.asarray(candidate_ranks[name], dtype=np.float64)
    return frame


# ---------------------------------------------------------------------------- helpers
def _item_vectors(train: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """Multi-hot categories and unit content vectors (text + categories) per item."""
    enc = encode_items(train, ItemEncoderConfig(text_encoder="tfidf", text_dim=32))
    n = train.n_items
    cats = enc.blocks.get("categorical", np.zeros((n, 0), dtype=np.float32))
    cats = (np.asarray(cats) > 0).astype(np.float64)
    parts = [enc.blocks[m] for m in ("text", "categorical") if m in enc.blocks]
    content = np.hstack(parts).astype(np.float64) if parts else np.zeros((n, 0))
    return cats, _unit(content)


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x, dtype=np.float64), where=norms > 0)


def _row_share(x: np.ndarray | sp.spmatrix, counts: np.ndarray) -> np.ndarray:
    dense = np.asarray(x, dtype=np.float64)
    return np.divide(dense, counts[:, None], out=np.zeros_like(dense), where=counts[:, None] > 0)


def _mean(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    total = np.bincount(index, weights=values.astype(np.float64), minlength=size)
    count = np.bincount(index, minlength=size).astype(np.float64)
    return np.divide(total, count, out=np.full(size, np.nan), where=count > 0)


def _user_time(train: Interactions) -> tuple[np.ndarray, ...]:
    """Tenure days, days since last, hour and weekday of the last interaction (NaN if unknown)."""
    nan = np.full(train.n_users, np.nan)
    if train.timestamps is None or not len(train.timestamps):
        return nan, nan.copy(), nan.copy(), nan.copy()
    ts = train.timestamps.astype(np.int64)
    big = np.iinfo(np.int64).max
    first = np.full(train.n_users, big, dtype=np.int64)
    last = np.full(train.n_users, -big, dtype=np.int64)
    np.minimum.at(first, train.users, ts)
    np.maximum.at(last, train.users, ts)
    has = last > -big
    lastf = np.where(has, last, 0)
    tenure = np.where(has, (lastf - np.where(has, first, 0)) / _DAY, np.nan)
    since = np.where(has, (ts.max() - lastf) / _DAY, np.nan)
    hour = np.where(has, (lastf % 86_400) // 3600, np.nan)
    weekday = np.where(has, (lastf // 86_400 + 3) % 7, np.nan)  # 1970-01-01 was a Thursday
    return tenure, since, hour, weekday


def _item_recency(train: Interactions) -> np.ndarray:
    if train.timestamps is None or not len(train.timestamps):
        return np.full(train.n_items, np.nan)
    ts = train.timestamps.astype(np.int64)
    last = np.full(train.n_items, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last, train.items, ts)
    has = last > np.iinfo(np.int64).min
    return np.where(has, (ts.max() - np.where(has, last, 0)) / _DAY, np.nan)


def _rowwise_dot(left: np.ndarray, right: np.ndarray, u: np.ndarray, i: np.ndarray) -> np.ndarray:
    """``left[u[r]] . right[i[r]]`` per row, in chunks so the gathers stay small."""
    out = np.zeros(len(u), dtype=np.float64)
    if not left.shape[1]:
        return out
    for start in range(0, len(u), _CHUNK):  # a loop over a few chunks, not over rows
        rows = slice(start, start + _CHUNK)
        out[rows] = np.einsum("ij,ij->i", left[u[rows]], right[i[rows]])
    return out
