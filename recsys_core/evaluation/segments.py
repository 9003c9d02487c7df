"""Metric views by segment: user activity, cold vs warm users, item popularity and category.

User segments label each user; ``metrics_by_segment`` then averages any per-user metric
within each label, with a bootstrap interval. Item segments (head / mid / tail popularity,
item category) need an item-level metric instead: ``recall_by_item_segment`` computes, for
each segment, Recall@K restricted to the relevant items of that segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.evaluation._core import relevant_matrix
from recsys_core.evaluation.significance import bootstrap_cis, bootstrap_subgroup_cis_many
from recsys_core.splitting.splits import Split

SEGMENT = "segment"


def segment_users(
    train: Interactions,
    kind: Literal["activity", "cold"] = "activity",
    bins: Sequence[float] | None = None,
) -> pd.Series:
    """A segment label per user id (index = external user id), from training activity.

    Args:
        train: the training side; activity is each user's number of training interactions.
        kind: "activity" cuts activity into bins; "cold" splits users into cold (fewer than
            ``bins[0]`` training interactions, default 5) and warm.
        bins: for "activity", the lower edges of the bins after the first, e.g. the default
            (5, 20, 100) gives 0-4, 5-19, 20-99 and 100+ interactions.

    Returns:
        An ordered categorical Series named ``segment``.
    """
    counts = np.bincount(train.users, minlength=train.n_users)
    if kind == "cold":
        edges = [float(bins[0]) if bins else 5.0]
        labels = [f"cold (<{edges[0]:g})", f"warm (≥{edges[0]:g})"]
    elif kind == "activity":
        edges = sorted(float(b) for b in (bins if bins is not None else (5, 20, 100)))
        lows = [0.0, *edges]
        labels = [f"{lo:g}–{hi - 1:g}" for lo, hi in zip(lows, edges, strict=False)]
        labels.append(f"{lows[-1]:g}+")
    else:
        raise InputError(f"Unknown user segment kind {kind!r}; use 'activity' or 'cold'.")
    if any(e <= 0 for e in edges) or len(set(edges)) != len(edges):
        raise InputError(f"Segment bins must be distinct positive numbers; got {bins}.")
    codes = np.searchsorted(np.asarray(edges), counts, side="right")
    cat = pd.Categorical.from_codes(codes, categories=pd.Index(labels), ordered=True)
    return pd.Series(cat, index=pd.Index(train.user_ids, name=Columns.user), name=SEGMENT)


def segment_items(
    train: Interactions,
    kind: Literal["popularity", "category"] = "popularity",
    *,
    shares: tuple[float, float] = (0.5, 0.8),
    column: str | None = None,
    sep: str = "|",
) -> pd.Series:
    """Segment labels of items (index = external item id; an id repeats when multi-valued).

    Args:
        train: popularity is counted on it (interactions per item); it carries item_features.
        kind: "popularity" gives head / mid / tail: items sorted by popularity, head are the
            most popular ones that together hold the first ``shares[0]`` of the training
            interactions, mid the next ones up to ``shares[1]``, tail the rest (items with no
            training interaction included). "category" uses ``column`` of the item features,
            split on ``sep`` so an item can belong to several categories.
    """
    if kind == "popularity":
        lo, hi = shares
        if not 0.0 < lo < hi < 1.0:
            raise InputError(f"Popularity shares must satisfy 0 < head < mid < 1; got {shares}.")
        pop = np.bincount(train.items, minlength=train.n_items).astype(np.float64)
        order = np.argsort(-pop, kind="stable")
        before = (np.cumsum(pop[order]) - pop[order]) / max(pop.sum(), 1.0)  # share ahead of item
        codes = np.empty(train.n_items, dtype=np.int64)
        codes[order] = np.searchsorted([lo, hi], before, side="right")
        codes[pop == 0] = 2
        cat = pd.Categorical.from_codes(
            codes, categories=pd.Index(["head", "mid", "tail"]), ordered=True
        )
        return pd.Series(cat, index=pd.Index(train.item_ids, name=Columns.item), name=SEGMENT)
    if kind != "category":
        raise InputError(f"Unknown item segment kind {kind!r}; use 'popularity' or 'category'.")
    feats = train.item_features
    if feats is None or column is None or column not in feats.columns:
        have = [] if feats is None else list(feats.columns)
        raise InputError(
            f"Category segments need an item feature column; got {column!r}, have {have}."
        )
    tokens = feats[column].dropna().astype(str).str.split(sep, regex=False).explode().str.strip()
    tokens = tokens[tokens != ""]
    tokens.index = tokens.index.astype(str).rename(Columns.item)
    return tokens.rename(SEGMENT)


def metrics_by_segment(
    per_user: pd.DataFrame,
    segments: pd.Series,
    *,
    confidence: float = 0.95,
    random_state: int = 42,
) -> pd.DataFrame:
    """Mean and bootstrap interval of every per-user metric within each user segment.

    Args:
        per_user: ``EvaluationResult.per_user`` (a ``model`` column, if any, is kept apart).
        segments: label per user id, e.g. from :func:`segment_users`.

    Returns:
        Rows (model,) segment, metric with columns n_users, mean, ci_low, ci_high.
    """
    if Columns.user not in per_user.columns:
        raise InputError(f"per_user needs a {Columns.user!r} column.")
    seg = segments.copy()
    seg.index = seg.index.astype(str)
    frame = per_user.assign(**{SEGMENT: seg.reindex(per_user[Columns.user].astype(str)).to_numpy()})
    frame = frame.dropna(subset=[SEGMENT])
    keys = [Columns.model, SEGMENT] if Columns.model in frame.columns else [SEGMENT]
    metrics = [c for c in per_user.columns if c not in (Columns.user, Columns.model)]
    rows = []
    for key, group in frame.groupby(keys, sort=True, observed=True):
        labels = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        table = group[metrics].to_numpy(dtype=np.float64)
        lows, highs = bootstrap_cis(table, confidence=confidence, random_state=random_state)
        for j, metric in enumerate(metrics):
            values = table[:, j][~np.isnan(table[:, j])]
            rows.append(
                {
                    **labels,
                    "metric": metric,
                    "n_users": len(values),
                    "mean": float(values.mean()) if len(values) else np.nan,
                    "ci_low": lows[j],
                    "ci_high": highs[j],
                }
            )
    return pd.DataFrame(rows, columns=[*keys, "metric", "n_users", "mean", "ci_low", "ci_high"])


def recall_by_item_segment(
    top_items: np.ndarray,
    users: np.ndarray,
    split: Split,
    item_segments: pd.Series,
    k: int = 10,
    *,
    relevance_threshold: float | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Recall@K restricted to each item segment's relevant items.

    For segment s and user u: hits among u's top K whose item is in s, divided by u's
    relevant test items in s; users with no relevant item in s are left out of s.

    Returns:
        One row per segment: segment, n_users, mean, ci_low, ci_high.
    """
    views = recall_by_item_segments(
        top_items, users, split, {"": item_segments}, k,
        relevance_threshold=relevance_threshold, confidence=confidence,
    )  # fmt: skip
    return views[""]


