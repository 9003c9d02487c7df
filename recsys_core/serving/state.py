"""A served run held in memory: its model, id maps and names, and the two ways to ask it.

Everything a request needs is built once when the run is loaded (and again on reload), so
the request path is a dictionary lookup, one score row and a top-k: no store, no pandas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from db import Store
from db.runs import Run
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.explain import explain_many
from recsys_core.jobs.artifacts import get_run, load_model
from recsys_core.jobs.context import run_split
from recsys_core.jobs.spec import RunSpec
from recsys_core.models._topk import topk_rows
from recsys_core.models.base import Recommender
from recsys_core.models.explanation import catalogue_names
from recsys_core.rerank import RerankContext, Reranked, rerank

#: Largest list a request may ask for.
MAX_K = 1000
#: Longest history a request may post.
MAX_HISTORY = 10_000


class UnknownUser(InputError):
    """A user id the served run was not trained on (HTTP 404)."""


class CannotFoldIn(InputError):
    """The served model cannot score a history it was not trained on (HTTP 422)."""


@dataclass(frozen=True)
class Recommendation:
    """One row of an answer: the item, its display name, score, rank and (asked) reason."""

    item_id: str
    title: str
    score: float
    rank: int
    reason: str | None = None


@dataclass(frozen=True)
class ServedRun:
    """A finished run ready to answer: built fully before it is swapped in (see ``app``).

    Attributes:
        run: the stored run (label, spec, metrics, times).
        model: the run's model as offline code loads it (a re-ranked run's wrapper included).
        scorer: the model that scores histories (the base model of a re-ranked run).
        names: display name of every catalogue item, by item index.
        users: external user id -> user index.
        items: external item id -> item index.
        catalogue: the run's training split with its item table (reasons name items by it).
    """

    run: Run
    model: Recommender
    scorer: Recommender
    names: np.ndarray
    users: dict[str, int]
    items: dict[str, int]
    catalogue: Interactions
    _rerank: RerankContext | None = field(default=None, repr=False)

    @property
    def item_ids(self) -> np.ndarray:
        return self.model.train_.item_ids

    def describe(self) -> dict[str, Any]:
        """What ``/health`` says about the run being served."""
        return {
            "run": self.run.id,
            "label": self.run.label,
            "model": self.run.model,
            "users": len(self.users),
            "items": len(self.items),
            "posted_histories": self.scorer.capabilities.history_scoring,
        }

    def for_user(self, user_id: str, k: int, *, explain: bool = False) -> list[Recommendation]:
        """A known user's top-``k``, seen items excluded: the same list the run exported."""
        check_k(k)
        idx = self.users.get(str(user_id))
        if idx is None:
            raise UnknownUser(
                f"User {user_id!r} is not in the training data of run {self.run.id}; "
                "post their history to POST /recommendations instead."
            )
        items, scores = self.model.topk(np.array([idx]), min(k, len(self.items)))
        rows = self._rows(items[0], scores[0])
        if not explain or not rows:
            return rows
        found = explain_many(
            self.model, self.catalogue, [str(user_id)] * len(rows), [r.item_id for r in rows]
        )
        return [
            Recommendation(
                r.item_id, r.title, r.score, r.rank, None if e is None else e.plain_sentence
            )
            for r, e in zip(rows, found, strict=True)
        ]

    def for_history(
        self, item_ids: Sequence[str], weights: Sequence[float] | None, k: int
    ) -> list[Recommendation]:
        """Top-``k`` for a posted history (a new user folded in), its items excluded.

        A re-ranked run re-ranks the folded-in list with its own plan, as offline.
        """
        check_k(k)
        if not self.scorer.capabilities.history_scoring:
            raise CannotFoldIn(
                f"Run {self.run.id} is a {self.scorer.name} model, which cannot score a history "
                "it was not trained on; ask GET /users/{user_id}/recommendations for known "
                "users, or serve an EASE, kNN, RP3beta, SLIM, ALS, iALS or content run."
            )
        idx = self.history_indices(item_ids)
        scores = self.scorer.score_history(idx, None if weights is None else np.asarray(weights))
        scores[np.isnan(scores)] = -np.inf
        scores[idx] = -np.inf
        n = min(k, len(self.items))
        if self._rerank is not None:
            assert isinstance(self.model, Reranked)
            wide, values = topk_rows(scores[None], max(self.model.config.n_candidates, n))
            config = self.model.config.rerank
            top, top_scores = rerank(
                wide, values, self.model.train_, config, n, context=self._rerank
            )
        else:
            top, top_scores = topk_rows(scores[None], n)
        return self._rows(top[0], top_scores[0])

    def history_indices(self, item_ids: Sequence[str]) -> np.ndarray:
        """Item indices of a posted history; unknown ids are refused, all of them named."""
        if not item_ids:
            raise InputError("The history is empty: post at least one item id.")
        if len(item_ids) > MAX_HISTORY:
            raise InputError(f"At most {MAX_HISTORY:,} history items; got {len(item_ids):,}.")
        found = [self.items.get(str(i), -1) for i in item_ids]
        unknown = [str(i) for i, f in zip(item_ids, found, strict=True) if f < 0]
        if unknown:
            shown = ", ".join(repr(u) for u in unknown[:20])
            more = f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""
            raise InputError(
                f"{len(unknown)} item id(s) are not in run {self.run.id}'s catalogue: "
                f"{shown}{more}. Remove them or serve a run trained on them."
            )
        return np.asarray(found, dtype=np.int64)

    def _rows(self, items: np.ndarray, scores: np.ndarray) -> list[Recommendation]:
        keep = items >= 0
        ids, names = self.item_ids[items[keep]], self.names[items[keep]]
        return [
            Recommendation(str(i), str(n), float(s), rank)
            for rank, (i, n, s) in enumerate(zip(ids, names, scores[keep], strict=True), 1)
        ]


def check_k(k: int) -> None:
    if not 1 <= k <= MAX_K:
        raise InputError(f"k must lie in 1..{MAX_K}; got {k}.")


def load_served(store: Store, run_id: int) -> ServedRun:
    """Load a finished run for serving, its model file checked against its checksum.

    Raises:
        InputError: no such run, not finished, its model file missing or altered.
    """
    run = get_run(store, run_id)
    if run.status != "done":
        raise InputError(f"Run {run_id} is {run.status}; only finished runs can be served.")
    model = load_model(run, store)  # verifies the file's sha256 against the run's record
    train = model.train_
    features = run_split(store, run).train  # the item table, for display names
    scorer = model.base if isinstance(model, Reranked) else model
    RunSpec.model_validate(run.spec)  # a spec this code cannot read fails now, not mid-request
    return ServedRun(
        run=run,
        model=model,
        scorer=scorer,
        names=np.asarray(catalogue_names(features, train.item_ids), dtype=object),
        users={str(u): i for i, u in enumerate(train.user_ids)},
        items={str(v): i for i, v in enumerate(train.item_ids)},
        catalogue=features,
        _rerank=RerankContext(train) if isinstance(model, Reranked) else None,
    )
