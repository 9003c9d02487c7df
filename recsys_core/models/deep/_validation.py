"""The validation split a deep model carves from its own training data, and NDCG on it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.evaluation.evaluate import relevant_matrix
from recsys_core.evaluation.ranking import NDCG, ranking_data
from recsys_core.models._topk import topk_rows
from recsys_core.splitting.configs import RandomHoldout
from recsys_core.splitting.splits import split

#: Validation users scored per epoch at most: enough for a stable NDCG, cheap every epoch.
MAX_VALIDATION_USERS = 1000
_BATCH_USERS = 512


@dataclass(frozen=True)
class Holdout:
    """Validation truth for a sample of users, with the items they saw in the fit data.

    Attributes:
        users: user indices evaluated (sorted).
        truth: CSR [len(users), n_items] of their relevant validation items.
        seen: CSR [len(users), n_items] of their training items, masked before ranking.
        k: the NDCG cut-off.
    """

    users: np.ndarray
    truth: sp.csr_matrix
    seen: sp.csr_matrix
    k: int

    def ndcg(self, score: Callable[[np.ndarray], np.ndarray]) -> float:
        """Mean NDCG@k of the model whose scores for user indices ``score`` returns."""
        lists = np.full((len(self.users), self.k), -1, dtype=np.int64)
        for start in range(0, len(self.users), _BATCH_USERS):
            rows = slice(start, start + _BATCH_USERS)
            scores = np.array(score(self.users[rows]), dtype=np.float32)
            sub = self.seen[rows]
            scores[np.repeat(np.arange(sub.shape[0]), np.diff(sub.indptr)), sub.indices] = -np.inf
            lists[rows] = topk_rows(scores, self.k)[0]
        metric = NDCG(self.k)
        data = ranking_data(lists, np.arange(len(self.users)), self.truth)
        return float(metric.aggregate(metric.per_user(data)))


def carve_validation(
    train: Interactions, fraction: float, k: int, random_state: int
) -> tuple[Interactions, Holdout | None]:
    """Hold out ``fraction`` of each user's pairs at random (our RandomHoldout split).

    Returns:
        The interactions to fit on and the holdout, or ``(train, None)`` when ``fraction`` is
        0 (no early stopping).

    Raises:
        InputError: when the fraction leaves no validation pair (data too small for it).
    """
    if fraction <= 0.0:
        return train, None
    try:
        parts = split(train, RandomHoldout(test_fraction=fraction), random_state)
    except InputError as exc:
        raise InputError(
            f"validation_fraction={fraction} could not carve a validation set from the "
            f"training data ({exc}). Raise it, or set it to 0 to train without early stopping."
        ) from exc
    truth = relevant_matrix(parts.test, None, parts.train)
    users = np.flatnonzero(np.diff(truth.indptr) > 0)
    if len(users) > MAX_VALIDATION_USERS:
        rng = np.random.default_rng(random_state)
        users = np.sort(rng.choice(users, MAX_VALIDATION_USERS, replace=False))
    seen = parts.train.matrix[users]
    return parts.train, Holdout(users, sp.csr_matrix(truth[users]), sp.csr_matrix(seen), k)
