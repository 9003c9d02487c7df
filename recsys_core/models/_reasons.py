"""Sentences of the families that explain by history items, batched and one pair at a time.

:func:`history_many` is the vectorised path every history family shares (its parts come
from the family's ``history_parts_many``); :func:`history_one` is the scalar reference built
on ``explain_parts``, which tests hold the batched path to.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from recsys_core.models.explanation import (
    Explanation,
    PairParts,
    join_names,
    named_parts,
    record,
    top_positive,
    unique_names,
)

NOTHING = "Nothing in your history points to this item; it fills the list."


def pair_ids(model: Any, users: np.ndarray, items: np.ndarray) -> tuple[list[str], list[str]]:
    """External ids of the pairs, as strings."""
    train = model.train_
    return (
        np.asarray(train.user_ids)[users].astype(str).tolist(),
        np.asarray(train.item_ids)[items].astype(str).tolist(),
    )


def _verb(model: Any) -> tuple[str, str]:
    explicit = model.train_.feedback == "explicit"
    return ("rated", " highly") if explicit else ("interacted with", "")


def _history_sentence(model: Any, top: list[str], score: float, residual: float) -> str:
    return _sentence(top, score, residual, *_verb(model), model.approximate_explanations)


def _sentence(
    top: list[str], score: float, residual: float, verb: str, tail: str, approximate: bool
) -> str:
    if not top:
        return NOTHING
    sentence = f"Because you {verb} {join_names(top)}{tail}."
    if approximate:
        covered = abs(score - residual)
        share = covered / max(covered + abs(residual), 1e-12)
        sentence += (
            f" (Your history carries about {share:.0%} of this score; the rest is what the "
            "model learned about you and the item beyond it.)"
        )
    return sentence


def history_many(
    model: Any,
    pairs: tuple[np.ndarray, np.ndarray],
    scores: np.ndarray,
    parts: PairParts,
    names: np.ndarray,
    n: int,
    phrases: list[str] | None = None,
) -> list[Explanation]:
    """Explanations of many pairs from their history parts: one sort, one loop of sentences.

    Args:
        model: the fitted model (its flags shape the sentence).
        pairs: user and item indices.
        scores: the pairs' scores (float64).
        parts: the pairs' history parts, ordered per pair.
        names: display name per catalogue item.
        n: at most this many names in a sentence.
        phrases: per pair, matching item attributes to add ("" for none), or None.
    """
    n_pairs = len(scores)
    raw, order = named_parts(parts, names)
    ordered_names = raw[order].tolist()
    values = parts.values[order]
    take, top_ptr = top_positive(parts.pair[order], values, n, n_pairs)
    top_names = [ordered_names[j] for j in take]
    residual = (scores - parts.sums()).tolist()
    uids, iids = pair_ids(model, *pairs)
    # Python numbers in the loop: indexing numpy arrays one scalar at a time costs more
    # than the sentence itself
    ptr, cut, score_of = parts.ptr.tolist(), top_ptr.tolist(), scores.tolist()
    how = (*_verb(model), model.approximate_explanations)
    out = []
    with _no_collection():
        for p in range(n_pairs):  # one sentence per pair; the numbers above were computed at once
            score, rest = score_of[p], residual[p]
            sentence = _sentence(top_names[cut[p] : cut[p + 1]], score, rest, *how)
            if phrases is not None and phrases[p]:
                sentence += f" It matches your interest in {phrases[p]}."
            lo, hi = ptr[p], ptr[p + 1]
            names_p = tuple(ordered_names[lo:hi])
            out.append(
                Explanation(
                    uids[p], iids[p], score, "history", names_p, values[lo:hi], rest, sentence
                )
            )
    return out


@contextmanager
def _no_collection() -> Iterator[None]:
    """The cyclic collector paused while a batch of explanations is made.

    Each pair makes ~10 objects (a sentence, tuples, an Explanation) and none refer back,
    so the collector finds nothing, yet its passes over every object in the process (a few
    full ones per 2k pairs in a run's process, with pandas and the store loaded) cost ~15%
    of the batch (content on MovieLens latest-small: 20.1 -> 17.2 ms a batch).
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def history_one(
    model: Any, user: int, item: int, score: float, names: np.ndarray, n: int
) -> Explanation:
    """The scalar reference: one pair from ``explain_parts`` (and ``explain_features``)."""
    hist, contrib = model.explain_parts(user, item)
    labels = unique_names([str(x) for x in names[hist]]) if len(hist) else []
    expl = record(_one_ids(model, user, item), score, "history", (labels, contrib), "")
    top = [nm for nm, v in zip(expl.names, expl.values, strict=True) if v > 0][:n]
    sentence = _history_sentence(model, top, score, expl.residual)
    features = model.explain_features(user, item, n=min(n, 3))
    if features:
        sentence += f" It matches your interest in {join_names([f for f, _ in features])}."
    return Explanation(
        *_one_ids(model, user, item),
        score,
        "history",
        expl.names,
        expl.values,
        expl.residual,
        sentence,
    )


def none_many(
    model: Any, pairs: tuple[np.ndarray, np.ndarray], scores: np.ndarray
) -> list[Explanation]:
    """Models that do not break their scores down: the whole score is the residual."""
    sentence = f"No reason to give: the {model.name} model does not break its scores down."
    return constant_many(model, pairs, scores, sentence)


def constant_many(
    model: Any, pairs: tuple[np.ndarray, np.ndarray], scores: np.ndarray, sentence: str
) -> list[Explanation]:
    """One sentence for every pair, no named parts."""
    uids, iids = pair_ids(model, *pairs)
    empty = np.zeros(0)
    return [
        Explanation(u, i, float(s), "none", (), empty, float(s), sentence)
        for u, i, s in zip(uids, iids, scores.tolist(), strict=True)
    ]


def _one_ids(model: Any, user: int, item: int) -> tuple[str, str]:
    return str(model.train_.user_ids[user]), str(model.train_.item_ids[item])
