"""The content model's attribute reasons and permutation scorer, vectorised over pairs.

Kept apart from :mod:`recsys_core.models.content` so that module stays about fitting and
scoring; both functions read the fitted model's arrays only.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_core.models.explanation import Permutable, Scorer, join_names, top_positive

#: Dense blocks of history word weights are cut to about this many bytes.
WORD_BLOCK_BYTES = 64 * 2**20


def feature_phrases(model: Any, users: np.ndarray, items: np.ndarray, n: int) -> list[str]:
    """Per pair, the ``n`` attributes adding most to the score, joined for a sentence.

    The same entries as ``ContentBased.explain_features`` (categorical and numeric columns,
    text words or "text similarity", "image similarity"), for all pairs in one pass: the
    products of profile and item vectors are one array, the shared words one sparse product.
    Only positive entries are kept, so names are looked up for those alone.
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
            p, nm, v = every, np.full(len(users), "image similarity", dtype=object), share
        elif modality == "text" and not str(names[0]).startswith("text="):
            p, nm, v = _shared_words(model, uniq, inverse, items, share)
        else:
            p, col = np.nonzero(prod[:, lo:hi] > 0)
            nm, v = names.astype(object)[col], prod[p, lo + col]
        keep = v > 0
        pair_parts.append(p[keep])
        name_parts.append(nm[keep])
        value_parts.append(v[keep])
    pair = np.concatenate(pair_parts)
    names_all = np.concatenate(name_parts)
    values = np.concatenate(value_parts)
    order = np.lexsort((_text_rank(names_all), -values, pair))
    take, ptr = top_positive(pair[order], values[order], n, len(users))
    chosen = names_all[order][take].tolist()
    cut = ptr.tolist()
    return [join_names(chosen[a:b]) if b > a else "" for a, b in itertools.pairwise(cut)]


def _text_rank(names: np.ndarray) -> np.ndarray:
    """Each name's rank in text order (equal names, equal ranks): the distinct names are
    found by hashing and only they are sorted as text, not every entry."""
    codes, distinct = pd.factorize(names)
    rank = np.empty(len(distinct), dtype=np.int64)
    rank[np.argsort(np.asarray(distinct, dtype=str), kind="stable")] = np.arange(len(distinct))
    return rank[codes]


def _shared_words(
    model: Any, uniq: np.ndarray, inverse: np.ndarray, items: np.ndarray, share: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The text share split over the words an item shares with the history (TF-IDF products).

    The history's words are one product per distinct user (``uniq``; ``inverse`` maps each
    pair to its user), then taken per pair. Pairs without a shared word (or without a
    positive share) keep one "text similarity".
    """
    n_pairs = len(inverse)
    whole = np.ones(n_pairs, dtype=bool) if not model.terms_.size else share <= 0
    pair, names, values = [np.zeros(0, np.int64)], [np.zeros(0, object)], [np.zeros(0)]
    if model.terms_.size:
        words = sp.csr_matrix(model.term_weights_[items])  # each pair item's words
        rows = np.repeat(np.arange(n_pairs), np.diff(words.indptr))
        product = _history_weights(model, uniq, inverse[rows], words.indices) * words.data
        keep = (product > 0) & (share[rows] > 0)
        rows, cols = rows[keep], words.indices[keep]
        vals = product[keep].astype(np.float64)
        total = np.bincount(rows, weights=vals, minlength=n_pairs)
        whole |= total == 0
        words, at = np.unique(cols, return_inverse=True)
        labels = np.array([f"text={t}" for t in model.terms_[words]], dtype=object)
        pair.append(rows)
        names.append(labels[at])
        values.append(share[rows] * vals / total[rows])
    at = np.flatnonzero(whole)
    pair.append(at)
    names.append(np.full(len(at), "text similarity", dtype=object))
    values.append(share[at])
    return np.concatenate(pair), np.concatenate(names), np.concatenate(values)


def _history_weights(
    model: Any, uniq: np.ndarray, owner: np.ndarray, words: np.ndarray
) -> np.ndarray:
    """``(weights @ term_weights)[owner, words]``: a history's weight of each asked word.

    One sparse product per block of users, made dense to look the words up (a sparse
    product's indices come unsorted, and sorting them cost more than the product).
    """
    n_terms = model.term_weights_.shape[1]
    step = max(1, WORD_BLOCK_BYTES // (4 * max(n_terms, 1)))
    out = np.zeros(len(owner), dtype=np.float32)
    for start in range(0, len(uniq), step):  # a loop over blocks of users
        block = (model.weights_[uniq[start : start + step]] @ model.term_weights_).toarray()
        at = np.flatnonzero((owner >= start) & (owner < start + step))
        out[at] = block[owner[at] - start, words[at]]
    return out


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
