"""Multimodal fusion: per-modality item projections mixed by learned gates, in-batch softmax."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.models.base import RecommenderConfig
from recsys_core.models.deep._fusion_parts import ID_MODALITY, fusion_layer, item_parts, mix
from recsys_core.models.deep._fusion_reasons import (
    explain_fusion,
    fusion_permutable,
    modality_contributions,
    modality_sentence,
)
from recsys_core.models.deep._keras import State, frozen_table, layer_arrays, layer_seed
from recsys_core.models.deep._towers import (
    TowerConfig,
    TowerRecommender,
    maybe_normalize,
)
from recsys_core.models.deep._validation import Holdout, relevant_unseen
from recsys_core.models.explanation import Explanation, Permutable, join_names, record
from recsys_core.splitting.splits import Split


class FusionConfig(TowerConfig):
    """Fusion adds the gate options; ``tower_layers`` shapes the user-feature MLP only."""

    item_gates: bool = Field(
        True,
        description=(
            "Let each item's gates depend on its own features (e.g. trust text more for "
            "items with long descriptions); off = one set of gates for the whole catalogue."
        ),
    )
    use_item_id: bool = Field(
        True,
        description=(
            "Add the learned item id embedding as a modality ('id'): collaborative signal "
            "for items with interactions; absent (gate 0) for items without any."
        ),
    )


class Fusion(TowerRecommender):
    """Item vector = sum over modalities of gate x unit-length projection of that modality.

    Each modality block from the item encoders (text, image, categorical, numeric, plus the
    item id embedding) gets its own linear projection to ``embedding_size``, normalised to
    unit length so that the softmax gates, not the vector lengths, decide each modality's
    share. Gates are a softmax over the modalities an item has (optionally depending on
    the item's features). The score ``u . v`` splits exactly into one part per modality
    (:meth:`modality_shares`); :meth:`modality_weights` and :meth:`ablation` report what
    each modality brings.
    """

    name: ClassVar[str] = "fusion"
    config_class: ClassVar[type[RecommenderConfig]] = FusionConfig
    supports_cold_items: ClassVar[bool] = True
    shuffles_features: ClassVar[bool] = True

    config: FusionConfig

    # ------------------------------------------------------------------ training
    def _prepare(self, fit_on: Interactions) -> State:
        state = super()._prepare(fit_on)
        items = self._item_modalities(fit_on)
        blocks = {} if items is None else items.blocks
        names = sorted(blocks)
        present = [items.present[name] for name in names] if items is not None else []
        if self.config.use_item_id:
            names.append(ID_MODALITY)
            present.append(state["item_known"] > 0)
        if not names:
            raise InputError(
                "The fusion model has nothing to fuse: the data has no item features and "
                "use_item_id is off. Turn use_item_id on or add an item table."
            )
        for name in names[: len(blocks)]:
            state[f"block_{name}"] = blocks[name].astype(np.float32)
        state["present"] = np.column_stack(present).astype(np.float32)
        state["modalities"] = np.asarray(names, dtype=str)
        return state

    def _build(self, keras: Any, fit_on: Interactions, constants: State) -> Any:
        cfg, seed = self.config, self.config.random_state
        names = [str(n) for n in constants["modalities"]]
        content = [n for n in names if n != ID_MODALITY]
        ids = keras.Input(shape=(), dtype="int32", name="item")
        tables = [
            frozen_table(keras, f"block_{n}_t", constants[f"block_{n}"])(ids) for n in content
        ]
        parts = [
            keras.layers.Dense(
                cfg.embedding_size,
                kernel_initializer=keras.initializers.GlorotUniform(seed=layer_seed(seed, 60 + j)),
                name=f"proj_{name}",
            )(table)
            for j, (name, table) in enumerate(zip(content, tables, strict=True))
        ]
        if ID_MODALITY in names:
            init = keras.initializers.RandomNormal(0.0, 0.05, seed=layer_seed(seed, 59))
            parts.append(
                keras.layers.Embedding(
                    fit_on.n_items, cfg.embedding_size, embeddings_initializer=init, name="item_id"
                )(ids)
            )
        present = frozen_table(keras, "present_t", constants["present"])(ids)
        gate_in = [present]
        if cfg.item_gates and content:
            joined = tables[0] if len(tables) == 1 else keras.layers.Concatenate()(tables)
            init = keras.initializers.Zeros()  # start from the global gates
            gate_in.append(
                keras.layers.Dense(len(names), kernel_initializer=init, name="gate_item")(joined)
            )
        drop_id = cfg.id_dropout if (ID_MODALITY in names and content) else 0.0
        layer = fusion_layer(keras)(len(names), drop_id, layer_seed(seed, 61), name="fusion")
        vec = layer([*parts, *gate_in])
        return self._training_net(
            keras, fit_on, constants, keras.Model(ids, vec, name="item_tower")
        )

    def _export(self, net: Any) -> State:
        tower = net.get_layer("item_tower")
        names = [layer.name for layer in tower.layers if layer.name.startswith("proj_")]
        names += [n for n in ("item_id", "gate_item", "fusion") if _has_layer(tower, n)]
        return {**self._export_user_tower(net), **layer_arrays(tower, names)}

    def _derive(self, state: State) -> State:
        parts, gates = item_parts(state, None)
        return {
            **state,
            "gates": gates,
            "user_vectors": self._user_vectors(state),
            "item_vectors": maybe_normalize(mix(parts, gates), self.config.normalize),
        }

    # ------------------------------------------------------------------ insight
    def modality_names(self) -> list[str]:
        """Modalities in gate order, e.g. ``["categorical", "text", "id"]``."""
        return [str(n) for n in self._state()["modalities"]]

    def modality_weights(self) -> dict[str, float]:
        """Mean gate weight per modality over the items that have at least one modality."""
        gates = self._state()["gates"]
        has_any = gates.sum(axis=1) > 0
        means = gates[has_any].mean(axis=0) if has_any.any() else np.zeros(gates.shape[1])
        return {name: float(w) for name, w in zip(self.modality_names(), means, strict=True)}

    def modality_shares(self, user: Any, item: Any) -> dict[str, float]:
        """How much each modality adds to ``score(user, item)``; the shares sum to the score.

        Args:
            user: an external user id of the training data.
            item: an external item id of the training data.
        """
        train = self._train()
        u, i = int(train.user_index([user])[0]), int(train.item_index([item])[0])
        if u < 0 or i < 0:
            raise InputError(
                f"Unknown user {user!r} or item {item!r}: use ids from the training data."
            )
        contrib = modality_contributions(self, np.array([u]), np.array([i]))[0]
        return {name: float(c) for name, c in zip(self.modality_names(), contrib, strict=True)}

    # ------------------------------------------------------------------ contract
    def explain_many(
        self, users: np.ndarray, items: np.ndarray, names: np.ndarray, n: int = 5
    ) -> list[Explanation]:
        """Modality shares of each pair, and the history items it is closest to."""
        pairs = self._pairs(users, items)
        return explain_fusion(self, pairs, self.score_pairs(*pairs), names, n)

    def explain_one(self, user: int, item: int, names: np.ndarray, n: int = 5) -> Explanation:
        """The scalar reference: :meth:`modality_shares` and :meth:`history_parts` of one pair."""
        train = self._train()
        ids = (str(train.user_ids[user]), str(train.item_ids[item]))
        score = float(self.score_pairs(np.array([user]), np.array([item]))[0])
        expl = record(ids, score, "modalities", _unzip(self.modality_shares(*ids)), "")
        sentence = modality_sentence(expl.names, expl.values)
        hist, contrib = self.history_parts(user, item)
        near = [str(x) for x in names[hist[contrib > 0][:n]]]
        if near:
            sentence += f" Close to {join_names(near)} in your history."
        return record(ids, score, "modalities", (expl.names, expl.values), sentence)

    def permutable(self, train: Interactions) -> Permutable:
        return fusion_permutable(self)

    def _report(self, split: Any) -> dict[str, Any]:
        return {
            "modality_weights": self.modality_weights(),
            "ablation": self.ablation(split, k=10).to_dict(orient="records"),
        }

    def ablation(self, data: Split | Interactions, k: int = 10) -> pd.DataFrame:
        """NDCG@k with each modality removed from the item vectors, next to all of them.

        "Removed" sets that modality's gated part to zero (the other gates keep their
        values), so the drop is what the model takes from it. Seen training items are
        excluded from the lists; relevant items are the held-out pairs not seen in training.

        Args:
            data: a split whose ``train`` the model was fitted on (its ``test`` is used), or
                held-out interactions in the model's index spaces.
            k: the NDCG cut-off.

        Returns:
            Columns ``modality`` ("none" first, then each removed modality), ``NDCG@k`` and
            ``drop`` (NDCG with all modalities minus NDCG without this one).
        """
        held = data.test if isinstance(data, Split) else data
        train = self._train()
        if (held.n_users, held.n_items) != (train.n_users, train.n_items):
            raise InputError("ablation needs held-out data over the model's users and items.")
        truth = relevant_unseen(held, train)
        users = np.flatnonzero(np.diff(truth.indptr) > 0)
        if not len(users):
            raise InputError("The held-out data has no relevant item unseen in training.")
        holdout = Holdout(users, truth[users], train.matrix[users], k)
        state = self._state()
        parts, gates = item_parts(state, None)
        names = self.modality_names()
        user_vectors = state["user_vectors"]
        rows = []
        for drop in ["none", *names]:
            kept = gates * np.asarray([n != drop for n in names], dtype=np.float32)
            vectors = maybe_normalize(mix(parts, kept), self.config.normalize)
            rows.append(holdout.ndcg(_dot_scorer(user_vectors, vectors)))
        label = f"NDCG@{k}"
        return pd.DataFrame(
            {"modality": ["none", *names], label: rows, "drop": rows[0] - np.asarray(rows)}
        )


def _dot_scorer(users: np.ndarray, items: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Scores of a batch of user indices: dot products with every item vector."""
    return lambda batch: users[batch] @ items.T


def _has_layer(model: Any, name: str) -> bool:
    return any(layer.name == name for layer in model.layers)


def _unzip(shares: dict[str, float]) -> tuple[list[str], np.ndarray]:
    return list(shares), np.array(list(shares.values()), dtype=np.float64)
