"""The deep models' own NDCG and relevant matrix agree with the evaluation package's.

Models sit below evaluation, so early stopping and the fusion ablation restate the two
pieces they need; these tests keep the copies honest.
"""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.data.synth import generate, to_interactions
from recsys_core.evaluation.evaluate import relevant_matrix
from recsys_core.evaluation.ranking import NDCG, ranking_data
from recsys_core.models.deep._validation import mean_ndcg, relevant_unseen
from recsys_core.splitting import RandomHoldout, split


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_relevant_unseen_and_mean_ndcg_match_evaluation(seed: int) -> None:
    parts = split(to_interactions(generate(60, 40, 900, seed=seed)), RandomHoldout(), seed)
    ours = relevant_unseen(parts.test, parts.train)
    theirs = relevant_matrix(parts.test, None, parts.train)
    assert (ours != theirs).nnz == 0
    rng = np.random.default_rng(seed)
    users = np.flatnonzero(np.diff(ours.indptr) > 0)
    lists = rng.integers(-1, parts.test.n_items, size=(len(users), 10))
    truth = ours[users]
    expected = NDCG(10).aggregate(
        NDCG(10).per_user(ranking_data(lists, np.arange(len(users)), truth))
    )
    assert mean_ndcg(lists, truth, 10) == pytest.approx(expected, abs=1e-12)


def test_mean_ndcg_skips_rows_without_a_relevant_item() -> None:
    import scipy.sparse as sp

    truth = sp.csr_matrix(np.array([[1.0, 0, 0], [0, 0, 0]]))
    lists = np.array([[0, 1], [2, 1]])
    assert mean_ndcg(lists, truth, 2) == 1.0
