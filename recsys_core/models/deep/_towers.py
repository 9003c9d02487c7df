"""Shared parts of the two-tower models: side features, frozen tables, in-batch softmax."""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
from pydantic import Field

from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.models._latent import latent_history_parts, latent_parts_many
from recsys_core.models.deep._base import (
    DeepConfig,
    DeepRecommender,
    batch_size_field,
    embedding_size_field,
    learning_rate_field,
)
from recsys_core.models.deep._keras import (
    MASKED,
    State,
    dense_stack,
    frozen_table,
    in_batch_log_q,
    in_batch_loss,
    layer_arrays,
    layer_seed,
)
from recsys_core.models.explanation import PairParts
from recsys_core.models.priors import NOT_SEARCHED, prior

if TYPE_CHECKING:
    from recsys_core.features.encoders import ItemModalities


class TowerConfig(DeepConfig):
    """Fields shared by the two-tower and fusion models.

    Defaults chosen on a validation side carved from MovieLens latest-small's training part
    (RandomHoldout 0.2 seed 7 of the seed-42 train; never test). Interactions alone:
    temperature 0.1 -> 0.2, vectors 32 -> 64 and batches 1,024 -> 256 lifted NDCG@10 from
    .168 to .202 (two-tower) and .160 to .202 (fusion; ALS .200); without the logQ
    correction it fell to .047. With the item and user tables, vectors of 128 over 64: .215
    vs .201 (two-tower), .216 vs .212 (fusion; ALS .208). On the test side (bench_quality's
    protocol) two-tower went .282 -> .316 and fusion .282 -> .319, still under ALS's .350.
    """

    embedding_size: int = embedding_size_field(128)
    batch_size: int = batch_size_field(
        256, "Training examples per gradient step (and in-batch negatives per example)."
    )
    learning_rate: float = learning_rate_field(0.005)
    tower_layers: list[int] = Field(
        default_factory=lambda: [128],
        max_length=8,
        description=(
            "Hidden widths of the MLP that turns side features into a vector (ReLU, then a "
            "linear layer to embedding_size); empty = one linear layer."
        ),
    )
    temperature: float = Field(
        0.2,
        gt=0.0,
        le=10.0,
        description="Softmax temperature of the in-batch loss; lower = sharper ranking.",
        json_schema_extra=prior(0.02, 1, log=True),
    )
    learn_temperature: bool = Field(
        False, description="Learn the temperature, starting from `temperature`."
    )
    normalize: bool = Field(
        True,
        description=(
            "L2-normalise user and item vectors (cosine scores). Off lets vector lengths "
            "carry popularity."
        ),
    )
    log_q_correction: bool = Field(
        True,
        description=(
            "Subtract log(sampling probability) from each candidate's logit, so popular items "
            "are not over-penalised for appearing as in-batch negatives (Yi et al., 2019)."
        ),
    )
    n_negatives: int = Field(
        0,
        ge=0,
        le=64,
        description=(
            "Extra random catalogue items per example added to the in-batch negatives "
            "(mixed negative sampling); they teach the model about rarely seen items."
        ),
        json_schema_extra=prior(0, 16),
    )
    id_dropout: float = Field(
        0.1,
        ge=0.0,
        lt=1.0,
        description=(
            "Chance of hiding an item's id embedding in a training example (only with item "
            "features), so the features alone learn to place items nobody interacted with."
        ),
        json_schema_extra=prior(0, 0.5),
    )
    use_item_features: bool = Field(True, description="Feed the item table to the item tower.")
    use_user_features: bool = Field(True, description="Feed the user table to the user tower.")
    text_dim: int = Field(
        32,
        ge=2,
        le=1024,
        description="Size of the text block of the item encoder (TF-IDF -> SVD).",
        json_schema_extra=NOT_SEARCHED,
    )


