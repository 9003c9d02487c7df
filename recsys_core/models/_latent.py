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
from scipy.optimize import nnls

from recsys_core.models.base import order_contributions


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
    history = np.unique(np.asarray(history, dtype=np.int64))
    if not len(history):
        return history, np.zeros(0)
    basis = np.asarray(item_vectors[history], dtype=np.float64)  # [h, d]
    target = np.asarray(user_vector, dtype=np.float64)
    weights, _ = nnls(basis.T, target, maxiter=50 * max(len(history), basis.shape[1]))
    contrib = weights * (basis @ np.asarray(item_vectors[item], dtype=np.float64))
    return order_contributions(history, contrib)
