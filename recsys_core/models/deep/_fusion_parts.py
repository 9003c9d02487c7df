"""The gated fusion of modality vectors, as a Keras layer (training) and in numpy (scoring)."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from recsys_core.models.deep._keras import MASKED, State

#: Name of the pseudo-modality made of the learned item id embeddings (always gated last).
ID_MODALITY = "id"


@cache
def fusion_layer(keras: Any) -> Any:
    """The Keras layer class, defined on first use because Keras is imported lazily."""

    class GatedFusion(keras.layers.Layer):
        """Inputs: M modality vectors [B, d], presence [B, M], optional item gate logits.

        Each vector is scaled to unit length; the gates are a softmax of global logits (plus
        the item's own) over the modalities the item has. In training the id modality (the
        last one, when ``id_dropout`` > 0) is hidden at random, so content must carry items.
        """

        def __init__(self, n_modalities: int, id_dropout: float, seed: int, **kw: Any) -> None:
            super().__init__(**kw)
            self.n_modalities, self.id_dropout = n_modalities, id_dropout
            self.seed_generator = keras.random.SeedGenerator(seed)

        def build(self, input_shape: Any) -> None:
            self.gate_logits = self.add_weight(
                shape=(self.n_modalities,),
                initializer="zeros",
                trainable=self.n_modalities > 1,  # one modality: its gate is always 1
                name="gate_logits",
            )

        def call(self, inputs: list[Any], training: bool = False) -> Any:
            ops, n = keras.ops, self.n_modalities
            parts = ops.stack([_unit(ops, p) for p in inputs[:n]], axis=1)
            present = inputs[n]
            logits = ops.expand_dims(self.gate_logits, 0)
            if len(inputs) > n + 1:
                logits = logits + inputs[n + 1]
            if training and self.id_dropout > 0:
                draw = keras.random.uniform((ops.shape(present)[0], 1), seed=self.seed_generator)
                keep = ops.cast(draw >= self.id_dropout, present.dtype)
                present = ops.concatenate([present[:, :-1], present[:, -1:] * keep], axis=1)
            has = present > 0
            if n == 1:  # a softmax over one modality is constant (and Keras warns)
                gates = ops.cast(has, logits.dtype)
            else:
                gates = ops.softmax(ops.where(has, logits, MASKED), axis=-1)
            gates = gates * ops.cast(ops.any(has, axis=-1, keepdims=True), gates.dtype)
            return ops.sum(ops.expand_dims(gates, -1) * parts, axis=1)

    return GatedFusion


def _unit(ops: Any, x: Any) -> Any:
    return x / ops.sqrt(ops.maximum(ops.sum(x * x, axis=-1, keepdims=True), 1e-12))


def item_parts(state: State, items: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Unit modality vectors [n, M, d] and gates [n, M] of ``items`` (all when None)."""
    names = [str(n) for n in state["modalities"]]
    content = [n for n in names if n != ID_MODALITY]
    rows: Any = slice(None) if items is None else items
    vectors = []
    for name in names:
        if name == ID_MODALITY:
            x = state["item_id_0"][rows]
        else:
            x = state[f"block_{name}"][rows] @ state[f"proj_{name}_0"] + state[f"proj_{name}_1"]
        norm = np.sqrt(np.maximum((x * x).sum(axis=1, keepdims=True), 1e-12))
        vectors.append(x / norm)
    parts = np.stack(vectors, axis=1).astype(np.float32)
    logits = np.repeat(state["fusion_0"][None, :], parts.shape[0], axis=0)
    if "gate_item_0" in state:
        joined = np.hstack([state[f"block_{n}"][rows] for n in content])
        logits = logits + joined @ state["gate_item_0"] + state["gate_item_1"]
    has = state["present"][rows] > 0
    logits = np.where(has, logits, -np.inf)
    peak = np.max(np.where(has, logits, 0.0), axis=1, keepdims=True)
    weights = np.where(has, np.exp(logits - peak), 0.0)
    total = weights.sum(axis=1, keepdims=True)
    gates = np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)
    return parts, gates.astype(np.float32)


def mix(parts: np.ndarray, gates: np.ndarray) -> np.ndarray:
    """Gated sum of the modality vectors: [n, M, d] x [n, M] -> [n, d]."""
    return np.einsum("nmd,nm->nd", parts, gates).astype(np.float32)
