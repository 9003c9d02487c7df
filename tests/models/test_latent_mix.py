"""The NNLS mix behind embedding models' reasons: the QR shortcut and the history cap."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import nnls

from recsys_core.models._latent import MIX_ITEMS, _mix, latent_history_parts, latent_parts_many


def test_fewer_items_than_dimensions_give_the_plain_nnls_weights() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 30))  # 12 history items in 30 dimensions: the QR path
    history = np.arange(0, 24, 2)
    user = np.abs(rng.normal(size=12)) @ vectors[history] + 0.1 * rng.normal(size=30)
    items, weights = _mix(user, vectors, history)
    plain, _ = nnls(vectors[history].T, user)
    np.testing.assert_array_equal(items, history)
    np.testing.assert_allclose(weights, plain, atol=1e-10)


def test_a_long_history_mixes_only_its_most_aligned_items() -> None:
    rng = np.random.default_rng(1)
    n = MIX_ITEMS + 50
    vectors = rng.normal(size=(n, 8))
    user = rng.normal(size=8)
    history = np.arange(n)
    items, _ = _mix(user, vectors, history)
    cosine = vectors @ user / np.linalg.norm(vectors, axis=1)
    assert len(items) == MIX_ITEMS
    assert set(items) == set(np.argsort(-cosine)[:MIX_ITEMS])
    # the 50 least aligned items get no part of any score
    found, _ = latent_history_parts(user, vectors, history, 0)
    assert not set(found) & set(np.argsort(cosine)[:50])


def test_many_pairs_equal_one_pair_at_a_time() -> None:
    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(300, 16))
    users = rng.normal(size=(3, 16))
    rows = [np.arange(0, 200), np.arange(100, 110), np.arange(250, 300)]  # long, short, mid
    matrix = sp.csr_matrix(
        (np.ones(sum(map(len, rows))), np.concatenate(rows), np.cumsum([0, *map(len, rows)])),
        shape=(3, 300),
    )
    pairs = (np.array([2, 0, 1, 0, 2]), np.array([5, 7, 9, 11, 13]))
    many = latent_parts_many(users, vectors, matrix, pairs)
    for p, (u, i) in enumerate(zip(*pairs, strict=True)):
        items, parts = latent_history_parts(users[u], vectors, rows[u], i)
        lo, hi = many.ptr[p], many.ptr[p + 1]
        np.testing.assert_array_equal(many.keys[lo:hi], items)
        np.testing.assert_allclose(many.values[lo:hi], parts, atol=1e-12)
