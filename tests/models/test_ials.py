"""iALS (Rendle et al. 2021): the solves against a per-row numpy reference, the loss going
down, and reasons that add up to the score exactly."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.data.interactions import Interactions
from recsys_core.data.synth import generate, to_interactions
from recsys_core.models import ials as ials_module
from recsys_core.models.ials import IALS, solve_side


@pytest.fixture(scope="module")
def synth() -> Interactions:
    return to_interactions(generate(70, 45, 1100, seed=13))


def _loss(model: IALS, x: np.ndarray) -> float:
    c = model.config
    w = model.user_factors_.astype(np.float64)
    h = model.item_factors_.astype(np.float64)
    pred = w @ h.T
    observed = x != 0
    fit = ((pred - x)[observed] ** 2).sum() + c.alpha0 * (pred**2).sum()
    n_u, n_i = observed.sum(axis=1), observed.sum(axis=0)
    reg_u = c.reg * (n_u + c.alpha0 * x.shape[1]) ** c.nu
    reg_i = c.reg * (n_i + c.alpha0 * x.shape[0]) ** c.nu
    return float(fit + (reg_u * (w**2).sum(1)).sum() + (reg_i * (h**2).sum(1)).sum())


def _binary(train: Interactions) -> np.ndarray:
    x = train.matrix.toarray()
    x[x != 0] = 1.0
    return x


def test_each_row_is_the_exact_minimiser_of_its_weighted_least_squares(
    synth: Interactions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Row by row with plain numpy: (alpha0 H^T H + H_I^T H_I + reg_u I) w = H_I^T y."""
    monkeypatch.setattr(ials_module, "BLOCK_BYTES", 8 * 4 * 4 * 5)  # many tiny blocks
    x = _binary(synth)
    rng = np.random.default_rng(0)
    h = rng.normal(size=(synth.n_items, 4))
    reg = rng.uniform(0.5, 2.0, synth.n_users)
    got = solve_side(synth.matrix.astype(bool).astype(float).tocsr(), h, 0.3, reg)
    for u in (0, 17, 69):
        seen = np.flatnonzero(x[u])
        a = 0.3 * h.T @ h + h[seen].T @ h[seen] + reg[u] * np.eye(4)
        np.testing.assert_allclose(got[u], np.linalg.solve(a, h[seen].sum(axis=0)), rtol=1e-9)


def test_more_sweeps_lower_the_loss(synth: Interactions) -> None:
    x = _binary(synth)
    losses = [_loss(IALS(epochs=e, embedding_size=8).fit(synth), x) for e in (1, 3, 10)]
    assert losses[0] > losses[1] > losses[2]


def test_nu_zero_is_the_plain_fixed_penalty(synth: Interactions) -> None:
    model = IALS(nu=0.0, reg=0.7).fit(synth)
    assert np.allclose(model._penalty(synth.matrix.tocsr(), synth.n_items), 0.7)


def test_reasons_add_up_to_the_score_exactly(synth: Interactions) -> None:
    model = IALS(embedding_size=8).fit(synth)
    scores = model.score(np.arange(synth.n_users))
    for user, item in [(0, 3), (9, 21), (69, 44)]:
        history, parts = model.explain_parts(user, item)
        assert set(history) <= set(synth.matrix[user].indices)
        assert parts.sum() == pytest.approx(float(scores[user, item]), abs=1e-5)
