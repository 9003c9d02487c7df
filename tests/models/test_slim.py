"""SLIM ElasticNet against scikit-learn's own regression on every column, and its reasons."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import ElasticNet

from recsys_core.data.interactions import Interactions
from recsys_core.data.synth import generate, to_interactions
from recsys_core.models import slim as slim_module
from recsys_core.models.slim import SLIM


@pytest.fixture(scope="module")
def synth() -> Interactions:
    return to_interactions(generate(80, 50, 1200, seed=11))


def _binary(train: Interactions) -> np.ndarray:
    x = train.matrix.toarray()
    x[x != 0] = 1.0
    return x


def test_weights_are_the_full_regressions_with_the_target_column_blanked(
    synth: Interactions,
) -> None:
    """Fitting on co-occurring columns only gives what the textbook fit on all columns gives."""
    model = SLIM(reg=0.01, l1_ratio=0.2, n_neighbors=50, max_iter=2000).fit(synth)
    x = _binary(synth)
    w = model.similarity_.toarray()
    for j in (0, 7, 31):
        blanked = x.copy()
        blanked[:, j] = 0.0
        net = ElasticNet(alpha=0.01, l1_ratio=0.2, positive=True, fit_intercept=False,
                         max_iter=2000, tol=1e-4)  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net.fit(sp.csc_matrix(blanked), x[:, j])
        np.testing.assert_allclose(w[:, j], net.coef_, atol=2e-4)
    assert (w >= 0).all() and np.diag(w).tolist() == [0.0] * synth.n_items


def test_pruning_keeps_the_largest_weights_per_item(synth: Interactions) -> None:
    full = SLIM(reg=0.003, n_neighbors=1000).fit(synth).similarity_.toarray()
    pruned = SLIM(reg=0.003, n_neighbors=3).fit(synth).similarity_.toarray()
    assert (np.count_nonzero(pruned, axis=0) <= 3).all()
    for j in range(synth.n_items):
        kept = np.flatnonzero(pruned[:, j])
        assert set(kept) <= set(np.argsort(-full[:, j])[: max(3, len(kept))])


def test_workers_and_chunks_do_not_change_the_weights(
    synth: Interactions, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = SLIM(num_threads=1).fit(synth).similarity_
    monkeypatch.setattr(slim_module, "CHUNK", 7)  # eight chunks over two workers
    two = SLIM(num_threads=2).fit(synth).similarity_
    assert (one != two).nnz == 0


def test_scores_are_history_times_weights_and_reasons_add_up(synth: Interactions) -> None:
    model = SLIM().fit(synth)
    dense = _binary(synth) @ model.similarity_.toarray()
    np.testing.assert_allclose(model.score(np.arange(synth.n_users)), dense, rtol=1e-5)
    for user, item in [(0, 3), (9, 21), (79, 49)]:
        history, parts = model.explain_parts(user, item)
        assert set(history) <= set(synth.matrix[user].indices)
        assert parts.sum() == pytest.approx(dense[user, item], rel=1e-5, abs=1e-7)
