"""Global importance: what each feature group is worth to a model, and a map of its items."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.evaluation.evaluate import relevant_matrix
from recsys_core.evaluation.ranking import MAP, MRR, NDCG, HitRate, Precision, Recall, ranking_data
from recsys_core.models._topk import topk_rows
from recsys_core.models.base import Recommender
from recsys_core.models.explanation import Scorer
from recsys_core.progress import Progress, report
from recsys_core.splitting.splits import Split

_METRICS = {m.name: m for m in (Precision, Recall, NDCG, MAP, MRR, HitRate)}
_BATCH = 512
#: Users scored per repeat at most: enough for a stable mean, cheap for many repeats.
MAX_USERS = 2000
IMPORTANCE_COLUMNS = ["group", "mean_drop", "ci_low", "ci_high"]


def permutation_importance(
    model: Recommender,
    split: Split,
    feature_groups: Sequence[str] | None = None,
    metric: str = "NDCG@10",
    n_repeats: int = 5,
    random_state: int = 0,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Drop in a ranking metric on the test side when a group's item features are shuffled.

    Shuffling a group's rows across items keeps its distribution but breaks its link to
    each item, so the drop is what the model takes from that group. The model is not
    refitted: item vectors are rebuilt from the shuffled features with the learned weights.

    Args:
        model: a content, two-tower or fusion model fitted on ``split.train``.
        split: the split; its ``test`` side is ranked (seen training items excluded).
        feature_groups: modalities to shuffle (e.g. "text", "categorical"); all by default.
        metric: an accuracy metric label such as "NDCG@10" or "Recall@20".
        n_repeats: shuffles per group; the interval is a 95% t-interval over them.
        random_state: seed of the shuffles and of the user sample.
        progress: called after each shuffle.

    Returns:
        Columns group, mean_drop, ci_low, ci_high; the largest drop first.

    Raises:
        InputError: a model without item features, an unknown group or metric, or a split
            with no relevant test item.
    """
    if n_repeats < 1:
        raise InputError(f"n_repeats must be at least 1; got {n_repeats}.")
    permutable = model.permutable(split.train)
    groups = list(feature_groups) if feature_groups is not None else permutable.groups
    unknown = sorted(set(groups) - set(permutable.groups))
    if unknown or not groups:
        raise InputError(f"Unknown feature group(s) {unknown}; this model has {permutable.groups}.")
    rng = np.random.default_rng(random_state)
    evaluate = _evaluator(model, split, _parse_metric(metric), rng)
    base = evaluate(permutable.scorer({}))
    rows, total = [], len(groups) * n_repeats
    for g, group in enumerate(groups):  # a loop over a few groups and repeats
        drops = []
        for r in range(n_repeats):
            perm = rng.permutation(model.n_items)
            drops.append(base - evaluate(permutable.scorer({group: perm})))
            report(progress, g * n_repeats + r + 1, total, f"shuffled {group} ({r + 1})")
        rows.append((group, *_interval(np.asarray(drops))))
    frame = pd.DataFrame(rows, columns=IMPORTANCE_COLUMNS)
    return frame.sort_values("mean_drop", ascending=False, ignore_index=True)


def _interval(drops: np.ndarray) -> tuple[float, float, float]:
    mean = float(drops.mean())
    if len(drops) < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.975, len(drops) - 1) * drops.std(ddof=1) / np.sqrt(len(drops)))
    return mean, mean - half, mean + half


def _parse_metric(label: str) -> Any:
    name, _, k = label.partition("@")
    if name not in _METRICS or not k.isdigit() or int(k) < 1:
        raise InputError(
            f"metric must look like NDCG@10 with one of {sorted(_METRICS)}; got {label!r}."
        )
    return _METRICS[name](int(k))


def _evaluator(
    model: Recommender, split: Split, metric: Any, rng: np.random.Generator
) -> Callable[[Scorer], float]:
    """Mean metric of a scorer over (a sample of) the test users with relevant items."""
    train = model.train_
    if (split.test.n_users, split.test.n_items) != (train.n_users, train.n_items):
        raise InputError("The split does not match the model's users and items: use its own split.")
    truth = relevant_matrix(split.test, None, split.train)
    users = np.flatnonzero(np.diff(truth.indptr) > 0)
    if not len(users):
        raise InputError("The test side has no relevant item unseen in training.")
    if len(users) > MAX_USERS:
        users = np.sort(rng.choice(users, MAX_USERS, replace=False))
    truth, seen = truth[users], sp.csr_matrix(train.matrix[users])

    def evaluate(score: Scorer) -> float:
        lists = np.full((len(users), metric.k), -1, dtype=np.int64)
        for start in range(0, len(users), _BATCH):
            rows = slice(start, start + _BATCH)
            s = np.array(score(users[rows]), dtype=np.float32)
            sub = seen[rows]
            s[np.repeat(np.arange(sub.shape[0]), np.diff(sub.indptr)), sub.indices] = -np.inf
            lists[rows] = topk_rows(s, metric.k)[0]
        data = ranking_data(lists, np.arange(len(users)), truth)
        return float(metric.aggregate(metric.per_user(data)))

    return evaluate


# --------------------------------------------------------------------------- embedding map
def item_embedding_map(
    model: Recommender, train: Interactions, color_by: str | None = None
) -> pd.DataFrame:
    """The model's item vectors projected to 2-D (PCA), with a category label per item.

    Items close on the map are items the model treats alike; colouring by a category shows
    whether the model has learned that category without being told.

    Args:
        model: a fitted model with item vectors (ALS/BPR factors, content, two-tower, fusion).
        train: the training data; its item table gives the labels.
        color_by: an item table column; list values use their first element.

    Returns:
        Columns item_id, x, y, label (one row per catalogue item).

    Raises:
        InputError: a model without item vectors, or ``color_by`` not in the item table.
    """
    from sklearn.decomposition import PCA

    vectors = np.asarray(model.item_vectors(), dtype=np.float64)
    ids = np.asarray(model.train_.item_ids).astype(str)
    xy = np.zeros((len(vectors), 2))
    if len(vectors) >= 2 and vectors.shape[1] >= 1:
        n = min(2, vectors.shape[1], len(vectors))
        xy[:, :n] = PCA(n_components=n, random_state=0).fit_transform(vectors)
    return pd.DataFrame(
        {Columns.item: ids, "x": xy[:, 0], "y": xy[:, 1], "label": _labels(train, ids, color_by)}
    )


def _labels(train: Interactions, ids: np.ndarray, color_by: str | None) -> np.ndarray:
    if color_by is None:
        return np.full(len(ids), "all items", dtype=object)
    table = train.item_features
    if table is None or color_by not in table.columns:
        have = [] if table is None else [str(c) for c in table.columns]
        raise InputError(f"No item column {color_by!r} to colour by; the item table has {have}.")
    column = table[color_by].copy()
    column.index = column.index.astype(str)
    values = column.reindex(ids)
    first = values.map(lambda v: v[0] if isinstance(v, list | tuple | np.ndarray) and len(v) else v)
    return first.map(lambda v: "(none)" if _missing(v) else str(v)).to_numpy(dtype=object)


def _missing(value: Any) -> bool:
    if isinstance(value, list | tuple | np.ndarray):
        return len(value) == 0
    return bool(pd.isna(value))
