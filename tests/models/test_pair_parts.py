"""The flat parts every family's reasons pass through: their order and the per-user products."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_core.models.explanation import PairParts, history_dots


@pytest.mark.parametrize(
    "values",
    ["continuous", "exact_ties", "float32_collisions"],
)
def test_parts_are_ordered_by_pair_then_size_then_key(values: str, rng) -> None:
    """The integer sort on float32-rounded sizes gives the exact three-key order, even where
    rounding merges sizes that differ in float64 (1 + 1e-12 vs 1) or sizes tie exactly."""
    n = 4000
    pair = rng.integers(0, 60, n)
    keys = rng.permutation(n)  # unique per pair, in no particular order
    if values == "continuous":
        v = rng.normal(size=n)
    elif values == "exact_ties":
        v = rng.integers(-3, 4, n) / 7.0
    else:
        v = (1 + rng.integers(0, 3, n) * 1e-12) * rng.choice([-1.0, 1.0], n)
    parts = PairParts.build(pair, keys, v, 60)
    keep = v != 0
    order = np.lexsort((keys[keep], -np.abs(v[keep]), pair[keep]))
    np.testing.assert_array_equal(parts.keys, keys[keep][order])
    np.testing.assert_array_equal(parts.values, v[keep][order])
    np.testing.assert_array_equal(parts.ptr, np.r_[0, np.cumsum(np.bincount(pair[keep], None, 60))])


def test_history_dots_match_dense_products_and_sum_the_rows(rng) -> None:
    rows = sp.random(5, 12, density=0.4, random_state=3, format="csr") * 3
    rows = sp.vstack([rows, sp.csr_matrix((1, 12))], format="csr")  # a user with no history
    left, right = rng.normal(size=(12, 4)), rng.normal(size=(9, 4))
    owner = np.array([0, 5, 2, 2, 0, 4, 1, 3, 2])
    sums = np.zeros((6, 4))
    pair, keys, data, dots = history_dots(rows, left, right, owner, sums)
    dense = rows.toarray()
    for p, u in enumerate(owner):
        at = pair == p
        np.testing.assert_array_equal(keys[at], rows[u].indices)
        np.testing.assert_allclose(data[at], rows[u].data)
        np.testing.assert_allclose(dots[at], left[rows[u].indices] @ right[p], rtol=1e-12)
    np.testing.assert_allclose(sums, dense @ left, rtol=1e-12, atol=1e-12)