def recall_by_item_segments(
    top_items: np.ndarray,
    users: np.ndarray,
    split: Split,
    views: dict[str, pd.Series],
    k: int = 10,
    *,
    relevance_threshold: float | None = None,
    confidence: float = 0.95,
) -> dict[str, pd.DataFrame]:
    """:func:`recall_by_item_segment` for several segmentations of the items at once.

    The relevant pairs and the hits do not depend on the segmentation: built once, they serve
    every view (a run's three item views rebuilt them three times, half of their cost).
    """
    truth = _binary(relevant_matrix(split.test, relevance_threshold, split.train))
    lists = np.full((split.train.n_users, k), -1, dtype=np.int64)
    lists[np.asarray(users, dtype=np.int64)] = np.asarray(top_items)[:, :k]
    user, slot = np.nonzero(lists >= 0)
    item = lists[user, slot]
    hit = np.asarray(truth[user, item]).ravel() > 0
    hits = sp.csr_matrix((np.ones(int(hit.sum())), (user[hit], item[hit])), shape=truth.shape)
    recalls = {view: _segment_recall(truth, hits, split, seg) for view, seg in views.items()}
    # one set of draws for every view: they resample the same users with the same seed
    cis = bootstrap_subgroup_cis_many(
        [recall for _, recall, _ in recalls.values()], confidence=confidence
    )
    return {
        view: _recall_frame(labels, recall, n_relevant, low, high)
        for (view, (labels, recall, n_relevant)), (low, high) in zip(
            recalls.items(), cis, strict=True
        )
    }


def _segment_recall(
    truth: sp.csr_matrix,
    hits_matrix: sp.csr_matrix,
    split: Split,
    item_segments: pd.Series,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, recall [users, labels] with NaN where a user has no relevant item of the
    label, relevant counts [users, labels])."""
    labels = pd.unique(item_segments.to_numpy())
    codes = pd.Index(labels).get_indexer(item_segments.to_numpy())
    idx = split.train.item_index(item_segments.index.astype(str))
    known = idx >= 0
    # item x segment membership: an item may sit in several segments (multi-valued genres)
    member = sp.csr_matrix(
        (np.ones(int(known.sum())), (idx[known], codes[known])),
        shape=(split.train.n_items, len(labels)),
    )
    member.data[:] = 1.0  # an item listed twice under one label counts once
    n_relevant = (truth @ member).toarray()
    hits = (hits_matrix @ member).toarray()
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(n_relevant > 0, hits / n_relevant, np.nan)
    return labels, recall, n_relevant


def _recall_frame(
    labels: np.ndarray, recall: np.ndarray, n_relevant: np.ndarray, low: np.ndarray,
    high: np.ndarray,
) -> pd.DataFrame:  # fmt: skip
    counted = (n_relevant > 0).sum(axis=0)
    with np.errstate(invalid="ignore"):
        means = np.where(counted > 0, np.nansum(recall, axis=0) / np.maximum(counted, 1), np.nan)
    rows_out = [
        {
            SEGMENT: label,
            "n_users": int(counted[s]),
            "mean": float(means[s]),
            "ci_low": float(low[s]),
            "ci_high": float(high[s]),
        }
        for s, label in enumerate(labels)  # one dict per segment label, a few dozen at most
    ]
    return pd.DataFrame(rows_out, columns=[SEGMENT, "n_users", "mean", "ci_low", "ci_high"])


def _binary(m: sp.csr_matrix) -> sp.csr_matrix:
    out = m.copy()
    out.data = np.ones_like(out.data)
    return out


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else float("nan")
