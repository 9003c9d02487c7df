"""The validation split a deep model carves from its own training data, and NDCG on it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recsys_core.arrays import pair_codes, unique_sorted
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
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
        return mean_ndcg(lists, self.truth, self.k)


def mean_ndcg(lists: np.ndarray, truth: sp.csr_matrix, k: int) -> float:
    """Mean binary NDCG@k of list row r against truth row r, over rows with a relevant item.

    The evaluation package's NDCG, restated here so models (below evaluation) can stop
    training early without importing it; tests hold the two to the same values.
    """
    truth = sp.csr_matrix(truth, copy=True)
    truth.sum_duplicates()  # sorts the indices, which searchsorted needs
    n_items = truth.shape[1]
    counts = np.diff(truth.indptr)
    codes = np.repeat(np.arange(truth.shape[0], dtype=np.int64), counts) * n_items
    codes += truth.indices
    valid = lists >= 0
    query = np.arange(len(lists), dtype=np.int64)[:, None] * n_items + np.where(valid, lists, 0)
    pos = np.minimum(np.searchsorted(codes, query), max(len(codes) - 1, 0))
    hits = valid & (codes[pos] == query) if len(codes) else np.zeros_like(valid)
    disc = 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))
    ideal = np.concatenate([[0.0], np.cumsum(disc)])
    with np.errstate(divide="ignore", invalid="ignore"):
        values = (hits[:, :k] @ disc) / ideal[np.minimum(counts, k)]
    values = values[counts > 0]
    return float(values.mean()) if len(values) else float("nan")


def relevant_unseen(test: Interactions, seen: Interactions) -> sp.csr_matrix:
    """User x item matrix of the held-out pairs not in ``seen`` (data: the best value).

    Like the evaluation package's relevant matrix without a threshold: lists exclude seen
    items, so seen pairs could never be hits.
    """
    n_items = test.n_items
    codes = test.users.astype(np.int64) * n_items + test.items
    order = np.lexsort((test.values, codes))
    sc = codes[order]
    last = np.r_[sc[1:] != sc[:-1], True] if len(sc) else np.zeros(0, dtype=bool)
    uniq, vals = sc[last], test.values[order][last].astype(np.float64)
    if len(seen):
        seen_codes = unique_sorted(pair_codes(seen.users, seen.items, n_items))
        keep = ~np.isin(uniq, seen_codes, assume_unique=True)
        uniq, vals = uniq[keep], vals[keep]
    shape = (test.n_users, n_items)
    return sp.csr_matrix((vals, (uniq // n_items, uniq % n_items)), shape=shape)


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
    truth = relevant_unseen(parts.test, parts.train)
    users = np.flatnonzero(np.diff(truth.indptr) > 0)
    if len(users) > MAX_VALIDATION_USERS:
        rng = np.random.default_rng(random_state)
        users = np.sort(rng.choice(users, MAX_VALIDATION_USERS, replace=False))
    seen = parts.train.matrix[users]
    return parts.train, Holdout(users, sp.csr_matrix(truth[users]), sp.csr_matrix(seen), k)
