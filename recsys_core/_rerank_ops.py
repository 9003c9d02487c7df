"""Array work behind re-ranking: per-row scaling and sorting, MMR, attribute matching."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_core.errors import InputError

#: Distinct candidates whose similarities are computed at once (a dense square of floats).
_UNION_ITEMS = 2048


def minmax_rows(scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Scores mapped to [0, 1] per row over the valid entries (a constant row to 1)."""
    s = np.where(valid & np.isfinite(scores), scores, np.nan).astype(np.float32)
    lo = np.where(np.isnan(s), np.inf, s).min(axis=1, keepdims=True)
    hi = np.where(np.isnan(s), -np.inf, s).max(axis=1, keepdims=True)
    span = hi - lo
    with np.errstate(invalid="ignore"):
        out = np.where(span > 0, (s - lo) / np.where(span > 0, span, 1), 1.0)
    return np.where(np.isnan(s), 0.0, out).astype(np.float32)


def sort_rows(items: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row by score descending, ties kept in their current order, -inf entries as -1."""
    order = np.argsort(-scores, axis=1, kind="stable")
    items = np.take_along_axis(items, order, axis=1)
    scores = np.take_along_axis(scores, order, axis=1)
    return np.where(np.isneginf(scores), -1, items), scores


def candidate_similarity(
    features: sp.csr_matrix, items: np.ndarray, valid: np.ndarray
) -> np.ndarray:
    """Cosine similarity between each user's candidates: float32 [n_users, C, C].

    Users are taken in chunks; per chunk the distinct candidates' similarities are one sparse
    product, then gathered per user, so the cost does not grow with the feature count.
    Padded slots and items without features are similar to nothing (0).
    """
    n, c = items.shape
    sim = np.zeros((n, c, c), dtype=np.float32)
    step = max(1, _UNION_ITEMS // max(c, 1))
    for start in range(0, n, step):  # chunks of users, bounded memory
        rows = slice(start, start + step)
        flat = np.where(valid[rows], items[rows], 0)
        uniq, pos = np.unique(flat.ravel(), return_inverse=True)
        f = features[uniq]
        block = np.asarray((f @ f.T).toarray(), dtype=np.float32)
        pos = pos.reshape(flat.shape)
        ok = valid[rows]
        sim[rows] = block[pos[:, :, None], pos[:, None, :]] * (ok[:, :, None] & ok[:, None, :])
    return sim


def mmr_order(
    rel: np.ndarray, sim: np.ndarray, valid: np.ndarray, lambda_: float
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy MMR positions (into the candidates) and marginal values, per user.

    One vectorised step per list position; ties go to the earlier (better-scored) candidate.

    Returns:
        ``(positions int64 [n, C] with -1 past the valid ones, values float32 [n, C])``.
    """
    n, c = rel.shape
    rows = np.arange(n)
    available = valid.copy()
    max_sim = np.zeros((n, c), dtype=np.float32)
    order = np.full((n, c), -1, dtype=np.int64)
    values = np.full((n, c), -np.inf, dtype=np.float32)
    base = np.float32(lambda_) * rel
    for position in range(int(valid.sum(axis=1).max(initial=0))):
        gain = np.where(available, base - np.float32(1.0 - lambda_) * max_sim, -np.inf)
        pick = gain.argmax(axis=1)
        ok = available[rows, pick]
        order[ok, position] = pick[ok]
        values[ok, position] = gain[rows[ok], pick[ok]]
        available[rows, pick] = False
        np.maximum(max_sim, sim[rows, pick], out=max_sim)
    return order, values


def attribute_matches(table: pd.DataFrame, attribute: str, values: list[Any]) -> np.ndarray:
    """bool [n_items, len(values)]: the item's attribute equals (or its list holds) value j.

    Raises:
        InputError: for an unknown column, or when none of the values occurs in it (a typo).
    """
    if attribute not in table.columns:
        raise InputError(
            f"Business rule on {attribute!r}: the item table has no such column; "
            f"it has {list(table.columns)}."
        )
    col = table[attribute].reset_index(drop=True)
    flat = col.explode().dropna()  # list cells become one row per value, keyed by item
    numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
    out = np.zeros((len(table), len(values)), dtype=bool)
    for j, value in enumerate(values):  # a loop over the rule's few values
        target = _as_number(value, attribute) if numeric else str(value)
        hit = (flat.astype(np.float64) if numeric else flat.astype(str)) == target
        out[flat.index[hit.to_numpy()].to_numpy(dtype=np.int64), j] = True
    if values and not out.any():
        present = pd.unique(flat.astype(str))[:8].tolist()
        raise InputError(
            f"Business rule on {attribute!r}: none of {values} occurs in that column "
            f"(values there include {present}); check the spelling."
        )
    return out


def _as_number(value: Any, attribute: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(
            f"Business rule on {attribute!r}: the column is numeric but {value!r} is not a number."
        ) from None
