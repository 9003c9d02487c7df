"""What the fusion model says about a score: its split by modality, for many pairs at once.

The score ``u . v`` of a fusion item vector ``v = unit(sum_m g_m p_m)`` splits exactly into
one part per modality, ``g_m (p_m . u) / |sum_m g_m p_m|``; the sentence names the largest
and the history items the pair is closest to (the latent mix of the two-tower models).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recsys_core.models._fit_cache import fit_cached
from recsys_core.models._reasons import pair_ids
from recsys_core.models.deep._fusion_parts import item_parts, mix
from recsys_core.models.explanation import (
    MODALITY_WORDS,
    Explanation,
    Permutable,
    Scorer,
    join_names,
    top_positive,
)


def catalogue_parts(model: Any) -> tuple[np.ndarray, np.ndarray]:
    """Unit modality vectors and gates of every item, kept until the model is refitted."""
    state = model._state()
    return fit_cached(
        model, "catalogue_parts", state["item_vectors"], lambda: item_parts(state, None)
    )


def modality_contributions(model: Any, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Per pair and modality (gate order), its part of the score; rows add up to the score."""
    parts, gates = catalogue_parts(model)
    p = parts[items].astype(np.float64)
    g = gates[items].astype(np.float64)
    user_vectors = model._state()["user_vectors"][users].astype(np.float64)
    contrib = g * np.einsum("pmd,pd->pm", p, user_vectors)
    if model.config.normalize:
        norms = np.linalg.norm(mix(parts[items], gates[items]).astype(np.float64), axis=1)
        contrib /= np.maximum(norms, 1e-6)[:, None]
    return contrib


def modality_sentence(names: tuple[str, ...], values: np.ndarray) -> str:
    total = float(np.abs(values).sum())
    if total <= 0:
        return "No modality adds to this score."
    label = MODALITY_WORDS.get(names[0], f"its {names[0]}")
    return f"Mostly {label} ({abs(values[0]) / total:.0%} of the score)."


def explain_fusion(
    model: Any, pairs: tuple[np.ndarray, np.ndarray], scores: np.ndarray, names: np.ndarray, n: int
) -> list[Explanation]:
    """Modality shares of every pair, then the history items each pair is closest to."""
    users, items = pairs
    modalities = np.asarray(model.modality_names(), dtype=str)
    contrib = modality_contributions(model, users, items)
    order = np.lexsort((np.broadcast_to(modalities, contrib.shape), -np.abs(contrib)), axis=1)
    values = np.take_along_axis(contrib, order, axis=1)
    labels = modalities[order]
    residual = scores - values.sum(axis=1)
    near = model.history_parts_many(users, items)
    take, ptr = top_positive(near.pair, near.values, n, len(users))
    near_names = names[near.keys[take]].tolist()
    uids, iids = pair_ids(model, users, items)
    out = []
    for p in range(len(users)):  # one sentence per pair
        row_names = tuple(labels[p].tolist())
        sentence = modality_sentence(row_names, values[p])
        if ptr[p + 1] > ptr[p]:
            sentence += f" Close to {join_names(near_names[ptr[p] : ptr[p + 1]])} in your history."
        out.append(
            Explanation(
                uids[p],
                iids[p],
                float(scores[p]),
                "modalities",
                row_names,
                values[p],
                float(residual[p]),
                sentence,
            )
        )
    return out


def fusion_permutable(model: Any) -> Permutable:
    """Shuffle a modality's block rows (and presence) and recompute the gated item vectors."""
    state = model._state()
    names = [str(n) for n in state["modalities"]]
    groups = [n for n in names if f"block_{n}" in state]

    def scorer(perms: dict[str, np.ndarray]) -> Scorer:
        shuffled = dict(state)
        present = state["present"].copy()
        for m, perm in perms.items():
            shuffled[f"block_{m}"] = state[f"block_{m}"][perm]
            present[:, names.index(m)] = state["present"][perm, names.index(m)]
        shuffled["present"] = present
        items = model._derive(shuffled)["item_vectors"]
        return lambda users: state["user_vectors"][users] @ items.T

    return Permutable(groups, scorer)
