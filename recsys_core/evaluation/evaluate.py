"""Public evaluation API: models x split x cut-offs -> summary table and per-user values.

Full ranking (the default) ranks every item the user did not interact with in train, via
``Recommender.topk``; relevant items are the user's test pairs not already seen in train
(see :func:`relevant_matrix`). Metric definitions are in :mod:`.ranking` and :mod:`.beyond`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Literal

import numpy as np
import scipy.sparse as sp

from recsys_core.arrays import n_distinct, pair_codes, unique_sorted
from recsys_core.errors import InputError
from recsys_core.evaluation._core import (
    EvaluationResult,
    check_ks,
    combine,
    relevant_matrix,
    score_lists,
)
from recsys_core.evaluation._sampled import sampled_result
from recsys_core.evaluation._table import evaluate_table
from recsys_core.evaluation.beyond import BeyondContext
from recsys_core.progress import Progress, report
from recsys_core.splitting.splits import Split

if TYPE_CHECKING:
    from recsys_core.models.base import Recommender

__all__ = ["EvaluationResult", "evaluate", "evaluate_table", "evaluate_topk", "relevant_matrix"]

_BATCH_USERS = 4096


def evaluate_topk(
    top_items: np.ndarray,
    users: np.ndarray,
    split: Split,
    ks: Iterable[int] = (5, 10, 20),
    *,
    relevance_threshold: float | None = None,
    graded: bool = False,
    exclude_seen: bool = True,
) -> EvaluationResult:
    """Score lists given as index arrays against the split's test side.

    Every test user with a relevant item is evaluated; one missing from ``users`` has no
    list and scores 0. Rows of ``users`` with nothing relevant are ignored.

    Args:
        top_items: int [len(users), K] item indices of the split's space, -1 padded.
        users: user indices, one per row of ``top_items``, no repeats.
        split: gives the test truth, training popularity and item features.
        ks: cut-offs; K must be at least the largest.
        relevance_threshold: count only test ratings >= this value as relevant.
        graded: also report graded NDCG (gain = rating).
        exclude_seen: the lists exclude training items (``topk``'s default), so test pairs
            already seen in train are not counted as relevant.
    """
    cuts = check_ks(ks)
    top_items = np.asarray(top_items)
    users = np.asarray(users, dtype=np.int64).ravel()
    n_users = split.train.n_users
    if top_items.ndim != 2 or len(top_items) != len(users):
        raise InputError("top_items must have one row per user index in users.")
    if top_items.shape[1] < cuts[-1]:
        raise InputError(f"Lists hold {top_items.shape[1]} items but k goes up to {cuts[-1]}.")
    if users.size and (users.min() < 0 or users.max() >= n_users):
        raise InputError(f"User indices must lie in [0, {n_users}).")
    if n_distinct(users, n_users) != len(users):
        raise InputError("users repeats an index: give each user one list.")
    truth = relevant_matrix(split.test, relevance_threshold, split.train if exclude_seen else None)
    row_of = np.full(n_users, -1, dtype=np.int64)
    row_of[users] = np.arange(len(users))
    lists = np.full((n_users, cuts[-1]), -1, dtype=np.int64)
    has = row_of >= 0
    lists[has] = top_items[row_of[has], : cuts[-1]]
    context = BeyondContext.from_train(split.train)
    return score_lists(lists, truth, split.train.user_ids, cuts, graded=graded, context=context)


def evaluate(
    models: Mapping[str, Recommender],
    split: Split,
    ks: Iterable[int] = (10,),
    *,
    relevance_threshold: float | None = None,
    protocol: Literal["full", "sampled"] = "full",
    n_negatives: int = 100,
    random_state: int = 42,
    progress: Progress | None = None,
) -> EvaluationResult:
    """Evaluate fitted models on a split; one table for all of them.

    Args:
        models: display name -> a model fitted on ``split.train``.
        split: the split the models were fitted on.
        ks: cut-offs.
        relevance_threshold: count only test ratings >= this value as relevant.
        protocol: "full" ranks all items unseen in train; "sampled" ranks each relevant
            item among ``n_negatives`` random unseen items (see :mod:`._sampled`); it
            reports accuracy metrics only, since its candidate lists say nothing about
            coverage or novelty.
        n_negatives: negatives per relevant item for the sampled protocol.
        random_state: seed for the negatives.
        progress: called after every batch of users.

    Returns:
        A result with a ``model`` column when there are several models.
    """
    cuts = check_ks(ks)
    _check_args(models, split, protocol, n_negatives)
    truth = relevant_matrix(split.test, relevance_threshold, split.train)
    users = np.flatnonzero(np.diff(truth.indptr) > 0)
    if not len(users):
        raise InputError("No test user has a relevant item: check the split and the threshold.")
    total, done = len(users) * len(models), 0
    context = BeyondContext.from_train(split.train) if protocol == "full" else None
    seen = _seen_codes(split) if protocol == "sampled" else None
    results = {}
    for name, model in models.items():

        def tick(n: int, name: str = name) -> None:
            nonlocal done
            done += n
            report(progress, done, total, f"{name}: scored {done} of {total} user lists")

        if context is not None:
            results[name] = _full(model, split, truth, users, cuts, context, tick)
        else:
            assert seen is not None
            rng = np.random.default_rng(random_state)  # the same negatives for every model
            results[name] = sampled_result(
                model.score,
                truth,
                seen,
                split.train.user_ids,
                cuts,
                n_negatives=n_negatives,
                rng=rng,
                on_batch=tick,
            )
    return combine(results)


def _check_args(
    models: Mapping[str, Recommender], split: Split, protocol: str, n_negatives: int
) -> None:
    if not models:
        raise InputError("Pick at least one model to evaluate.")
    if protocol not in ("full", "sampled"):
        raise InputError(f"protocol must be 'full' or 'sampled'; got {protocol!r}.")
    if protocol == "sampled" and n_negatives < 1:
        raise InputError(f"n_negatives must be at least 1; got {n_negatives}.")
    for name, model in models.items():
        _check_model(name, model, split)


def _check_model(name: str, model: Recommender, split: Split) -> None:
    if not getattr(model, "fitted", False):
        raise InputError(f"Model {name!r} is not fitted: train it on the split first.")
    if model.n_users != split.train.n_users or model.n_items != split.train.n_items:
        raise InputError(
            f"Model {name!r} was fitted on data with {model.n_users} users and "
            f"{model.n_items} items, but the split has {split.train.n_users} and "
            f"{split.train.n_items}: fit it on this split's training side."
        )


def _full(
    model: Recommender,
    split: Split,
    truth: sp.csr_matrix,
    users: np.ndarray,
    cuts: tuple[int, ...],
    context: BeyondContext,
    tick: Callable[[int], None],
) -> EvaluationResult:
    """Top-K of every evaluated user in batches (progress after each), then the metrics."""
    lists = np.full((split.train.n_users, cuts[-1]), -1, dtype=np.int64)
    for start in range(0, len(users), _BATCH_USERS):
        chunk = users[start : start + _BATCH_USERS]
        items, _ = model.topk(chunk, cuts[-1], exclude_seen=True)
        lists[chunk] = items
        tick(len(chunk))
    return score_lists(lists, truth, split.train.user_ids, cuts, context=context)


def _seen_codes(split: Split) -> np.ndarray:
    """Sorted (user * n_items + item) codes of every pair in train or test."""
    n_items = split.train.n_items
    parts = [split.train, split.test] + ([split.validation] if split.validation is not None else [])
    return unique_sorted(np.concatenate([pair_codes(p.users, p.items, n_items) for p in parts]))
