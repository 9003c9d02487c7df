"""The final candidates judged on the validation side: same users, same generators, out of sample.

The single families, their blend and the ranker compete on the validation users of the search,
each fitted once on train-minus-validation. What a candidate learns from the validation side
itself (the blend's weights, the ranker's second stage) is learned on four fifths of the
validation users and scored on the fifth left out, each fifth in turn (cross-fitting;
``AutoSpec.judge_folds``), so no candidate is credited with the luck of its own pick.

Why the ranker is not simply fitted on train-minus-validation as a run fits it on train: it
would carve its labels once more from that side, so its generators saw 64% of train where the
families' saw 80%, and its value hung on a second random carve. On MovieLens
latest-small (seed 42) that judged it .2124 on validation, below the blend's .2146, while on
test it scored .3907 against the blend's .3531; cross-fitted on the families' own generators
it scores .2252 on the same validation users. Two folds instead of five judge it on a second
stage learned from half the users (the run's learns from all of them): on two more carves of
train that cost it .006 and .004, and tied it with the blend on one (.2295 each; five folds:
ranker .2304 and .2331 against the blend's .2214 and .2295).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from recsys_core.errors import InputError
from recsys_core.evaluation.evaluate import evaluate_topk, relevant_matrix, top_lists
from recsys_core.features.engineered import feature_context
from recsys_core.models._ranker_features import candidate_frame, candidates
from recsys_core.models._ranker_history import history_context
from recsys_core.models.base import Recommender
from recsys_core.models.hybrid import Hybrid
from recsys_core.models.ranker import TwoStageRanker
from recsys_core.models.registry import make_model
from recsys_core.progress import Progress, report
from recsys_core.splitting import Split
from recsys_core.tuning import metric_k
from recsys_core.tuning_auto._final import Family
from recsys_core.tuning_auto._spec import AutoSpec

__all__ = [
    "Cancelled",
    "blend_judged",
    "cross_fitted",
    "folds",
    "judge_final",
    "per_user",
    "ranker_judged",
    "scored_users",
    "weight_grid",
]


class Cancelled(Exception):
    """Raised inside a validation fit once the search is asked to stop."""


def judge_final(
    top: Sequence[Family],
    ranker: dict[str, Any] | None,
    parts: Split,
    spec: AutoSpec,
    stop: Callable[[], bool] | None = None,
    progress: Progress | None = None,
    step: tuple[int, int] = (0, 1),
) -> tuple[tuple[list[float], float] | None, tuple[dict[str, Any], float] | None]:
    """The blend's weights and value, and the ranker's value, on the validation side.

    Every model either needs (the top families, the ranker's generators) is fitted once on
    train-minus-validation. The blend needs two top families and the ranker ``ranker``'s
    params; a ranker that cannot be judged (a fold without any label among its candidates)
    is left out, since nothing would say when to use it.

    Raises:
        Cancelled: ``stop`` said so during a fit.
    """
    seed, metric = spec.seed, spec.metric

    def watch(message: str) -> None:
        if stop is not None and stop():
            raise Cancelled
        report(progress, step[0], step[1], f"judging on validation: {message}")

    wanted = [(name, params) for name, params, _ in top]
    wanted += [(g["model"], g["params"]) for g in (ranker or {}).get("generators", [])]
    fitted: dict[str, Recommender] = {}
    for name, params in wanted:
        key = json.dumps([name, params], sort_keys=True)
        if key not in fitted:
            watch(f"fitting {name}")
            model = make_model(name, {"random_state": seed, **params})
            fitted[key] = model.fit(parts.train, progress=lambda *a, n=name: watch(f"fitting {n}"))
    models = [fitted[json.dumps([n, p], sort_keys=True)] for n, p in wanted]
    fold = folds(len(scored_users(parts)), seed, spec.judge_folds)
    blend = None
    if len(top) > 1:
        watch("blend weights")
        grid = weight_grid(len(top))
        weights, values = blend_judged(models[: len(top)], grid, parts, metric, fold, seed)
        blend = (weights, float(values.mean()))
    if ranker is None:
        return blend, None
    try:
        values = ranker_judged(ranker, models[len(top) :], parts, metric, fold, seed, watch)
    except InputError:
        return blend, None
    return blend, (ranker, float(values.mean()))


def weight_grid(n: int) -> list[tuple[float, ...]]:
    """Weight vectors on a simplex grid (tenths for two models, quarters for more), each
    giving at least two models a share: a blend, not one model alone."""
    steps = 10 if n == 2 else 4
    grid = [c for c in itertools.product(range(steps + 1), repeat=n) if sum(c) == steps]
    return [tuple(w / steps for w in c) for c in grid if sum(1 for w in c if w) >= 2]


def scored_users(parts: Split) -> np.ndarray:
    """The validation users every candidate is scored on: those with a relevant validation item
    unseen in train-minus-validation (the users :func:`recsys_core.evaluation.evaluate` scores)."""
    truth = relevant_matrix(parts.test, None, parts.train)
    return np.flatnonzero(np.diff(truth.indptr) > 0)


def folds(n: int, seed: int, k: int) -> np.ndarray:
    """The fold (0 .. k-1) of each of ``n`` users: seeded, as even as ``n`` allows."""
    return np.random.default_rng(seed).permutation(n) % max(min(k, n), 1)


def per_user(top_items: np.ndarray, users: np.ndarray, parts: Split, metric: str) -> np.ndarray:
    """``metric`` of each of ``users`` (sorted, all with a relevant item) for their lists."""
    k = metric_k(metric)
    result = evaluate_topk(top_items[:, :k], users, parts, (k,))
    values = result.per_user[metric].to_numpy(dtype=np.float64)
    if len(values) != len(users):
        raise InputError("Every validation user scored must have a relevant item.")
    return values


def cross_fitted(values: np.ndarray, fold: np.ndarray) -> np.ndarray:
    """Per-user values of picking the best option, each measured where the pick was not made.

    ``values`` holds one row per option and one column per user, ``fold`` each user's fold:
    a fold's users get the values of the option best on the other folds. With one fold there
    is nothing to hold out: the best option's values.
    """
    out = values[int(values.mean(axis=1).argmax())].copy()
    if len(np.unique(fold)) < 2:
        return out
    for f in np.unique(fold):
        out[fold == f] = values[int(values[:, fold != f].mean(axis=1).argmax()), fold == f]
    return out


def blend_judged(
    models: Sequence[Recommender],
    grid: Sequence[tuple[float, ...]],
    parts: Split,
    metric: str,
    fold: np.ndarray,
    seed: int,
) -> tuple[list[float], np.ndarray]:
    """The weights best on all validation users (the ones the run uses) and the cross-fitted
    per-user values of choosing weights on validation."""
    users, k = scored_users(parts), metric_k(metric)
    values = np.vstack([
        per_user(top_lists(Hybrid.from_fitted(models, w, random_state=seed), users, k)[0],
                 users, parts, metric)
        for w in grid
    ])  # fmt: skip
    return list(grid[int(values.mean(axis=1).argmax())]), cross_fitted(values, fold)


def ranker_judged(
    params: dict[str, Any],
    gens: Sequence[Recommender],
    parts: Split,
    metric: str,
    fold: np.ndarray,
    seed: int,
    watch: Callable[[str], None] | None = None,
) -> np.ndarray:
    """Per-user validation values of the ranker ``params`` describe, cross-fitted.

    ``gens`` are its generators fitted on train-minus-validation (the same fits the families
    and the blend are judged with). Their candidates for the validation users are labelled
    by the validation pairs, as a run labels its own carve; each fold's candidates are ranked
    by a second stage trained on the other folds' users (``fold``: one per scored user).

    Raises:
        InputError: the other folds have no validation pair among their candidates.
    """
    ranker = TwoStageRanker(random_state=seed, **params)
    users, k = scored_users(parts), metric_k(metric)
    cand = candidates(gens, users, ranker.config.n_candidates)
    history = (history_context(parts.train), parts.train.matrix)
    feats = candidate_frame(feature_context(parts.train), cand, gens, history)
    n_items = parts.train.n_items
    truth = np.unique(parts.test.users.astype(np.int64) * n_items + parts.test.items)
    labels = np.isin(cand.users * n_items + cand.items, truth).astype(np.int32)
    side = fold[np.searchsorted(users, cand.users)]
    pred = np.zeros(len(labels), dtype=np.float64)
    for f in np.unique(fold):
        rows = side != f
        if not labels[rows].any():
            raise InputError("No validation pair is among the ranker's candidates to learn from.")
        if watch is not None:
            watch(f"second stage for fold {f + 1} of {fold.max() + 1}")
        groups = np.unique(cand.users[rows], return_counts=True)[1]
        scorer = ranker.rows_scorer(feats[rows], labels[rows], groups)
        pred[~rows] = np.asarray(scorer.predict(feats[~rows]), dtype=np.float64)
    return per_user(_top(cand.users, cand.items, pred, users, k), users, parts, metric)


def _top(
    cand_users: np.ndarray, items: np.ndarray, pred: np.ndarray, users: np.ndarray, k: int
) -> np.ndarray:
    """Each user's ``k`` best candidates by ``pred`` (ties by item index), -1 padded: a
    ranker's list, since every other item scores below all of a user's candidates."""
    order = np.lexsort((items, -pred, cand_users))
    u, i = cand_users[order], items[order]
    start = np.searchsorted(u, u, side="left")
    pos = np.arange(len(u)) - start
    keep = pos < k
    top = np.full((len(users), k), -1, dtype=np.int64)
    top[np.searchsorted(users, u[keep]), pos[keep]] = i[keep]
    return top
