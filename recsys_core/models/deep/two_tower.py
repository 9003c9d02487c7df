"""Two-tower retrieval: user and item towers trained with an in-batch softmax."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from recsys_core.data.interactions import Interactions
from recsys_core.features.encoders import ItemEncoderConfig, encode_items
from recsys_core.models._blend import InstanceFlag
from recsys_core.models.base import RecommenderConfig
from recsys_core.models.deep._base import epochs_field, patience_field
from recsys_core.models.deep._keras import (
    State,
    dense_stack,
    frozen_table,
    layer_arrays,
    layer_seed,
)
from recsys_core.models.deep._towers import (
    TowerConfig,
    TowerRecommender,
    feature_mlp,
    maybe_normalize,
    mlp_layer_names,
    state_mlp_names,
)
from recsys_core.models.explanation import Permutable, Scorer


class TwoTowerConfig(TowerConfig):
    """Towers of id embeddings plus side-feature MLPs; see the fields for the loss options.

    Defaults chosen on a validation side carved from MovieLens latest-small's training part
    (RandomHoldout 0.2 seed 7 of the seed-42 train; never test), NDCG@10: the item table off
    .205-.209 (three seeds) vs on .193-.195 (ALS .199); 30 epochs with patience 5 (the best
    epoch came at 7-16), then the refit on all the training data (+.005). Turn the item table
    on to rank items nobody has interacted with yet (cold items).
    """

    epochs: int = epochs_field(30)
    patience: int = patience_field(5)
    use_item_features: bool = Field(
        False,
        description=(
            "Feed the item table to the item tower: needed to rank cold items (no "
            "interactions yet); on warm items it scored lower on MovieLens."
        ),
    )


class TwoTower(TowerRecommender):
    """User tower: user id embedding + MLP(user features); item tower: item id embedding +
    MLP(all item blocks side by side).

    The id embedding of an item (or user) without training interactions is zeroed, so such
    an item is placed by its features alone instead of by a random vector: the model can
    recommend new items when the item table describes them (``supports_cold_items``).
    Without side tables it is a matrix factorisation trained with a sampled softmax.
    """

    name: ClassVar[str] = "two_tower"
    config_class: ClassVar[type[RecommenderConfig]] = TwoTowerConfig
    #: Cold items are placed by their features, which only the item table gives the tower.
    supports_cold_items = InstanceFlag(True, lambda m: m.config.use_item_features)
    #: By history items, approximately: see :meth:`TowerRecommender.history_parts`.
    explains: ClassVar[bool] = True
    approximate_explanations: ClassVar[bool] = True
    #: Item feature groups to shuffle exist only when the item table fed the item tower.
    shuffles_features = InstanceFlag(False, lambda m: "item_features_" in vars(m))

    config: TwoTowerConfig

    def _prepare(self, fit_on: Interactions) -> State:
        state = super()._prepare(fit_on)
        items = self._item_modalities(fit_on)
        if items is not None:
            blocks = [items.blocks[name] for name in sorted(items.blocks)]
            state["item_features"] = np.hstack(blocks).astype(np.float32)
        return state

    def _build(self, keras: Any, fit_on: Interactions, constants: State) -> Any:
        layers, seed = keras.layers, self.config.random_state
        ids = keras.Input(shape=(), dtype="int32", name="item")
        init = keras.initializers.RandomNormal(0.0, 0.05, seed=layer_seed(seed, 50))
        vec = layers.Embedding(
            fit_on.n_items, self.config.embedding_size, embeddings_initializer=init, name="item_id"
        )(ids)
        vec = vec * frozen_table(keras, "item_known_t", constants["item_known"][:, None])(ids)
        if "item_features" in constants:
            if self.config.id_dropout > 0:
                vec = layers.Dropout(
                    self.config.id_dropout, noise_shape=(None, 1), seed=layer_seed(seed, 51)
                )(vec)
            feats = frozen_table(keras, "item_table", constants["item_features"])(ids)
            vec = vec + feature_mlp(keras, self.config, feats, "item_mlp", seed + 2)
        item_tower = keras.Model(ids, vec, name="item_tower")
        return self._training_net(keras, fit_on, constants, item_tower)

    def _export(self, net: Any) -> State:
        tower = net.get_layer("item_tower")
        names = ["item_id", *mlp_layer_names(tower, "item_mlp")]
        return {**self._export_user_tower(net), **layer_arrays(tower, names)}

    def _derive(self, state: State) -> State:
        vec = state["item_id_0"] * state["item_known"][:, None]
        if "item_features" in state:
            names = state_mlp_names(state, "item_mlp")
            vec = vec + dense_stack(state, state["item_features"], names, last_linear=True)
        return {
            **state,
            "user_vectors": self._user_vectors(state),
            "item_vectors": maybe_normalize(vec, self.config.normalize),
        }

    def explain_parts(self, user: int, item: int) -> tuple[np.ndarray, np.ndarray]:
        """See :meth:`TowerRecommender.history_parts`."""
        return self.history_parts(user, item)

    def permutable(self, train: Interactions) -> Permutable:
        """Shuffle column ranges of the item feature table; widths come from re-encoding."""
        if "item_features_" not in vars(self):
            return super().permutable(train)
        state = self._state()
        table = state["item_features"]
        cfg = ItemEncoderConfig(
            text_dim=self.config.text_dim, random_state=self.config.random_state
        )
        blocks = encode_items(train, cfg).blocks
        names = sorted(blocks)
        bounds = np.cumsum([0] + [blocks[m].shape[1] for m in names])
        if bounds[-1] != table.shape[1]:  # encoded differently: shuffle the table as a whole
            names, bounds = ["item features"], np.array([0, table.shape[1]])

        def scorer(perms: dict[str, np.ndarray]) -> Scorer:
            feats = table.copy()
            for m, perm in perms.items():
                lo, hi = bounds[names.index(m)], bounds[names.index(m) + 1]
                feats[:, lo:hi] = table[perm, lo:hi]
            items = self._derive({**state, "item_features": feats})["item_vectors"]
            return lambda users: state["user_vectors"][users] @ items.T

        return Permutable(names, scorer)
