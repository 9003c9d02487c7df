"""BPR's SGD: the compiled loop is plain sequential SGD; both paths reproducible, learn blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.models import BPR, BPRConfig
from recsys_core.models.bpr import bpr_sgd


def _sequential_sgd(
    matrix: sp.csr_matrix, c: BPRConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cornac's loop, one triple at a time, on the same random draws (the reference)."""
    rng = np.random.default_rng(c.random_state)
    n_users, n_items = matrix.shape
    k = c.embedding_size
    user_f = ((rng.random((n_users, k)) - 0.5) / k).astype(np.float32)
    item_f = ((rng.random((n_items, k)) - 0.5) / k).astype(np.float32)
    bias = np.zeros(n_items, dtype=np.float32)
    owners = np.repeat(np.arange(n_users), np.diff(matrix.indptr))
    liked = {(int(u), int(i)) for u, i in zip(owners, matrix.indices, strict=True)}
    lr, reg = c.learning_rate, c.reg
    for _ in range(c.epochs):
        draw = rng.integers(0, matrix.nnz, matrix.nnz)
        negatives = rng.integers(0, n_items, matrix.nnz)
        for d, j in zip(draw, negatives, strict=True):
            u, i = int(owners[d]), int(matrix.indices[d])
            if (u, int(j)) in liked:
                continue
            x = bias[i] - bias[j] + user_f[u] @ (item_f[i] - item_f[j])
            z = 1.0 / (1.0 + np.exp(x))
            pu = user_f[u].copy()
            user_f[u] += lr * (z * (item_f[i] - item_f[j]) - reg * pu)
            item_f[i] += lr * (z * pu - reg * item_f[i])
            item_f[j] += lr * (-z * pu - reg * item_f[j])
            bias[i] += lr * (z - reg * bias[i])
            bias[j] += lr * (-z - reg * bias[j])
    return user_f, item_f, bias


def _blocks(n_users: int = 40, n_items: int = 30, seed: int = 0) -> sp.csr_matrix:
    """Two taste blocks: users 0..19 like items 0..14, the rest items 15..29 (70% each)."""
    rng = np.random.default_rng(seed)
    dense = np.zeros((n_users, n_items), dtype=np.float32)
    half_u, half_i = n_users // 2, n_items // 2
    dense[:half_u, :half_i] = rng.random((half_u, half_i)) < 0.7
    dense[half_u:, half_i:] = rng.random((n_users - half_u, n_items - half_i)) < 0.7
    return sp.csr_matrix(dense)


def test_batch_size_one_is_plain_sequential_sgd() -> None:
    matrix = _blocks(12, 10)
    config = BPRConfig(embedding_size=4, epochs=3, learning_rate=0.1, batch_size=1)
    ours = bpr_sgd(matrix, config)
    reference = _sequential_sgd(matrix, config)
    for got, want in zip(ours, reference, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("batch_size", [1, 16])
def test_refit_with_the_same_seed_is_reproducible_and_another_seed_differs(
    batch_size: int,
) -> None:
    matrix = _blocks()
    a = bpr_sgd(
        matrix, BPRConfig(embedding_size=8, epochs=3, random_state=1, batch_size=batch_size)
    )
    b = bpr_sgd(
        matrix, BPRConfig(embedding_size=8, epochs=3, random_state=1, batch_size=batch_size)
    )
    c = bpr_sgd(
        matrix, BPRConfig(embedding_size=8, epochs=3, random_state=2, batch_size=batch_size)
    )
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("batch_size", [1, 16])  # the compiled loop and numpy batches
def test_bpr_learns_each_users_block_above_the_other(batch_size: int) -> None:
    """Every unseen item of a user's own block outscores every item of the other block."""
    matrix = _blocks()
    rows, cols = matrix.nonzero()
    data = Interactions.from_frame(pd.DataFrame({Columns.user: rows, Columns.item: cols}))
    model = BPR(embedding_size=8, epochs=100, learning_rate=0.05, batch_size=batch_size)
    model.fit(data)
    scores = model.score(np.arange(data.n_users))
    item_of = np.array([int(i) for i in data.item_ids])
    user_of = np.array([int(u) for u in data.user_ids])
    own = (user_of[:, None] < 20) == (item_of[None, :] < 15)
    seen = data.matrix.toarray() > 0
    for u in range(data.n_users):
        mine = scores[u, own[u] & ~seen[u]]
        other = scores[u, ~own[u]]
        if len(mine):
            assert mine.min() > other.max()


def test_negatives_are_uniform_over_the_catalogue_not_by_popularity() -> None:
    """With one item everybody has, only uniform negatives keep it from being pushed down:
    popularity-weighted negatives would draw it as often as it is drawn as a positive."""
    n_users, n_items = 200, 50
    rng = np.random.default_rng(3)
    dense = rng.random((n_users, n_items)) < 0.05
    dense[: n_users - 20, 0] = True  # item 0: almost everybody's
    matrix = sp.csr_matrix(dense.astype(np.float32))
    _, _, bias = bpr_sgd(matrix, BPRConfig(embedding_size=4, epochs=30, learning_rate=0.05))
    assert bias[0] == bias.max()
