"""EASE: the closed form against an independent per-column ridge solve, and the memory guard."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.models import EASE, _cooccur
from recsys_core.models.ease import ease_memory_bytes, item_gram


def _interactions(x: np.ndarray) -> Interactions:
    m = sp.coo_matrix(x)
    frame = pd.DataFrame(
        {
            Columns.user: [f"u{u:03d}" for u in m.row],
            Columns.item: [f"i{i:03d}" for i in m.col],
            Columns.weight: m.data,
        }
    )
    return Interactions.from_frame(frame)


@pytest.fixture
def tiny(rng: np.random.Generator) -> tuple[np.ndarray, Interactions]:
    x = (rng.random((30, 6)) < 0.5).astype(float)
    x[np.arange(6), np.arange(6)] = 1.0  # every item and (first six) user present
    x[6:, 0] = np.where(x[6:].sum(axis=1) == 0, 1.0, x[6:, 0])
    return x, _interactions(x)


def test_weights_equal_a_direct_ridge_solve_per_item(tiny: tuple[np.ndarray, Interactions]) -> None:
    x, data = tiny
    reg = 3.0
    weights = EASE(reg=reg).fit(data).weights_
    n = x.shape[1]
    for j in range(n):
        # EASE column j: ridge regression of item j on every other item (diagonal forced to 0).
        others = [i for i in range(n) if i != j]
        a = x[:, others]
        direct = np.linalg.solve(a.T @ a + reg * np.eye(n - 1), a.T @ x[:, j])
        np.testing.assert_allclose(weights[others, j], direct, rtol=1e-4, atol=1e-6)
        assert weights[j, j] == 0.0


def test_scores_are_history_times_weights(tiny: tuple[np.ndarray, Interactions]) -> None:
    x, data = tiny
    model = EASE(reg=3.0).fit(data)
    np.testing.assert_allclose(model.score(np.arange(30)), x @ model.weights_, rtol=1e-5, atol=1e-6)


def test_explanation_contributions_add_up_to_the_score(
    tiny: tuple[np.ndarray, Interactions],
) -> None:
    x, data = tiny
    model = EASE(reg=3.0).fit(data)
    for user in range(10):
        scores = model.score(np.array([user]))[0]
        for item in range(6):
            history, parts = model.explain_parts(user, item)
            assert set(history) <= set(np.flatnonzero(x[user]))
            assert parts.sum() == pytest.approx(scores[item], abs=1e-5)
            assert (np.diff(np.abs(parts)) <= 0).all()  # strongest reason first


def test_memory_guard_refuses_a_large_catalogue_and_names_alternatives(
    tiny: tuple[np.ndarray, Interactions],
) -> None:
    _, data = tiny
    assert ease_memory_bytes(6) == 6 * 6 * 4 * 3  # three float32 copies
    model = EASE(max_memory_gb=1e-9)
    with pytest.raises(InputError, match=r"too large for EASE.*ItemKNN or ALS"):
        model.fit(data)
    assert not model.fitted


def test_memory_guard_default_lets_a_small_catalogue_through(
    tiny: tuple[np.ndarray, Interactions],
) -> None:
    assert EASE().fit(tiny[1]).weights_.shape == (6, 6)


def test_binarize_false_uses_weights_in_the_gram_matrix(
    tiny: tuple[np.ndarray, Interactions],
) -> None:
    x, _ = tiny
    weighted = x * np.arange(1, 7)
    model = EASE(reg=3.0, binarize=False).fit(_interactions(weighted))
    g = weighted.T @ weighted + 3.0 * np.eye(6)
    p = np.linalg.inv(g)
    expected = -p / np.diag(p)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(model.weights_, expected, rtol=1e-4, atol=1e-6)


def test_weights_are_row_major_after_fit_and_after_loading_a_column_major_file(
    tiny: tuple[np.ndarray, Interactions], tmp_path
) -> None:
    """scipy copies a Fortran-ordered matrix on every sparse product: one user cost ~1 s."""
    _, inter = tiny
    model = EASE(reg=1.0).fit(inter)
    assert model.weights_.flags.c_contiguous
    expected = model.score(np.array([0, 1]))
    model.weights_ = np.asfortranarray(model.weights_)  # as files saved before the fix hold it
    model.save(tmp_path / "ease.npz")
    loaded = EASE.load(tmp_path / "ease.npz")
    np.testing.assert_allclose(loaded.score(np.array([0, 1])), expected, rtol=1e-6)
    assert loaded.weights_.flags.c_contiguous


def test_float32_inverse_mirrors_every_block_of_a_large_catalogue() -> None:
    """More items than one mirroring block: the lower triangle equals the upper everywhere."""
    from recsys_core.models.ease import _MIRROR_BLOCK, _spd_inverse

    rng = np.random.default_rng(0)
    n = _MIRROR_BLOCK * 2 + 37
    a = rng.random((n, 64)).astype(np.float32)
    gram = a @ a.T + 30 * np.eye(n, dtype=np.float32)
    inverse = _spd_inverse(gram.copy())
    assert inverse.dtype == np.float32
    np.testing.assert_array_equal(inverse, inverse.T)
    np.testing.assert_allclose(inverse, np.linalg.inv(gram.astype(np.float64)), atol=1e-6)


@pytest.mark.parametrize("dense", [True, False])
def test_item_gram_is_x_transpose_x_by_either_product(
    dense: bool, monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator
) -> None:
    x = sp.random(300, 80, density=0.1, format="csr", random_state=3)
    x.data = rng.integers(1, 6, x.nnz).astype(np.float64)  # ratings: not just co-counts
    # the ratio decides which product runs: 0 forces the sparse one, a huge one the dense one
    monkeypatch.setattr(_cooccur, "DENSE_RATIO", 1e9 if dense else 0.0)
    gram = item_gram(x)
    assert gram.dtype == np.float32 and gram.shape == (80, 80)
    np.testing.assert_array_equal(gram, (x.T @ x).toarray().astype(np.float32))
