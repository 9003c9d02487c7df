"""Re-ranking of candidate lists: diversity (MMR), a popularity penalty and business rules.

Steps take each user's candidates (item indices and scores, best first, ``-1`` / ``-inf``
padded, as :meth:`Recommender.topk` returns them with a larger K) and return them re-ordered;
:func:`rerank` applies a :class:`RerankConfig` and cuts the lists to ``k``. Work is
vectorised across users: MMR is a greedy loop over list positions, never over users.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from recsys_core._rerank_ops import (
    attribute_matches,
    candidate_similarity,
    minmax_rows,
    mmr_order,
    sort_rows,
)
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.evaluation.beyond import item_feature_matrix
from recsys_core.models._blend import InstanceFlag
from recsys_core.models.base import Recommender, RecommenderConfig, check_indices
from recsys_core.progress import Progress

#: Users re-ranked together; bounds the [users, candidates, candidates] similarity block.
_BATCH_USERS = 1024

Value = str | int | float | bool

__all__ = [
    "MMR",
    "BusinessRules",
    "PopularityPenalty",
    "RerankConfig",
    "RerankContext",
    "RerankStep",
    "Reranked",
    "RerankedConfig",
    "attribute_matches",
    "candidate_similarity",
    "minmax_rows",
    "mmr_order",
    "rerank",
    "sort_rows",
]


@dataclass
class RerankContext:
    """Catalogue facts the steps need, computed once per training set and reused by batches."""

    train: Interactions
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def log_popularity(self) -> np.ndarray:
        """log(1 + distinct training users) per item, divided by its maximum: [0, 1]."""
        if "pop" not in self._cache:
            m = self.train.matrix
            users = np.bincount(m.indices, minlength=self.train.n_items).astype(np.float64)
            self._cache["pop"] = np.log1p(users) / max(np.log1p(users.max()), 1e-12)
        return np.asarray(self._cache["pop"])

    def features(self, columns: list[str] | None) -> sp.csr_matrix:
        """L2-normalised multi-hot item vectors (as the ILD metric uses) for similarity."""
        key = f"features:{columns}"
        if key not in self._cache:
            table = _lists_as_text(self.item_table("MMR"))
            feats = item_feature_matrix(table, self.train.item_ids, columns=columns)
            if feats is None:
                raise InputError(
                    "MMR found no categorical item feature to compare items by; name the "
                    f"columns to use (the item table has {list(table.columns)})."
                )
            self._cache[key] = feats
        return self._cache[key]

    def item_table(self, step: str) -> pd.DataFrame:
        """Item features aligned with the item index space (missing items: empty rows)."""
        table = self.train.item_features
        if table is None or table.empty:
            raise InputError(
                f"{step} needs item features (an item table); import one with the dataset."
            )
        table = table[~table.index.astype(str).duplicated()]
        return table.set_axis(table.index.astype(str)).reindex(
            pd.Index(np.asarray(self.train.item_ids, dtype=str))
        )

    def cached(self, key: str, make: Any) -> Any:
        """A value computed once per context (item-level masks of business rules)."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]


def _lists_as_text(table: pd.DataFrame) -> pd.DataFrame:
    """Multi-valued (list) columns as "a|b" text, the form ``item_feature_matrix`` splits."""
    out = table.copy()
    for name in out.columns:  # a loop over columns; each join runs over all items
        cells = out[name].dropna()
        if len(cells) and cells.map(lambda v: isinstance(v, list | tuple | np.ndarray)).all():
            out[name] = out[name].str.join("|")
    return out


