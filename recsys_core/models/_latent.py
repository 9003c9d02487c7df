"""History reasons for embedding models: the user's vector rebuilt from their items' vectors.

A two-tower, BPR or NeuMF (GMF branch) score is a dot product ``x_u . v_i`` between a learned
user vector and an item vector. The user vector is not computed from the history, so the
score has no exact split over history items. What such a model *has* learned is a space in
which the user's vector sits near their items' vectors; we write the user as the closest
non-negative mix of those vectors, ``x_u ~ sum_j a_j v_j`` with ``a >= 0`` (non-negative
least squares), and split the score along it:

    ``x_u . v_i = sum_j a_j (v_j . v_i) + (x_u - sum_j a_j v_j) . v_i``.

Each history item j gets ``a_j (v_j . v_i)``: large when the item is part of what the model
believes the user likes *and* close to the recommended item. The last term is what the
history does not account for; explanations report it as their residual instead of hiding it.
Non-negativity keeps the story readable ("because you liked X"), and NNLS picks at most
``d`` items, so the reasons stay few.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import nnls

from recsys_core.models.base import order_contributions
from recsys_core.models.explanation import PairParts, pair_spans


def latent_history_parts(
    user_vector: np.ndarray, item_vectors: np.ndarray, history: np.ndarray, item: int
) -> tuple[np.ndarray, np.ndarray]:
    """History items and their parts of ``user_vector . item_vectors[item]``, strongest first.

    Args:
        user_vector: the user's vector, shape ``[d]``.
        item_vectors: every item's vector, shape ``[n_items, d]``.
        history: item indices of the user's training interactions.
        item: the item being explained.

    Returns:
        ``(items, contributions)`` as :func:`order_contributions` gives them; the sum is the
        part of the score the history accounts for (all of it when the user vector lies in
        the cone of the history vectors).
    """
    history, weights = _mix(user_vector, item_vectors, history)
    if not len(history):
        return history, np.zeros(0)
    basis = np.asarray(item_vectors[history], dtype=np.float64)  # [h, d]
    contrib = weights * (basis @ np.asarray(item_vectors[item], dtype=np.float64))
    return order_contributions(history, contrib)


def latent_parts_many(
    user_vectors: np.ndarray,
    item_vectors: np.ndarray,
    matrix: sp.csr_matrix,
    pairs: tuple[np.ndarray, np.ndarray],
) -> PairParts:
    """:func:`latent_history_parts` of many pairs: one NNLS per distinct user, one gather.

    The mix depends on the user only, so a user's pairs share it; NNLS keeps at most ``d``
    items per user, so only those are gathered (zero weights give zero parts anyway).

    Args:
        user_vectors: every user's vector ``[n_users, d]``.
        item_vectors: every item's vector ``[n_items, d]``.
        matrix: the training matrix (row u: the user's history items).
        pairs: user and item indices of the pairs.
    """
    users, items = pairs
    uniq, inverse = np.unique(users, return_inverse=True)
    keys, weights = [], []
    for u in uniq:  # one NNLS per distinct user
        history = matrix.indices[matrix.indptr[u] : matrix.indptr[u + 1]]
        hist, w = _mix(user_vectors[u], item_vectors, history)
        keys.append(hist[w != 0])
        weights.append(w[w != 0])
    ptr = np.concatenate([[0], np.cumsum([len(k) for k in keys])]).astype(np.int64)
    flat_keys = np.concatenate([np.zeros(0, np.int64), *keys])
    flat_weights = np.concatenate([np.zeros(0), *weights])
    at, owner = pair_spans(ptr, inverse)
    basis = np.asarray(item_vectors[flat_keys[at]], dtype=np.float64)
    target = np.asarray(item_vectors[items[owner]], dtype=np.float64)
    contrib = flat_weights[at] * (basis * target).sum(axis=1)
    return PairParts.build(owner, flat_keys[at], contrib, len(users))


def _mix(
    user_vector: np.ndarray, item_vectors: np.ndarray, history: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The user's history items and their non-negative weights in the user's vector."""
    history = np.unique(np.asarray(history, dtype=np.int64))
    if not len(history):
        return history, np.zeros(0)
    basis = np.asarray(item_vectors[history], dtype=np.float64)  # [h, d]
    target = np.asarray(user_vector, dtype=np.float64)
    weights, _ = nnls(basis.T, target, maxiter=50 * max(len(history), basis.shape[1]))
    return history, weights
