"""The content model's attribute reasons and permutation scorer, vectorised over pairs.

Kept apart from :mod:`recsys_core.models.content` so that module stays about fitting and
scoring; both functions read the fitted model's arrays only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys_core.models.explanation import Permutable, Scorer, join_names, top_positive


def feature_phrases(model: Any, users: np.ndarray, items: np.ndarray, n: int) -> list[str]:
    """Per pair, the ``n`` attributes adding most to the score, joined for a sentence.

    The same entries as ``ContentBased.explain_features`` (categorical and numeric columns,
    text words or "text similarity", "image similarity"), for all pairs in one pass: the
    products of profile and item vectors are one array, the shared words one sparse product.
    """
    uniq, inverse = np.unique(users, return_inverse=True)
    prod = model.profiles(uniq)[inverse] * model.item_vectors_[items].astype(np.float64)
    pair_parts, name_parts, value_parts = [], [], []
    every = np.arange(len(users))
    for k, modality in enumerate(model.block_names_):  # a loop over a few modalities
        lo, hi = int(model.block_bounds_[k]), int(model.block_bounds_[k + 1])
        names = model.feature_names_[lo:hi]
        share = prod[:, lo:hi].sum(axis=1)
        if modality == "image":
            pair_parts.append(every)
            name_parts.append(np.full(len(users), "image similarity", dtype=object))
            value_parts.append(share)
        elif modality == "text" and not str(names[0]).startswith("text="):
            p, nm, v = _shared_words(model, users, items, share)
            pair_parts.append(p)
            name_parts.append(nm)
            value_parts.append(v)
        else:
            pair_parts.append(np.repeat(every, hi - lo))
            name_parts.append(np.tile(names.astype(object), len(users)))
            value_parts.append(prod[:, lo:hi].ravel())
    pair = np.concatenate(pair_parts)
    names_all = np.concatenate(name_parts)
    values = np.concatenate(value_parts)
    keep = values > 0
    pair, names_all, values = pair[keep], names_all[keep], values[keep]
    order = np.lexsort((names_all.astype(str), -values, pair))
    take, ptr = top_positive(pair[order], values[order], n, len(users))
    chosen = names_all[order][take].tolist()
    return [join_names(chosen[ptr[p] : ptr[p + 1]]) if ptr[p + 1] > ptr[p] else "" for p in every]


def _shared_words(
    model: Any, users: np.ndarray, items: np.ndarray, share: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The text share split over the words an item shares with the history (TF-IDF products).

    Pairs without a shared word (or without a positive share) keep one "text similarity".
    """
    whole = np.ones(len(users), dtype=bool) if not model.terms_.size else share <= 0
    pair, names, values = [np.zeros(0, np.int64)], [np.zeros(0, object)], [np.zeros(0)]
    if model.terms_.size:
        history = model.weights_[users] @ model.term_weights_
        overlap = sp.csr_matrix(history.multiply(model.term_weights_[items]))
        rows = np.repeat(np.arange(len(users)), np.diff(overlap.indptr))
        keep = (overlap.data > 0) & (share[rows] > 0)
        rows, cols = rows[keep], overlap.indices[keep]
        vals = overlap.data[keep].astype(np.float64)
        total = np.bincount(rows, weights=vals, minlength=len(users))
        whole |= total == 0
        pair.append(rows)
        names.append(np.array([f"text={t}" for t in model.terms_[cols]], dtype=object))
        values.append(share[rows] * vals / total[rows])
    at = np.flatnonzero(whole)
    pair.append(at)
    names.append(np.full(len(at), "text similarity", dtype=object))
    values.append(share[at])
    return np.concatenate(pair), np.concatenate(names), np.concatenate(values)


def content_permutable(model: Any) -> Permutable:
    """Item vector = unit(concat of weight x unit(block)): rebuild it with shuffled blocks."""
    bounds, names = model.block_bounds_, [str(n) for n in model.block_names_]
    vectors = np.asarray(model.item_vectors_, dtype=np.float64)
    weights = model.config.modality_weights
    blocks = {
        m: weights[m] * unit_rows(vectors[:, bounds[k] : bounds[k + 1]])
        for k, m in enumerate(names)
    }

    def scorer(perms: dict[str, np.ndarray]) -> Scorer:
        parts = [blocks[m][perms[m]] if m in perms else blocks[m] for m in names]
        items = unit_rows(np.hstack(parts))

        def score(users: np.ndarray) -> np.ndarray:
            return unit_rows(np.asarray(model.weights_[users] @ items)) @ items.T

        return score

    return Permutable(names, scorer)


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm; all-zero rows stay zero."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x, dtype=np.float64), where=norms > 0)
