"""Deterministic row-wise top-k over dense score blocks (ties by item index ascending)."""

from __future__ import annotations

import numpy as np


def topk_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best columns of each row, best first; -inf entries come back as item -1.

    A plain argpartition picks an arbitrary subset among items tied at the k-th score, so a
    model's recommendations could change with batch size. Here every item strictly above the
    k-th score is taken, and the remaining places go to the tied items of lowest index.

    Args:
        scores: float array ``[n_rows, n_items]``; -inf marks unavailable items; not modified.
        k: how many columns to return; rows are padded with -1 / -inf past ``n_items``.

    Returns:
        ``(items int32 [n_rows, k], scores float32 [n_rows, k])``.
    """
    n_rows, n_items = scores.shape
    items = np.full((n_rows, k), -1, dtype=np.int32)
    values = np.full((n_rows, k), -np.inf, dtype=np.float32)
    kk = min(k, n_items)
    if n_rows == 0 or kk == 0:
        return items, values
    cols = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
    vals = np.take_along_axis(scores, cols, axis=1)
    kth = vals.min(axis=1, keepdims=True)
    # Rows where more items tie at the k-th score than were taken: the choice among them was
    # arbitrary, so redo those (rare) rows with the exact rule.
    crossing = (scores == kth).sum(axis=1) > (vals == kth).sum(axis=1)
    if crossing.any():
        cols[crossing] = exact_rows(scores[crossing], kth[crossing], kk)
        vals[crossing] = np.take_along_axis(scores[crossing], cols[crossing], axis=1)
    order = np.lexsort((cols, -vals))  # by score descending, then item index ascending
    cols = np.take_along_axis(cols, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    items[:, :kk] = np.where(np.isneginf(vals), -1, cols)
    values[:, :kk] = vals
    return items, values


def exact_rows(scores: np.ndarray, kth: np.ndarray, kk: int) -> np.ndarray:
    """Columns above the k-th score plus the lowest-index ties, ``kk`` per row, unordered."""
    above = scores > kth
    tied = scores == kth
    room = kk - above.sum(axis=1, keepdims=True)
    chosen = above | (tied & (np.cumsum(tied, axis=1) <= room))
    # nonzero walks rows in order: exactly kk columns per row by construction.
    return np.nonzero(chosen)[1].reshape(len(scores), kk)
