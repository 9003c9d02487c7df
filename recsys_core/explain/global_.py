"""Global importance: what each feature group is worth to a model, and a map of its items."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
from recsys_core.progress import Progress, report
from recsys_core.splitting.splits import Split

_METRICS = {m.name: m for m in (Precision, Recall, NDCG, MAP, MRR, HitRate)}
_BATCH = 512
#: Users scored per repeat at most: enough for a stable mean, cheap for many repeats.
MAX_USERS = 2000
#: Scores of a batch of user indices for every item, given permuted item rows per group.
Scorer = Callable[[np.ndarray], np.ndarray]
IMPORTANCE_COLUMNS = ["group", "mean_drop", "ci_low", "ci_high"]


@dataclass(frozen=True)
class _Permutable:
    """A model seen as item feature groups, and its scorer once some groups are shuffled."""

    groups: list[str]
    scorer: Callable[[dict[str, np.ndarray]], Scorer]


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
    permutable = _permutable(model, split.train)
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


# --------------------------------------------------------------------------- model families
def _permutable(model: Recommender, train: Interactions) -> _Permutable:
    if model.name == "content":
        return _content(model)
    if model.name == "fusion":
        return _fusion(model)
    if model.name == "two_tower" and "item_features_" in vars(model):
        return _two_tower(model, train)
    raise InputError(
        f"The {model.name} model uses no item features, so there is nothing to shuffle; "
        "permutation importance works for content, two_tower and fusion models."
    )


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x, dtype=np.float64), where=norms > 0)


def _content(model: Any) -> _Permutable:
    """Item vector = unit(concat of weight x unit(block)): rebuild it with shuffled blocks."""
    bounds, names = model.block_bounds_, [str(n) for n in model.block_names_]
    vectors = np.asarray(model.item_vectors_, dtype=np.float64)
    weights = model.config.modality_weights
    blocks = {
        m: weights[m] * _unit_rows(vectors[:, bounds[k] : bounds[k + 1]])
        for k, m in enumerate(names)
    }

    def scorer(perms: dict[str, np.ndarray]) -> Scorer:
        parts = [blocks[m][perms[m]] if m in perms else blocks[m] for m in names]
        items = _unit_rows(np.hstack(parts))
        profiles = lambda users: _unit_rows(np.asarray(model.weights_[users] @ items))  # noqa: E731
        return lambda users: profiles(users) @ items.T

    return _Permutable(names, scorer)


def _fusion(model: Any) -> _Permutable:
    """Shuffle a modality's block rows (and presence) and recompute the gated item vectors."""
    state = model._state()
    names = [str(n) for n in state["modalities"]]
    groups = [n for n in names if f"block_{n}" in state]

    def scorer(perms: dict[str, np.ndarray]) -> Scorer:
        shuffled = dict(state)
        present = state["present"].copy()
        for m, perm in perms.items():
            shuffled[f"block_{m}"] = state[f"block_{m}"][perm]
            present[:, names.index(m)] = state["present"][perm, names.index(m)]
        shuffled["present"] = present
        items = model._derive(shuffled)["item_vectors"]
        return lambda users: state["user_vectors"][users] @ items.T

    return _Permutable(groups, scorer)


def _two_tower(model: Any, train: Interactions) -> _Permutable:
    """Shuffle column ranges of the item feature table; widths come from re-encoding."""
    from recsys_core.features.encoders import ItemEncoderConfig, encode_items

    state = model._state()
    table = state["item_features"]
    cfg = ItemEncoderConfig(text_dim=model.config.text_dim, random_state=model.config.random_state)
    blocks = encode_items(train, cfg).blocks
    names = sorted(blocks)
    bounds = np.cumsum([0] + [blocks[m].shape[1] for m in names])
    if bounds[-1] != table.shape[1]:  # encoded differently: shuffle the table as a whole
        names, bounds = ["item features"], np.array([0, table.shape[1]])

    def scorer(perms: dict[str, np.ndarray]) -> Scorer:
        feats = table.copy()
        for m, perm in perms.items():
            lo, hi = bounds[names.index(m)], bounds[names.index(m) + 1]
            feats[:, lo:hi] = table[perm, lo:hi]
        items = model._derive({**state, "item_features": feats})["item_vectors"]
        return lambda users: state["user_vectors"][users] @ items.T

    return _Permutable(names, scorer)


# --------------------------------------------------------------------------- embedding map
#: Learned item vectors by attribute, in the order tried.
VECTOR_ATTRIBUTES = ("item_factors_", "item_vectors_")


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

    found = next((a for a in VECTOR_ATTRIBUTES if a in vars(model)), None)
    if found is None:
        raise InputError(f"The {model.name} model has no item vectors to draw a map of.")
    vectors = np.asarray(getattr(model, found), dtype=np.float64)
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
