"""Array helpers that stay fast on tens of millions of rows.

NumPy 2's ``np.unique`` without ``return_*`` flags takes a hash-based path that is an order
of magnitude slower than a sort on large integer arrays, so code here sorts instead.
"""

from __future__ import annotations

import numpy as np


def unique_sorted(x: np.ndarray) -> np.ndarray:
    """Distinct values of ``x``, ascending (a sort and a neighbour comparison)."""
    s = np.sort(np.asarray(x).ravel())
    if not len(s):
        return s
    keep = np.empty(len(s), dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def n_distinct(indices: np.ndarray, size: int) -> int:
    """How many distinct values a non-negative index array holds (values below ``size``)."""
    return int(np.count_nonzero(np.bincount(indices, minlength=size)))


def pair_codes(users: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    """One int64 per (user, item) pair: user * n_items + item, ordered by user then item."""
    return users.astype(np.int64) * n_items + items
