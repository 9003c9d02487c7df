"""The two-stage ranker's candidates and their features: each generator's top lists merged,
then every candidate scored by every generator, ranked and standardised within its user."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_core.errors import InputError
from recsys_core.features.engineered import (
    FEATURES,
    FeatureContext,
    features_from_context,
    generator_feature_descriptions,
)
from recsys_core.models._ranker_history import HISTORY_FEATURES, HistoryContext, history_features
from recsys_core.models.base import Recommender

__all__ = [
    "Candidates",
    "candidate_frame",
    "candidates",
    "feature_descriptions",
    "generator_keys",
    "rank_within",
    "z_within",
]


@dataclass(frozen=True)
class Candidates:
    """Candidate pairs sorted by (user, item), with each generator's score and rank."""

    users: np.ndarray
    items: np.ndarray
    scores: dict[str, np.ndarray]
    ranks: dict[str, np.ndarray]


def feature_descriptions(keys: list[str]) -> dict[str, str]:
    """What every candidate feature means: the engineered and history features, and each
    generator's own (named by its key)."""
    return {**FEATURES, **HISTORY_FEATURES, **generator_feature_descriptions(keys)}


def generator_keys(models: Sequence[Recommender]) -> list[str]:
    """Feature-name key per generator: its name, numbered when a name repeats."""
    names = [m.name for m in models]
    return [n if names.count(n) == 1 else f"{n}{i}" for i, n in enumerate(names)]


def candidates(models: Sequence[Recommender], users: np.ndarray, n: int) -> Candidates:
    """The union of each model's top-``n`` unseen items per user (vectorised merge).

    Raises:
        InputError: when no generator is given.
    """
    if not models:
        raise InputError("A two-stage ranker needs at least one candidate generator model.")
    users = np.asarray(users, dtype=np.int64)
    n_items = models[0].n_items
    tops = [m.topk(users, n) for m in models]
    codes_per = []
    for items, _ in tops:
        ok = items >= 0
        codes_per.append(np.repeat(users, ok.sum(axis=1)) * n_items + items[ok])
    codes = np.unique(np.concatenate(codes_per))
    scores, ranks = {}, {}
    for key, (items, vals), own in zip(generator_keys(models), tops, codes_per, strict=True):
        ok = items >= 0
        order = np.argsort(own, kind="stable")
        pos = np.searchsorted(own[order], codes)
        pos = np.minimum(pos, max(len(own) - 1, 0))
        hit = own[order][pos] == codes if len(own) else np.zeros(len(codes), bool)
        flat_scores = vals[ok][order]
        flat_ranks = (np.nonzero(ok)[1] + 1)[order]
        scores[key] = np.where(hit, flat_scores[pos] if len(own) else 0.0, np.nan)
        ranks[key] = np.where(hit, flat_ranks[pos] if len(own) else 0, n + 1).astype(np.float64)
    return Candidates(codes // n_items, codes % n_items, scores, ranks)


#: Per-user constants left out of the ranker: LambdaRank orders items within a user, so these
#: could only act through interactions, and on a validation side carved from MovieLens
#: latest-small's train they cost NDCG@10 (.2189 with them, .2212 without, 7 generators).
#: Activity and days since the last visit stay (they modulate how far to trust popularity).
UNUSED_USER_FEATURES = (
    "user_tenure_days",
    "user_top_category_share",
    "user_mean_rating",
    "last_hour",
    "last_weekday",
)


def candidate_frame(
    ctx: FeatureContext,
    cand: Candidates,
    gens: Sequence[Recommender],
    history: tuple[HistoryContext, sp.csr_matrix] | None = None,
    rows: np.ndarray | None = None,
) -> pd.DataFrame:
    """The ranker's features of every candidate: engineered ones, then per generator the
    candidate's rank among the user's candidates by its score, that score's z-value among
    them, and its rank in the generator's own top list; then, given the history tables and
    the training matrix, the history features (:mod:`._ranker_history`).

    Every generator scores every candidate, not only those in its own top list: an item
    another generator proposed is not "unknown" to it. Raw scores are left out: their scale
    differs between users and between generators fitted on part of train (where the ranker
    learns) and on all of it (where it scores), and with seven generators they cost
    validation NDCG@10 .2212 -> .2236 without them. Ranks and z-values are per user.

    ``rows`` (positions in ``cand``): only those rows' features, the same values. Ranks and
    z-values still come from all of each user's candidates; the other features are each a
    function of its own pair, so they are computed for those rows alone (reasons for a top
    3 need ~3% of the candidates' rows: the history features were a quarter of their time).
    """
    at = slice(None) if rows is None else np.asarray(rows, dtype=np.int64)
    users, items = cand.users[at], cand.items[at]
    feats = features_from_context(ctx, users, items, {}, {})
    feats = feats.drop(columns=list(UNUSED_USER_FEATURES))
    for key, gen in zip(generator_keys(gens), gens, strict=True):
        value = gen.score_pairs(cand.users, cand.items)
        value = np.where(np.isfinite(value), value, np.nan)
        feats[f"rank_{key}"] = rank_within(cand.users, value)[at]
        feats[f"z_{key}"] = z_within(cand.users, value)[at]
        feats[f"list_{key}"] = cand.ranks[key][at]
    if history is not None:
        for name, col in history_features(*history, users, items).items():
            feats[name] = col
    return feats


def rank_within(users: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Rank of each row among its user's rows by ``values`` (1 = highest; rows by user)."""
    order = np.lexsort((-values, users))
    sorted_users = users[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    sizes = np.diff(np.r_[starts, len(users)])
    ranks = np.empty(len(users), dtype=np.float64)
    ranks[order] = np.arange(len(users)) - np.repeat(starts, sizes) + 1
    return ranks


def z_within(users: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``(value - user's mean) / user's std`` over each user's rows (0 when all are equal).

    Non-finite values (a generator's "never" as -inf) stay NaN and out of the statistics.
    """
    ok = np.isfinite(values)
    _, group = np.unique(users, return_inverse=True)
    clean = np.where(ok, values, 0.0)
    count = np.bincount(group, weights=ok.astype(np.float64))
    safe = np.maximum(count, 1.0)
    mean = np.bincount(group, weights=clean) / safe
    centred = np.where(ok, clean - mean[group], 0.0)
    std = np.sqrt(np.bincount(group, weights=centred**2) / safe)[group]
    z = np.divide(centred, std, out=np.zeros_like(centred), where=std > 0)
    return np.where(ok, z, np.nan)