class _Step(BaseModel):
    """One re-ranking step: frozen, strict parameters; subclasses implement ``apply``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def apply(
        self, items: np.ndarray, scores: np.ndarray, ctx: RerankContext
    ) -> tuple[np.ndarray, np.ndarray]:
        """Re-ordered ``(items, scores)`` of the same width, valid entries first."""
        raise NotImplementedError


class MMR(_Step):
    """Maximal marginal relevance: trade relevance for items unlike those already listed.

    Position by position, take the candidate maximising
    ``lambda_ * rel(i) - (1 - lambda_) * max_{j listed} sim(i, j)``, where ``rel`` is the
    score min-max normalised over the user's candidates and ``sim`` the cosine of the items'
    multi-hot feature vectors (the ILD metric's, so MMR raises exactly what ILD measures).
    The new score is that marginal value, which never increases down the list.
    """

    kind: Literal["mmr"] = Field(default="mmr", description="Step type tag.")
    lambda_: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="1 keeps the original order; 0 makes each next item the least similar.",
    )
    columns: list[str] | None = Field(
        default=None,
        description=(
            "Item feature columns that define similarity; empty = every categorical or "
            "multi-valued column with few distinct values."
        ),
    )

    def apply(
        self, items: np.ndarray, scores: np.ndarray, ctx: RerankContext
    ) -> tuple[np.ndarray, np.ndarray]:
        valid = items >= 0
        rel = minmax_rows(scores, valid)
        sim = candidate_similarity(ctx.features(self.columns), items, valid)
        order, values = mmr_order(rel, sim, valid, self.lambda_)
        picked = np.take_along_axis(items, np.maximum(order, 0), axis=1)
        return np.where(order >= 0, picked, -1), values


class PopularityPenalty(_Step):
    """Push popular items down: ``rel(i) - alpha * log(1 + pop(i)) / log(1 + max pop)``.

    ``rel`` is the score min-max normalised over the user's candidates, so ``alpha`` means
    the same for every model; ``pop`` counts distinct training users of the item.
    """

    kind: Literal["popularity_penalty"] = Field(
        default="popularity_penalty", description="Step type tag."
    )
    alpha: float = Field(
        default=0.3,
        ge=0.0,
        le=100.0,
        description="Penalty for the most popular item, in units of the user's score range.",
    )

    def apply(
        self, items: np.ndarray, scores: np.ndarray, ctx: RerankContext
    ) -> tuple[np.ndarray, np.ndarray]:
        valid = items >= 0
        pop = ctx.log_popularity()[np.where(valid, items, 0)]
        new = minmax_rows(scores, valid) - np.float32(self.alpha) * pop.astype(np.float32)
        return sort_rows(items, np.where(valid, new, -np.inf))


class BusinessRules(_Step):
    """Drop items with excluded attribute values and boost items with favoured ones.

    Attributes are item table columns; a multi-valued cell (a list) matches when any of its
    values does, and its boosts add up. Values compare as text, or as numbers in numeric
    columns. With boosts, scores are first min-max normalised over the user's candidates, so
    an amount of 0.1 is a tenth of the user's score range whatever the model.
    """

    kind: Literal["business_rules"] = Field(default="business_rules", description="Step type tag.")
    exclude: dict[str, list[Value]] = Field(
        default_factory=dict,
        description="Attribute -> values whose items are removed, e.g. {'category': ['Kids']}.",
    )
    boost: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="Attribute -> {value: amount added to the score}, e.g. {'tags': {'new': 0.1}}.",
    )

    def apply(
        self, items: np.ndarray, scores: np.ndarray, ctx: RerankContext
    ) -> tuple[np.ndarray, np.ndarray]:
        excluded, bonus = ctx.cached(self.model_dump_json(), lambda: self.item_effects(ctx))
        valid = items >= 0
        safe = np.where(valid, items, 0)
        keep = valid & ~excluded[safe]
        new = minmax_rows(scores, valid) + bonus[safe] if self.boost else scores
        return sort_rows(np.where(keep, items, -1), np.where(keep, new, -np.inf))

    def item_effects(self, ctx: RerankContext) -> tuple[np.ndarray, np.ndarray]:
        """Per catalogue item: excluded (bool) and the summed boost (float32)."""
        table = ctx.item_table("Business rules")
        excluded = np.zeros(len(table), dtype=bool)
        bonus = np.zeros(len(table), dtype=np.float32)
        for attribute, values in self.exclude.items():
            excluded |= attribute_matches(table, attribute, values).any(axis=1)
        for attribute, amounts in self.boost.items():
            hits = attribute_matches(table, attribute, list(amounts))
            bonus += hits.astype(np.float32) @ np.array(list(amounts.values()), np.float32)
        return excluded, bonus


RerankStep = Annotated[MMR | PopularityPenalty | BusinessRules, Field(discriminator="kind")]


class RerankConfig(BaseModel):
    """An ordered list of re-ranking steps; its JSON is what a re-ranked run stores."""

    model_config = ConfigDict(extra="forbid")

    steps: list[RerankStep] = Field(
        default_factory=list, description="Steps applied in order to every candidate list."
    )


def rerank(
    candidates_items: np.ndarray,
    candidates_scores: np.ndarray,
    train: Interactions,
    config: RerankConfig,
    k: int,
    *,
    context: RerankContext | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Re-rank candidate lists and cut them to ``k``.

    Args:
        candidates_items: int [n_users, C] item indices, best first, ``-1`` padded.
        candidates_scores: float [n_users, C] their scores (``-inf`` where padded).
        train: the training data of the model that made the candidates (popularity and
            item features come from it).
        config: the steps.
        k: length of the lists returned.
        context: reuse the catalogue facts of an earlier call on the same ``train``.

    Returns:
        ``(items int32 [n_users, k], scores float32 [n_users, k])``, ``-1`` / ``-inf`` padded.
    """
    items = np.asarray(candidates_items, dtype=np.int64)
    scores = np.asarray(candidates_scores, dtype=np.float32)
    scores = np.where(np.isnan(scores), -np.inf, scores)  # NaN: unscorable, like padding
    if items.ndim != 2 or items.shape != scores.shape:
        raise InputError("Candidate items and scores must be 2-D arrays of the same shape.")
    if not isinstance(k, int | np.integer) or k < 1:
        raise InputError(f"k (list length) must be a whole number of at least 1; got {k}.")
    if items.size and items.max() >= train.n_items:
        raise InputError(f"Candidate item indices must lie below {train.n_items}.")
    ctx = context if context is not None and context.train is train else RerankContext(train)
    out_items = np.full((len(items), k), -1, dtype=np.int32)
    out_scores = np.full((len(items), k), -np.inf, dtype=np.float32)
    width = min(k, items.shape[1])
    for start in range(0, len(items), _BATCH_USERS):
        rows = slice(start, start + _BATCH_USERS)
        it, sc = sort_rows(items[rows], np.where(items[rows] >= 0, scores[rows], -np.inf))
        for step in config.steps:
            it, sc = step.apply(it, sc, ctx)
        out_items[rows, :width] = it[:, :width]
        out_scores[rows, :width] = sc[:, :width]
    return out_items, out_scores


# ---------------------------------------------------------------------- model wrapper
class RerankedConfig(RecommenderConfig):
    """A re-ranked model: the steps and how many of the base model's items they see."""

    rerank: RerankConfig = Field(default_factory=RerankConfig, description="The re-ranking steps.")
    n_candidates: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Base-model items re-ranked per user; more = more room to re-order, slower.",
    )


