"""Folding in a history (``score_history``): declared per family, scored as the fit scores.

The strongest check a family can pass: a training user's own row, posted as a new
history, must score every item as the fitted model scores that user. For the item-item
families that is the same product; for ALS and iALS it is the fit's last half-step.
"""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.errors import InputError
from recsys_core.models import REGISTRY, Recommender
from tests.models.conftest import checkerboard_interactions
from tests.models.test_conformance import TEST_PARAMS

FOLDING = sorted(n for n, cls in REGISTRY.items() if cls.folds_in)


def test_the_families_that_can_fold_in_say_so() -> None:
    assert FOLDING == [
        "als",
        "content",
        "ease",
        "ials",
        "item_knn",
        "most_popular",
        "rp3beta",
        "slim",
    ]


@pytest.fixture(scope="module")
def fitted() -> dict[str, Recommender]:
    board = checkerboard_interactions()
    return {n: REGISTRY[n](**TEST_PARAMS.get(n, {})).fit(board) for n in FOLDING}


@pytest.mark.parametrize("name", FOLDING)
def test_a_training_users_own_row_scores_as_the_model_scores_them(
    name: str, fitted: dict[str, Recommender]
) -> None:
    model = fitted[name]
    assert model.capabilities.history_scoring
    matrix = model.train_.matrix
    for user in range(model.n_users):
        lo, hi = matrix.indptr[user], matrix.indptr[user + 1]
        got = model.score_history(matrix.indices[lo:hi], matrix.data[lo:hi])
        want = model.score(np.array([user]))[0]
        assert got.shape == (model.n_items,)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(set(REGISTRY) - set(FOLDING)))
def test_the_others_refuse_with_a_clear_message(name: str) -> None:
    model = REGISTRY[name](**TEST_PARAMS.get(name, {}))
    assert not model.capabilities.history_scoring
    with pytest.raises(InputError, match="cannot score a history"):
        model.score_history(np.array([0]))


def test_ease_scores_a_one_item_history_with_that_items_row_of_weights(
    fitted: dict[str, Recommender],
) -> None:
    model = fitted["ease"]
    got = model.score_history(np.array([3]))
    np.testing.assert_array_equal(got, model.weights_[3])  # type: ignore[attr-defined]


def test_a_repeated_item_counts_once_when_the_family_binarises(
    fitted: dict[str, Recommender],
) -> None:
    model = fitted["item_knn"]
    once = model.score_history(np.array([1, 2]))
    twice = model.score_history(np.array([1, 2, 2]))
    np.testing.assert_array_equal(once, twice)


def test_als_fold_in_solves_the_weighted_least_squares_of_its_objective(
    fitted: dict[str, Recommender],
) -> None:
    """Hand-built: minimise sum_i c_i (p_i - x.y_i)^2 + reg |x|^2 with c = 1 off-history,
    alpha * value on it (p = 1 there, 0 elsewhere), by a plain weighted lstsq."""
    model = fitted["als"]
    y = model.item_factors_.astype(np.float64)  # type: ignore[attr-defined]
    history = np.array([0, 4, 7])
    c = np.ones(len(y))
    c[history] = model.config.alpha  # type: ignore[attr-defined]
    p = np.zeros(len(y))
    p[history] = 1.0
    reg = model.config.reg  # type: ignore[attr-defined]
    a = np.vstack([y * np.sqrt(c)[:, None], np.sqrt(reg) * np.eye(y.shape[1])])
    b = np.concatenate([p * np.sqrt(c), np.zeros(y.shape[1])])
    x, *_ = np.linalg.lstsq(a, b, rcond=None)
    np.testing.assert_allclose(model.score_history(history), y @ x, rtol=1e-4, atol=1e-5)


def test_weights_must_match_the_items(fitted: dict[str, Recommender]) -> None:
    with pytest.raises(InputError, match="One weight per history item"):
        fitted["ease"].score_history(np.array([0, 1]), np.array([1.0]))
    with pytest.raises(InputError, match="indices must lie"):
        fitted["ease"].score_history(np.array([999]))