class TowerRecommender(DeepRecommender):
    """Base of the tower models: side features in, in-batch softmax out, dot-product scores.

    Scores are ``user_vectors @ item_vectors.T``, both computed once after training for the
    whole index space (items nobody interacted with included), so all-item scoring is one
    matrix product.
    """

    config: TowerConfig
    has_item_vectors: ClassVar[bool] = True
    _given_items: ItemModalities | None = None
    _given_users: np.ndarray | None = None

    def with_features(
        self, items: ItemModalities | None = None, users: np.ndarray | None = None
    ) -> Self:
        """Use already encoded features instead of encoding the data's tables in ``fit``.

        Lets several models share one encoding, or a caller hand in its own blocks.

        Args:
            items: per-modality item blocks over the training data's item index space.
            users: float [n_users, n_features] user features over its user index space.
        """
        self._given_items, self._given_users = items, users
        return self

    # ------------------------------------------------------------------ features
    def _item_modalities(self, fit_on: Interactions) -> ItemModalities | None:
        if not self.config.use_item_features:
            return None
        items = self._given_items
        if items is None and fit_on.item_features is not None:
            from recsys_core.features.encoders import ItemEncoderConfig, encode_items

            cfg = ItemEncoderConfig(
                text_dim=self.config.text_dim, random_state=self.config.random_state
            )
            items = encode_items(fit_on, cfg)
        if items is None or not items.blocks:
            return None
        if len(items.item_ids) != fit_on.n_items:
            raise InputError(
                f"The item features cover {len(items.item_ids)} items but the training data "
                f"has {fit_on.n_items}: encode them from the same data."
            )
        return items

    def _user_matrix(self, fit_on: Interactions) -> np.ndarray | None:
        if not self.config.use_user_features:
            return None
        users = self._given_users
        if users is None and fit_on.user_features is not None:
            from recsys_core.features.encoders import encode_users

            encoded = encode_users(fit_on)
            users = None if encoded is None else encoded[0]
        if users is None or users.shape[1] == 0:
            return None
        if len(users) != fit_on.n_users:
            raise InputError(
                f"The user features cover {len(users)} users but the training data has "
                f"{fit_on.n_users}: encode them from the same data."
            )
        return np.asarray(users, dtype=np.float32)

    def _prepare(self, fit_on: Interactions) -> State:
        """Side features, which ids were seen, and the popularity the loss corrects for."""
        counts = np.bincount(fit_on.items, minlength=fit_on.n_items).astype(np.float64)
        users = self._user_matrix(fit_on)
        state: State = {
            "item_known": (counts > 0).astype(np.float32),
            "user_known": (np.bincount(fit_on.users, minlength=fit_on.n_users) > 0).astype(
                np.float32
            ),
            "item_log_q": in_batch_log_q(counts, self.config.n_negatives),
        }
        if users is not None:
            state["user_features"] = users
        return state

    # ------------------------------------------------------------------ training data
    def _rows_per_epoch(self, fit_on: Interactions) -> int:
        return fit_on.n_interactions

    def _epoch_data(
        self, fit_on: Interactions, constants: State, rng: np.random.Generator
    ) -> tuple[list[np.ndarray], np.ndarray]:
        order = rng.permutation(fit_on.n_interactions)
        x = [fit_on.users[order].astype(np.int32), fit_on.items[order].astype(np.int32)]
        if self.config.n_negatives:
            shape = (len(order), self.config.n_negatives)
            x.append(rng.integers(0, fit_on.n_items, shape).astype(np.int32))
        return x, np.zeros(len(order), dtype=np.float32)

    def _loss(self, keras: Any) -> Any:
        return in_batch_loss(keras)

    # ------------------------------------------------------------------ networks
    def _user_tower(self, keras: Any, fit_on: Interactions, constants: State) -> Any:
        """User index -> vector: id embedding (zero for users absent from training) + MLP."""
        layers, seed = keras.layers, self.config.random_state
        ids = keras.Input(shape=(), dtype="int32", name="user")
        init = keras.initializers.RandomNormal(0.0, 0.05, seed=layer_seed(seed, 0))
        vec = layers.Embedding(
            fit_on.n_users, self.config.embedding_size, embeddings_initializer=init, name="user_id"
        )(ids)
        vec = vec * frozen_table(keras, "user_known_t", constants["user_known"][:, None])(ids)
        if "user_features" in constants:
            feats = frozen_table(keras, "user_table", constants["user_features"])(ids)
            vec = vec + feature_mlp(keras, self.config, feats, "user_mlp", seed + 1)
        return keras.Model(ids, vec, name="user_tower")

    def _training_net(
        self, keras: Any, fit_on: Interactions, constants: State, item_tower: Any
    ) -> Any:
        user_tower = self._user_tower(keras, fit_on, constants)
        inputs = [
            keras.Input(shape=(), dtype="int32", name="user"),
            keras.Input(shape=(), dtype="int32", name="item"),
        ]
        if self.config.n_negatives:
            inputs.append(
                keras.Input(shape=(self.config.n_negatives,), dtype="int32", name="negatives")
            )
        items = inputs[1]
        if len(inputs) == 3:  # mixed negatives: the batch's items, then the random ones
            flat = keras.ops.reshape(inputs[2], (-1,))
            items = keras.ops.concatenate([inputs[1], flat], axis=0)
        log_q = frozen_table(keras, "item_log_q_t", constants["item_log_q"][:, None])(items)
        cfg = self.config
        logits = custom_layers(keras).InBatchLogits(
            cfg.normalize,
            float(-np.log(cfg.temperature)),
            cfg.learn_temperature,
            cfg.log_q_correction,
            name="in_batch_logits",
        )([user_tower(inputs[0]), item_tower(items), inputs[1], items, log_q])
        return keras.Model(inputs, logits, name=self.name)

    def _export_user_tower(self, net: Any) -> State:
        tower = net.get_layer("user_tower")
        names = ["user_id", *mlp_layer_names(tower, "user_mlp")]
        return layer_arrays(tower, names)

    def _user_vectors(self, state: State) -> np.ndarray:
        vec = state["user_id_0"] * state["user_known"][:, None]
        if "user_features" in state:
            names = state_mlp_names(state, "user_mlp")
            vec = vec + dense_stack(state, state["user_features"], names, last_linear=True)
        return maybe_normalize(vec, self.config.normalize)

    def _score_state(self, state: State, users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        item_vectors = state["item_vectors"] if items is None else state["item_vectors"][items]
        return state["user_vectors"][users] @ item_vectors.T

    def history_parts(self, user: int, item: int) -> tuple[np.ndarray, np.ndarray]:
        """History items' parts of the dot-product score (see :mod:`recsys_core.models._latent`).

        They add up to the part of the score the user's history accounts for; the rest is
        the explanation's residual (user features, or taste the history does not show).
        The two-tower model explains by them; fusion explains by modality and names them.
        """
        state = self._state()
        history = self._train().matrix[user].indices
        return latent_history_parts(
            state["user_vectors"][user], state["item_vectors"], history, item
        )

    def history_parts_many(self, users: np.ndarray, items: np.ndarray) -> PairParts:
        """:meth:`history_parts` of every pair (one NNLS per distinct user)."""
        state = self._state()
        vectors = (state["user_vectors"], state["item_vectors"])
        return latent_parts_many(*vectors, self._train().matrix, (users, items))

    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """One dot product per pair (float64), the same in any batch."""
        u, i = self._pairs(users, items)
        state = self._state()
        left = state["user_vectors"][u].astype(np.float64)
        return (left * state["item_vectors"][i].astype(np.float64)).sum(axis=1)

    def item_vectors(self) -> np.ndarray:
        return self._state()["item_vectors"]


# ---------------------------------------------------------------------- Keras helpers
def feature_mlp(keras: Any, config: TowerConfig, x: Any, prefix: str, seed: int) -> Any:
    """Features -> ReLU hidden layers -> linear layer of ``embedding_size`` (named prefix_j)."""
    widths = [*config.tower_layers, config.embedding_size]
    for j, width in enumerate(widths):
        init = keras.initializers.GlorotUniform(seed=layer_seed(seed, 100 + j))
        act = "relu" if j < len(widths) - 1 else None
        x = keras.layers.Dense(
            width, activation=act, kernel_initializer=init, name=f"{prefix}_{j}"
        )(x)
    return x


def l2_normalize(ops: Any, x: Any) -> Any:
    """Rows scaled to unit length (zero rows stay zero), in Keras ops."""
    return x / ops.sqrt(ops.maximum(ops.sum(x * x, axis=-1, keepdims=True), 1e-12))


@cache
def custom_layers(keras: Any) -> Any:
    """Keras layers of our own, defined on first use because Keras is imported lazily."""

    class InBatchLogits(keras.layers.Layer):
        """Logits of every user in the batch against every candidate item.

        Inputs: user vectors [B, d], candidate item vectors [C, d] (the batch's items
        first), the batch's item ids [B], the candidates' ids [C] and log q [C, 1]. Row r's
        label is column r; other columns holding the same item are masked (not negatives).
        """

        def __init__(
            self, normalize: bool, log_scale: float, learn: bool, correct: bool, **kw: Any
        ) -> None:
            super().__init__(**kw)
            self.normalize, self.correct = normalize, correct
            self.start, self.learn = log_scale, learn

        def build(self, input_shape: Any) -> None:
            self.log_scale = self.add_weight(
                shape=(),
                initializer=keras.initializers.Constant(self.start),
                trainable=self.learn,
                name="log_scale",
            )

        def call(self, inputs: list[Any]) -> Any:
            ops = keras.ops
            users, cands, items, cand_ids, log_q = inputs
            if self.normalize:
                users, cands = l2_normalize(ops, users), l2_normalize(ops, cands)
            logits = ops.matmul(users, ops.transpose(cands)) * ops.exp(self.log_scale)
            if self.correct:
                logits = logits - ops.reshape(log_q, [1, -1])
            rows = ops.expand_dims(ops.arange(ops.shape(items)[0]), 1)
            cols = ops.expand_dims(ops.arange(ops.shape(cand_ids)[0]), 0)
            copy = (ops.expand_dims(items, 1) == ops.expand_dims(cand_ids, 0)) & (rows != cols)
            return ops.where(copy, MASKED, logits)

    return SimpleNamespace(InBatchLogits=InBatchLogits)


def mlp_layer_names(model: Any, prefix: str) -> list[str]:
    """Names of a Keras model's ``<prefix>_<j>`` layers in order of j."""
    return sorted(
        (layer.name for layer in model.layers if layer.name.startswith(f"{prefix}_")),
        key=lambda name: int(name.rsplit("_", 1)[1]),
    )


def state_mlp_names(state: State, prefix: str) -> list[str]:
    """Names of the exported ``<prefix>_<j>`` layers in a state dict, in order of j."""
    layers = {key.rsplit("_", 1)[0] for key in state if key.startswith(f"{prefix}_")}
    return sorted(layers, key=lambda name: int(name.rsplit("_", 1)[1]))


def maybe_normalize(x: np.ndarray, normalize: bool) -> np.ndarray:
    """Rows scaled to unit length when ``normalize`` (zero rows stay zero), as float32."""
    if not normalize:
        return x.astype(np.float32)
    norm = np.sqrt(np.maximum((x * x).sum(axis=-1, keepdims=True), 1e-12))
    return (x / norm).astype(np.float32)
