"""Segment views computed once at the end of a run and kept in its summary."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from recsys_core.evaluation.segments import (
    metrics_by_segment,
    recall_by_item_segments,
    segment_items,
    segment_users,
)
from recsys_core.progress import Progress, report
from recsys_core.splitting.splits import Split

SEGMENT_K = 10


def segment_report(
    parts: Split,
    per_user: pd.DataFrame,
    top_items: np.ndarray,
    users: np.ndarray,
    spec: Any,
    *,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Rows of (view, segment, metric, n_users, mean, ci_low, ci_high) for the Compare page.

    Views: user activity buckets and cold vs warm users (every per-user metric), item
    popularity head/mid/tail and item category (Recall@10 restricted to that segment's items).
    ``progress`` hears of every finished view (each bootstraps its intervals).
    """
    k = min(SEGMENT_K, top_items.shape[1])
    frames = []
    user_views = {
        "user activity": segment_users(parts.train, "activity"),
        "cold vs warm users": segment_users(parts.train, "cold"),
    }
    n_views = len(user_views) + 3
    for view, labels in user_views.items():
        seg = metrics_by_segment(per_user, labels, random_state=spec.seed)
        frames.append(seg.assign(view=view))
        report(progress, len(frames), n_views, view)
    popularity = segment_items(parts.train, "popularity")
    trained = np.bincount(parts.train.items, minlength=parts.train.n_items) > 0
    cold = pd.Series(
        np.where(trained, "warm items", "cold items (no training data)"),
        index=popularity.index,
        name=popularity.name,
    )
    item_views = [("item popularity", popularity), ("cold vs warm items", cold)]
    column = category_column(parts.train.item_features)
    if column is not None:
        item_views.append((f"item {column}", _category_segments(parts, column)))
    recalls = recall_by_item_segments(
        top_items, users, parts, dict(item_views), k, relevance_threshold=spec.relevance_threshold
    )
    for view, seg in recalls.items():
        frames.append(seg.assign(view=view, metric=f"Recall@{k}"))
        report(progress, min(len(frames), n_views - 1), n_views, view)
    out = pd.concat(frames, ignore_index=True)
    out["segment"] = out["segment"].astype(str)
    cols = ["view", "segment", "metric", "n_users", "mean", "ci_low", "ci_high"]
    records = out[cols].replace({np.nan: None}).to_dict(orient="records")
    return [{str(k): v for k, v in r.items()} for r in records]


def category_column(features: pd.DataFrame | None) -> str | None:
    """The item attribute best used as a category: multi-valued lists first (genres, tags),
    else a text column with few distinct values."""
    if features is None:
        return None
    for col in features.columns:
        sample = features[col].dropna().head(50)
        if len(sample) and sample.map(lambda v: isinstance(v, list)).all():
            return str(col)
    for col in features.columns:
        values = features[col].dropna()
        if values.map(lambda v: isinstance(v, str)).all() and 1 < values.nunique() <= 50:
            return str(col)
    return None


def _category_segments(parts: Split, column: str) -> pd.Series:
    feats = parts.train.item_features
    assert feats is not None
    joined = feats[column].map(lambda v: "|".join(v) if isinstance(v, list) else v)
    patched = replace(parts.train, item_features=feats.assign(**{column: joined}))
    return segment_items(patched, "category", column=column)
