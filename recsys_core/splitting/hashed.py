"""A random per-user split keyed by a hash of (user, item, seed) instead of a random stream.

The local random holdout draws from numpy's generator, which a cluster cannot replay. This
protocol has the same definition (distinct pairs, each user's pairs in a random order, the
first ``floor(f * count + U)`` held out, every user keeping one training pair) but takes its
order and its ``U`` from a hash computable row by row in Spark SQL with 64-bit integers. The
Spark engine computes it there; readers of a Spark run recompute it here, and a test checks
that both give the same assignment.
"""

from __future__ import annotations

import numpy as np

from recsys_core.arrays import pair_codes

#: The Mersenne prime 2**31 - 1: products of two residues stay below 2**62 (no overflow).
P = 2_147_483_647
M1, M2, M3 = 1_103_515_245, 2_013_265_921, 1_664_525
#: Added to the seed for each user's uniform draw, so it is not the hash of a pair.
U_SALT = 7_919


def mix(a: np.ndarray, b: np.ndarray, seed: int) -> np.ndarray:
    """A hash in [0, P) of two non-negative integer arrays; ``hash_sql`` is the same in SQL."""
    s = np.int64(seed % P)
    x = np.mod(a.astype(np.int64) * M1 + s, P)
    x = np.mod(x * M2 + b.astype(np.int64), P)
    x = np.mod(x * M3 + 12_345, P)
    x = x ^ (x >> 16)
    return np.mod(x * M1, P)


def hash_sql(a: str, b: str, seed: int) -> str:
    """:func:`mix` as a Spark SQL expression over the integer columns ``a`` and ``b``."""
    s = seed % P
    x = f"pmod(cast({a} as bigint) * {M1} + {s}, {P})"
    x = f"pmod({x} * {M2} + cast({b} as bigint), {P})"
    x = f"pmod({x} * {M3} + 12345, {P})"
    return f"pmod(({x} ^ shiftright({x}, 16)) * {M1}, {P})"


def hashed_random_mask(
    users: np.ndarray, items: np.ndarray, n_users: int, n_items: int, fraction: float, seed: int
) -> np.ndarray:
    """Is-test per interaction; repeats of a pair share its side."""
    codes, inverse = np.unique(pair_codes(users, items, n_items), return_inverse=True)
    pu, pi = codes // n_items, codes % n_items
    key = mix(pu, pi, seed)
    order = np.lexsort((pi, key, pu))  # per user, by hash then item
    counts = np.bincount(pu, minlength=n_users)
    starts = np.cumsum(counts) - counts
    pos = np.empty(len(codes), dtype=np.int64)
    pos[order] = np.arange(len(codes)) - starts[pu[order]]
    uniform = mix(np.arange(n_users), np.zeros(n_users, dtype=np.int64), seed + U_SALT) / P
    n_test = np.floor(fraction * counts + uniform).astype(np.int64)
    n_test = np.where(counts >= 2, np.clip(n_test, 0, np.maximum(counts - 1, 0)), 0)
    return (pos < n_test[pu])[inverse.ravel()]
