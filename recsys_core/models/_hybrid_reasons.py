"""A hybrid's reasons for many pairs: history parts through its components, or their shares.

Each component's scores of a pair's user are normalised over the whole catalogue (see
``Hybrid``), so everything here works per distinct user, a block of users at a time: one
full-catalogue scoring per component and block, never per pair.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from recsys_core.models._blend import normalise_scores, shift_scale
from recsys_core.models._reasons import pair_ids
from recsys_core.models.explanation import Explanation, PairParts, record

_BLOCK = 512
NO_SHARE = "No component scores this item above its lowest."


def effective_weights(model: Any, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """``[pairs, components]`` weight of each component in the pair's score, switching included."""
    w = np.tile(model.weights(), (len(users), 1))
    sw = model.config.switching
    if sw is None:
        return w
    eye = np.eye(w.shape[1])
    if sw.cold_user_model is not None:
        cold = model.user_counts_[users] < sw.cold_user_threshold
        w[cold] = eye[sw.cold_user_model]
    if sw.cold_items_from is not None:
        w[model.cold_items_[items]] = eye[sw.cold_items_from]
    return w


def per_user_rows(
    comp: Any, users: np.ndarray, items: np.ndarray, how: Any
) -> tuple[np.ndarray, np.ndarray]:
    """For each pair, ``how(rows)`` of the component's full-catalogue scores of its user.

    ``how`` maps ``[block, n_items]`` raw scores to a ``[block, n_items]`` or
    ``[block, 1]`` array; returns the value at the pair's item (or the row value) per pair,
    and the second output of ``how`` when it returns a pair (shift and scale).
    """
    uniq, inverse = np.unique(users, return_inverse=True)
    first = np.zeros(len(users))
    second = np.zeros(len(users))
    for start in range(0, len(uniq), _BLOCK):  # blocks of distinct users
        rows = comp.score(uniq[start : start + _BLOCK])
        at = np.flatnonzero((inverse >= start) & (inverse < start + _BLOCK))
        out = how(rows)
        if isinstance(out, tuple):
            first[at] = out[0][inverse[at] - start, 0]
            second[at] = out[1][inverse[at] - start, 0]
        else:
            first[at] = out[inverse[at] - start, items[at]]
    return first, second


def hybrid_history_parts(model: Any, users: np.ndarray, items: np.ndarray) -> PairParts:
    """Every component's history parts, weighted and rescaled, summed per (pair, item)."""
    weights = effective_weights(model, users, items)
    method: Literal["minmax", "zscore"] = (
        "zscore" if model.config.normalisation == "zscore" else "minmax"
    )
    codes, values = [], []
    n_items = model.n_items
    for c, comp in enumerate(model.components()):  # a loop over a few components
        at = np.flatnonzero(weights[:, c] > 0)
        if not len(at):
            continue
        _, scale = per_user_rows(comp, users[at], items[at], lambda r: shift_scale(r, method))
        parts = comp.history_parts_many(users[at], items[at])
        factor = weights[at, c] / scale
        codes.append(at[parts.pair] * n_items + parts.keys)
        values.append(parts.values * factor[parts.pair])
    if not codes:
        return PairParts.empty(len(users))
    uniq, pos = np.unique(np.concatenate(codes), return_inverse=True)
    sums = np.bincount(pos, weights=np.concatenate(values))
    return PairParts.build(uniq // n_items, uniq % n_items, sums, len(users))


def component_labels(model: Any) -> list[str]:
    names = [c.name for c in model.components()]
    return [n if names.count(n) == 1 else f"{n} #{i}" for i, n in enumerate(names)]


def component_shares(model: Any, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """``[pairs, components]`` weight times normalised score; NaN where the weight is 0."""
    weights = effective_weights(model, users, items)
    shares = np.full(weights.shape, np.nan)
    how = model.config.normalisation
    for c, comp in enumerate(model.components()):  # a loop over a few components
        at = np.flatnonzero(weights[:, c] > 0)
        if len(at):
            normed, _ = per_user_rows(
                comp, users[at], items[at], lambda r: normalise_scores(r, how)
            )
            shares[at, c] = weights[at, c] * normed.astype(np.float32).astype(np.float64)
    return shares


def explain_components(
    model: Any, pairs: tuple[np.ndarray, np.ndarray], scores: np.ndarray, names: np.ndarray, n: int
) -> list[Explanation]:
    """Each component's share, and the top component's own reason for the pair."""
    users, items = pairs
    shares = component_shares(model, users, items)
    labels = component_labels(model)
    present = ~np.isnan(shares)
    text = np.asarray(labels, dtype=str)
    by_text = np.argsort(np.argsort(text, kind="stable"), kind="stable")
    size = np.where(present, -np.abs(np.nan_to_num(shares)), np.inf)  # absent parts last
    order = np.lexsort((np.broadcast_to(by_text, shares.shape), size), axis=1)
    values_all = np.take_along_axis(np.nan_to_num(shares), order, axis=1)
    counts = present.sum(axis=1)
    totals = np.abs(np.nan_to_num(shares)).sum(axis=1)
    lead_arr = np.where((counts > 0) & (totals > 0), order[:, 0], -1)
    rows = [
        (tuple(text[order[p, : counts[p]]].tolist()), values_all[p, : counts[p]])
        for p in range(len(users))  # one small tuple per pair
    ]
    lead = lead_arr.tolist()
    inner: list[str] = [""] * len(users)
    for c, comp in enumerate(model.components()):  # one batched call per leading component
        at = np.flatnonzero(lead_arr == c)
        if len(at):
            for j, expl in zip(at, comp.explain_many(users[at], items[at], names, n), strict=True):
                inner[j] = expl.sentence
    uids, iids = pair_ids(model, users, items)
    out = []
    for p, (row_names, values) in enumerate(rows):  # one sentence per pair
        if lead[p] < 0:
            sentence = NO_SHARE
        else:
            share = abs(float(values[0])) / float(totals[p])
            sentence = (
                f"Mostly from its *{row_names[0]}* part ({share:.0%} of the score): {inner[p]}"
            )
        residual = float(scores[p]) - float(values.sum())
        out.append(
            Explanation(
                uids[p],
                iids[p],
                float(scores[p]),
                "components",
                row_names,
                values,
                residual,
                sentence,
            )
        )
    return out


def components_one(model: Any, user: int, item: int, names: np.ndarray, n: int) -> Explanation:
    """The scalar reference of :func:`explain_components`, from ``component_parts``."""
    ids = (str(model.train_.user_ids[user]), str(model.train_.item_ids[item]))
    score = float(model.score_pairs(np.array([user]), np.array([item]))[0])
    parts = model.component_parts(user, item)
    shares = ([p[0] for p in parts], np.array([p[2] for p in parts]))
    expl = record(ids, score, "components", shares, "")
    total = float(np.abs(expl.values).sum())
    if not len(expl.names) or total == 0:
        return record(ids, score, "components", (expl.names, expl.values), NO_SHARE)
    comp = next(c for label, c, _ in parts if label == expl.names[0])
    inner = comp.explain_one(user, item, names, n).sentence
    share = abs(float(expl.values[0])) / total
    sentence = f"Mostly from its *{expl.names[0]}* part ({share:.0%} of the score): {inner}"
    return record(ids, score, "components", (expl.names, expl.values), sentence)
