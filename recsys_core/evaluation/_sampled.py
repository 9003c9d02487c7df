"""Sampled ranking: each relevant item ranked among random unseen negatives.

Faster than full ranking on huge catalogues but biased (it flatters every model and can
reorder them), so the workbench uses it only when the analyst asks. For each relevant test
pair (u, i), ``n_negatives`` items are drawn uniformly with replacement from the items u
never interacted with (train or test). The pair's rank is the number of negatives scored
above i, plus those tied with i that have a lower item index (the same tie rule as full
ranking). Each pair is a list with one relevant item, so Precision@K = hit / K, Recall@K =
HitRate@K = hit, NDCG@K = hit / log2(rank + 1), MAP@K = MRR@K = hit / rank; a user's value
is the mean over the user's pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_core.columns import Columns
from recsys_core.evaluation._core import EvaluationResult
from recsys_core.evaluation.ranking import RankingData, accuracy_metrics

_MAX_REDRAWS = 20


def sample_negatives(
    pair_users: np.ndarray,
    seen_codes: np.ndarray,
    n_items: int,
    n_negatives: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """[n_pairs, n_negatives] item indices the pair's user never saw; -1 if none was found.

    Redraws only the rejected cells, a few rounds, so a user who saw most of the catalogue
    cannot stall the loop (leftovers are -1 and ignored).
    """
    draws = rng.integers(0, n_items, size=(len(pair_users), n_negatives))
    base = np.repeat(pair_users.astype(np.int64) * n_items, n_negatives)
    flat = draws.reshape(-1)
    todo = np.flatnonzero(_seen(base + flat, seen_codes))
    for _ in range(_MAX_REDRAWS):
        if not len(todo):
            break
        flat[todo] = rng.integers(0, n_items, size=len(todo))
        todo = todo[_seen(base[todo] + flat[todo], seen_codes)]  # re-check only the redrawn
    flat[todo] = -1
    return draws


def _seen(codes: np.ndarray, sorted_codes: np.ndarray) -> np.ndarray:
    if not len(sorted_codes):
        return np.zeros(codes.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_codes, codes), len(sorted_codes) - 1)
    return sorted_codes[pos] == codes


def pair_ranks(
    scores: np.ndarray, rows: np.ndarray, pos: np.ndarray, neg: np.ndarray
) -> np.ndarray:
    """0-based rank of each positive among its negatives (ties: lower item index first)."""
    s = np.where(np.isnan(scores), -np.inf, scores)
    p = s[rows, pos][:, None]
    n = np.where(neg >= 0, s[rows[:, None], np.maximum(neg, 0)], -np.inf)
    ahead = (n > p) | ((n == p) & (neg < pos[:, None]) & (neg >= 0))
    return ahead.sum(axis=1)


def sampled_result(
    score: Callable[[np.ndarray], np.ndarray],
    truth: sp.csr_matrix,
    seen_codes: np.ndarray,
    user_ids: np.ndarray,
    ks: Sequence[int],
    *,
    n_negatives: int,
    rng: np.random.Generator,
    on_batch: Callable[[int], None] | None = None,
) -> EvaluationResult:
    """Metrics of one model under the sampled protocol (``score(users) -> [b, n_items]``)."""
    n_items = truth.shape[1]
    users = np.flatnonzero(np.diff(truth.indptr) > 0)
    batch = max(1, min(2048, 2**24 // max(n_items, 1)))
    ranks = np.empty(truth.nnz, dtype=np.int64)
    owner = np.repeat(np.arange(truth.shape[0]), np.diff(truth.indptr))
    for start in range(0, len(users), batch):
        chunk = users[start : start + batch]
        sub = truth[chunk]
        rows = np.repeat(np.arange(len(chunk)), np.diff(sub.indptr))
        neg = sample_negatives(chunk[rows], seen_codes, n_items, n_negatives, rng)
        lo, hi = truth.indptr[chunk[0]], truth.indptr[chunk[-1] + 1]
        ranks[lo:hi] = pair_ranks(score(chunk), rows, sub.indices, neg)
        if on_batch is not None:
            on_batch(len(chunk))
    return _per_pair_result(ranks, owner, users, user_ids, ks)


def _per_pair_result(
    ranks: np.ndarray, owner: np.ndarray, users: np.ndarray, user_ids: np.ndarray, ks: Sequence[int]
) -> EvaluationResult:
    kmax = max(ks)
    hits = np.zeros((len(ranks), kmax), dtype=bool)
    inside = ranks < kmax
    hits[np.flatnonzero(inside), ranks[inside]] = True
    data = RankingData(hits, np.ones(len(ranks), dtype=np.int64))
    counts = np.bincount(owner, minlength=users.max() + 1)[users]
    columns, summary = {}, {}
    for metric in accuracy_metrics(ks):
        per_pair = metric.per_user(data)
        per_user = np.bincount(owner, weights=per_pair, minlength=users.max() + 1)[users] / counts
        columns[metric.label], summary[metric.label] = per_user, metric.aggregate(per_user)
    frame = pd.DataFrame({"value": pd.Series(summary, dtype=np.float64)})
    frame.index.name = "metric"
    per_user_frame = pd.DataFrame({Columns.user: np.asarray(user_ids)[users], **columns})
    return EvaluationResult(frame, per_user_frame)