class Reranked(Recommender):
    """A model whose lists are a base model's top ``n_candidates`` re-ranked.

    It evaluates like any model (``evaluate`` calls :meth:`topk`). :meth:`score` gives the
    re-ranked score to the items of the re-ranked candidate list and ``-inf`` to all others.
    It is not in the registry and is not saved: store the base model and the
    :class:`RerankConfig` JSON instead.
    """

    name: ClassVar[str] = "reranked"
    config_class: ClassVar[type[RecommenderConfig]] = RerankedConfig
    personalized = InstanceFlag(True, lambda m: m.base.personalized)
    supports_cold_items = InstanceFlag(False, lambda m: m.base.supports_cold_items)

    config: RerankedConfig

    def __init__(
        self, base: Recommender, config: RerankConfig | None = None, n_candidates: int = 100
    ) -> None:
        super().__init__(
            RerankedConfig(
                rerank=config or RerankConfig(),
                n_candidates=n_candidates,
                random_state=base.config.random_state,
            )
        )
        self.base = base
        self._context: RerankContext | None = None
        if base.fitted:
            self.train_ = base.train_

    def _fit(self, train: Interactions, progress: Progress | None) -> None:
        self.base.fit(train, progress=progress)
        self._context = None

    def topk(
        self, users: np.ndarray, k: int, *, exclude_seen: bool = True, batch_size: int = 2048
    ) -> tuple[np.ndarray, np.ndarray]:
        """The base model's top ``max(n_candidates, k)`` per user, re-ranked, cut to ``k``."""
        if k < 1:
            raise InputError(f"k must be at least 1; got {k}.")
        u = check_indices(users, self._train().n_users, "user")
        n = max(self.config.n_candidates, k)
        items, scores = self.base.topk(u, n, exclude_seen=exclude_seen, batch_size=batch_size)
        if self._context is None or self._context.train is not self.train_:
            self._context = RerankContext(self.train_)
        return rerank(items, scores, self.train_, self.config.rerank, k, context=self._context)

    def _score(self, users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        top, values = self.topk(users, self.config.n_candidates)
        out = np.full((len(users), self.n_items), -np.inf, dtype=np.float32)
        rows = np.repeat(np.arange(len(users)), top.shape[1]).reshape(top.shape)
        keep = top >= 0
        out[rows[keep], top[keep]] = values[keep]
        return out if items is None else out[:, items]

    def save(self, path: Any) -> None:
        """Refused: a re-ranked model is its base model plus a re-rank config."""
        raise InputError(
            "A re-ranked model is not saved as a file: save its base model and keep the "
            "re-rank config (RerankConfig JSON) with it, then wrap the loaded base again."
        )
