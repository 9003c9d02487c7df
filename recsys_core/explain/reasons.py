"""Per-recommendation reasons: thin entry points over the models' own ``explain_many``.

Each family explains many pairs at once, vectorised, through the ``Recommender`` contract
(:meth:`recsys_core.models.base.Recommender.explain_many`); here external ids become
indices and the item table gives the names.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.explain.types import Explanation
from recsys_core.models.base import Recommender
from recsys_core.models.explanation import MODALITY_WORDS, NAME_COLUMNS, catalogue_names

#: Pairs explained per call to the model: their parts (every history item of every pair)
#: stay in memory together, so an export of a whole catalogue's lists goes in steps.
CHUNK = 4096

__all__ = ["MODALITY_WORDS", "NAME_COLUMNS", "explain", "explain_many", "item_names"]


def item_names(train: Interactions, item_ids: Sequence[Any]) -> list[str]:
    """Readable names of items: the title/name column of the item table, else the id.

    A title holding ``|`` (read as a list of values) comes back as one string.
    """
    return [str(n) for n in catalogue_names(train, list(item_ids))]


_LAST: list[Any] = [None, None, None]  # (train, model space, names) of the last call


def _model_names(model: Recommender, train: Interactions) -> np.ndarray:
    """Display name of every catalogue item of ``model``, from ``train``'s item table.

    A run explains its lists in chunks over one model and one training set: the names of
    the last pair of them are kept (weakly), so the catalogue is read once, not per chunk.
    """
    space = model.train_
    known = [ref() if ref is not None else None for ref in _LAST[:2]]
    if known[0] is not train or known[1] is not space:
        _LAST[:] = [weakref.ref(train), weakref.ref(space), catalogue_names(train, space.item_ids)]
    names: np.ndarray = _LAST[2]
    return names


def _fitted(model: Recommender) -> Interactions:
    if not model.fitted:
        raise InputError(f"Model {model.name!r} is not fitted: train it before explaining.")
    return model.train_


def explain(
    model: Recommender, train: Interactions, user_id: Any, item_id: Any, n: int = 5
) -> Explanation:
    """Why ``model`` scores ``item_id`` for ``user_id``, with what the model family offers.

    History items come first since they are the most concrete reason: exact parts for
    EASE, kNN, ALS, content and their hybrids, parts of the learned user vector for the
    embedding models (two-tower, BPR, NeuMF; their residual says what the history leaves
    unexplained). Then item features, modality shares (fusion, with the nearest history
    items), a hybrid's component shares, a baseline's bias terms, popularity; Random says
    that its pick is chance rather than inventing a reason.

    Args:
        model: a fitted model.
        train: the training side of the model's split; its item table names the items.
        user_id: an external user id of the training data.
        item_id: an external item id of the catalogue.
        n: at most this many names in the sentence (the contributions keep every part).

    Raises:
        InputError: unknown user or item, or ``n < 1``.
    """
    if n < 1:
        raise InputError(f"n (reasons shown) must be at least 1; got {n}.")
    space = _fitted(model)
    (u,) = space.user_index([str(user_id)])
    (i,) = space.item_index([str(item_id)])
    if u < 0:
        raise InputError(f"No user {user_id!r} in the model's training data; pick a known user.")
    if i < 0:
        raise InputError(f"No item {item_id!r} in the model's catalogue; pick a known item.")
    names = _model_names(model, train)
    return model.explain_many(np.array([u]), np.array([i]), names, n)[0]


def explain_many(
    model: Recommender,
    train: Interactions,
    user_ids: Sequence[Any] | np.ndarray,
    item_ids: Sequence[Any] | np.ndarray,
) -> list[Explanation | None]:
    """:func:`explain` for many pairs, in one vectorised call to the model; None where a
    pair cannot be explained (unknown ids)."""
    space = _fitted(model)
    users = space.user_index([str(u) for u in user_ids])
    items = space.item_index([str(i) for i in item_ids])
    known = np.flatnonzero((users >= 0) & (items >= 0))
    out: list[Explanation | None] = [None] * len(users)
    names = _model_names(model, train) if len(known) else np.zeros(0, dtype=object)
    for start in range(0, len(known), CHUNK):  # bounded memory: parts grow with histories
        at = known[start : start + CHUNK]
        found = model.explain_many(users[at], items[at], names)
        for pos, expl in zip(at.tolist(), found, strict=True):
            out[pos] = expl
    return out
