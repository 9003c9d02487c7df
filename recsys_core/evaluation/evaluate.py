"""Public evaluation API: models x split x cut-offs -> summary table and per-user values.

Full ranking (the default) ranks every item the user did not interact with in train, via
``Recommender.topk``; relevant items are the user's test pairs not already seen in train
(see :func:`relevant_matrix`). Metric definitions are in :mod:`.ranking` and :mod:`.beyond`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Literal

import numpy as np

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

__all__ = [
    "EvaluationResult",
    "evaluate",
    "evaluate_table",
    "evaluate_topk",
    "relevant_matrix",
    "top_lists",
]

_BATCH_USERS = 4096


def top_lists(
    model: Recommender,
    users: np.ndarray,
    n: int,
    *,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each user's top-``n`` unseen items and scores, in batches of users.

    The one place where a list is asked of a model: :func:`evaluate` scores these lists and a
    run stores and scores the same ones, so a user's list is computed once per run. Ties break
    by item index (``topk``), so the top K of a longer list is the top-K list itself.

    Args:
        model: a fitted model.
        users: user indices of its training space.
        n: list length.
        on_batch: called with the number of users after every batch (progress).

    Returns:
        ``(items int [len(users), n], scores float [len(users), n])``, -1 / -inf padded.
    """
    users = np.asarray(users, dtype=np.int64).ravel()
    parts = []
    for start in range(0, len(users), _BATCH_USERS):
        chunk = users[start : start + _BATCH_USERS]
        parts.append(model.topk(chunk, n, exclude_seen=True))
        if on_batch is not None:
            on_batch(len(chunk))
    if not parts:
        return np.full((0, n), -1, dtype=np.int32), np.full((0, n), -np.inf, dtype=np.float32)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


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
    full = protocol == "full"
    seen = _seen_codes(split) if protocol == "sampled" else None
    results = {}
    for name, model in models.items():

        def tick(n: int, name: str = name) -> None:
            nonlocal done
            done += n
            report(progress, done, total, f"{name}: scored {done} of {total} user lists")

        if full:
            lists, _ = top_lists(model, users, cuts[-1], on_batch=tick)
            results[name] = evaluate_topk(
                lists, users, split, cuts, relevance_threshold=relevance_threshold
            )
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


def _seen_codes(split: Split) -> np.ndarray:
    """Sorted (user * n_items + item) codes of every pair in train or test."""
    n_items = split.train.n_items
    parts = [split.train, split.test] + ([split.validation] if split.validation is not None else [])
    return unique_sorted(np.concatenate([pair_codes(p.users, p.items, n_items) for p in parts]))
