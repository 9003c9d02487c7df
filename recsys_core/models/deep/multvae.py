"""Mult-VAE: a variational autoencoder of each user's item row with a multinomial likelihood.

Liang, Krishnan, Hoffman and Jebara (2018), "Variational Autoencoders for Collaborative
Filtering". The encoder maps a user's (L2-normalised, dropped-out) row to a Gaussian over a
latent vector; the decoder maps the vector to logits over the whole catalogue, trained with
the multinomial log-likelihood of the row plus ``beta`` times the KL term. Keras trains it
(imported inside fit only); scoring is numpy on the exported weights: a user's scores are
the decoder's logits at the encoder's mean for the user's training row.

It explains by history items approximately, like the other embedding models: the last
layer is a dot product between the user's decoded vector (the decoder's tanh layer) and the
item's output weights, and :mod:`recsys_core.models._latent` writes the decoded vector as a
non-negative mix of the user's history items' output weights. The non-linear layers before
it have no additive split over the history (only gradients or ablations, which are not exact
and cost a forward pass per item); what the mix does not carry, and the item's output bias,
stay in the explanation's residual.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from recsys_core.data.interactions import Interactions
from recsys_core.models._latent import latent_history_parts, latent_parts_many
from recsys_core.models.base import RecommenderConfig, check_indices
from recsys_core.models.deep._base import (
    DeepConfig,
    DeepRecommender,
    batch_size_field,
    embedding_size_field,
    learning_rate_field,
    patience_field,
)
from recsys_core.models.deep._keras import State, layer_arrays, layer_seed
from recsys_core.models.explanation import PairParts
from recsys_core.models.knn import user_rows
from recsys_core.models.priors import NOT_SEARCHED, prior
from recsys_core.progress import Progress

_LAYERS = ["enc", "enc_out", "dec", "dec_out"]


class MultVAEConfig(DeepConfig):
    """The paper's shape ([hidden] -> latent -> [hidden]), KL weight and input dropout.

    Batch and step size chosen on a validation carve of MovieLens latest-small's training
    side (RandomHoldout 0.2 seed 7 of the seed-42 train; never test), NDCG@10: batches of
    256 users at lr 0.001 (two steps an epoch on its ~550 users) .146; 64 at 0.003 .174 in
    about the same time; 32 at 0.001 .181 at twice the time. Annealing the KL weight over
    20 epochs as the paper does: .178 (vs .172, within noise). EASE scores .217 there.
    """

    embedding_size: int = embedding_size_field(200, "Size of the latent vector.", (50, 400))
    hidden_size: int = Field(
        600,
        ge=1,
        le=4096,
        description="Units of the encoder's and the decoder's tanh layer.",
        json_schema_extra=prior(200, 1000, log=True),
    )
    beta: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description="Weight of the KL term (the paper anneals it up to about 0.2).",
    )
    anneal_epochs: int = Field(
        20,
        ge=0,
        le=1000,
        description=(
            "Epochs over which the KL weight grows linearly from 0 to `beta` (the paper's "
            "annealing); 0 uses `beta` from the first step."
        ),
        json_schema_extra=NOT_SEARCHED,
    )
    dropout: float = Field(
        0.5,
        ge=0.0,
        lt=1.0,
        description="Share of each input row dropped while training.",
        json_schema_extra=prior(0, 0.8),
    )
    epochs: int = Field(
        100,
        ge=1,
        le=1000,
        description="Most passes over the users; early stopping may end sooner.",
        json_schema_extra=prior(20, 200, log=True),
    )
    batch_size: int = batch_size_field(
        64,
        (
            "Users per gradient step. The paper's 500 suits 100k users; a few hundred users "
            "then get only a step or two per epoch."
        ),
    )
    learning_rate: float = learning_rate_field(0.003)
    patience: int = patience_field(10)


class MultVAE(DeepRecommender):
    """Mult-VAE^PR of Liang et al. 2018: the KL weight grows to ``beta`` over ``anneal_epochs``."""

    name: ClassVar[str] = "multvae"
    config_class: ClassVar[type[RecommenderConfig]] = MultVAEConfig

    #: By history items, approximately: see :meth:`explain_parts`.
    explains: ClassVar[bool] = True
    approximate_explanations: ClassVar[bool] = True

    config: MultVAEConfig

    def _fit(self, train: Interactions, progress: Progress | None) -> None:
        try:
            super()._fit(train, progress)
        finally:
            self.__dict__.pop("_fold_in", None)

    def _prepare(self, fit_on: Interactions) -> State:
        # validation during fit scores users from the rows the network was trained on
        self._fold_in = fit_on
        return {}

    def _rows(self, users: np.ndarray) -> sp.csr_matrix:
        """The users' L2-normalised binary rows, kept sparse: the encoder's first product then
        costs (history length x hidden) per user instead of (catalogue x hidden)."""
        source = self.__dict__.get("_fold_in", self.train_)
        x = user_rows(source, users, True).astype(np.float64)
        counts = np.diff(x.indptr)
        x.data = np.repeat(1.0 / np.sqrt(np.maximum(counts, 1)), counts)
        return x

    def _build(self, keras: Any, fit_on: Interactions, constants: State) -> Any:
        c, layers, seed = self.config, keras.layers, self.config.random_state
        latent = c.embedding_size
        anneal_steps = c.anneal_epochs * -(-fit_on.n_users // c.batch_size)

        class Sample(layers.Layer):  # type: ignore[name-defined]
            """Reparameterised draw in training (the mean otherwise), adding beta * KL."""

            def __init__(self) -> None:
                super().__init__()
                self.seeds = keras.random.SeedGenerator(layer_seed(seed, 3))
                self.steps = self.add_weight(
                    shape=(), initializer="zeros", trainable=False, name="steps"
                )

            def call(self, stats: Any, training: bool = False) -> Any:
                ops = keras.ops
                mu, logvar = stats[:, :latent], stats[:, latent:]
                kl = -0.5 * ops.sum(1.0 + logvar - mu**2 - ops.exp(logvar), axis=1)
                beta = c.beta
                if anneal_steps:
                    beta = ops.minimum(c.beta, c.beta * self.steps / anneal_steps)
                    if training:
                        self.steps.assign_add(1.0)
                self.add_loss(beta * ops.mean(kl))
                if not training:
                    return mu
                noise = keras.random.normal(ops.shape(mu), seed=self.seeds)
                return mu + ops.exp(0.5 * logvar) * noise

        def dense(units: int, name: str, ordinal: int, activation: str | None = None) -> Any:
            init = keras.initializers.GlorotUniform(seed=layer_seed(seed, ordinal))
            return layers.Dense(units, activation, kernel_initializer=init, name=name)

        rows = keras.Input(shape=(fit_on.n_items,), name="row")
        x = layers.UnitNormalization()(rows)
        x = layers.Dropout(c.dropout, seed=layer_seed(seed, 1))(x)
        x = dense(c.hidden_size, "enc", 10, "tanh")(x)
        z = Sample()(dense(2 * latent, "enc_out", 11)(x))
        x = dense(c.hidden_size, "dec", 12, "tanh")(z)
        return keras.Model([rows], dense(fit_on.n_items, "dec_out", 13)(x))

    def _loss(self, keras: Any) -> Any:
        ops = keras.ops

        def multinomial(targets: Any, logits: Any) -> Any:
            log_p = logits - ops.logsumexp(logits, axis=1, keepdims=True)
            return -ops.mean(ops.sum(log_p * targets, axis=1))

        return multinomial

    def _rows_per_epoch(self, fit_on: Interactions) -> int:
        return fit_on.n_users

    def _epoch_data(
        self, fit_on: Interactions, constants: State, rng: np.random.Generator
    ) -> tuple[list[np.ndarray], np.ndarray]:
        order = rng.permutation(fit_on.n_users)
        rows = user_rows(fit_on, order, True).toarray().astype(np.float32)
        return [rows], rows

    def _export(self, net: Any) -> State:
        return layer_arrays(net, _LAYERS)

    def _score_state(self, state: State, users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        """Decoder logits at the encoder's mean, in float64 (the same for any item subset)."""
        w = {k: np.asarray(v, dtype=np.float64) for k, v in state.items()}
        decoded = self._decoded(w, users)
        if items is None:
            return decoded @ w["dec_out_0"] + w["dec_out_1"]
        return decoded @ w["dec_out_0"][:, items] + w["dec_out_1"][items]

    def _decoded(self, w: State, users: np.ndarray) -> np.ndarray:
        """The decoder's tanh layer at the encoder's mean: the user's vector of the last layer."""
        hidden = np.tanh(np.asarray(self._rows(users) @ w["enc_0"]) + w["enc_1"])
        mu = (hidden @ w["enc_out_0"] + w["enc_out_1"])[:, : self.config.embedding_size]
        return np.tanh(mu @ w["dec_0"] + w["dec_1"])

    def _last_layer(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Decoded vectors of ``users`` and every item's output weights ``[n_items, hidden]``.

        The last call's answer is kept, read-only: explaining asks for the same users' layer
        for the scores and again for the parts, and each time converted every weight to
        float64 (MovieLens latest-small: ~0.1 s of a 1 s batch of 1,830 reasons).
        """
        state, source = self._state(), self.__dict__.get("_fold_in", self.train_)
        last = self.__dict__.get("_last_layer_cache")
        if (
            last is not None
            and last[4] is source
            and last[0].keys() == state.keys()
            and all(last[0][k] is v for k, v in state.items())
            and np.array_equal(last[1], users)
        ):
            return last[2], last[3]
        w = {k: np.asarray(v, dtype=np.float64) for k, v in state.items()}
        decoded = self._decoded(w, users)
        item_vectors = np.ascontiguousarray(w["dec_out_0"].T)  # rows gathered
        decoded.setflags(write=False)
        item_vectors.setflags(write=False)
        self._last_layer_cache = (state, np.array(users, copy=True), decoded, item_vectors, source)
        return decoded, item_vectors

    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Each pair's logit from its user's decoded vector and the item's output column: one
        forward pass per distinct user and no catalogue-wide row (the default scores every item
        of every user to read one per pair)."""
        u = check_indices(users, self.n_users, "user")
        i = check_indices(items, self.n_items, "item")
        uniq, inverse = np.unique(u, return_inverse=True)
        decoded, item_vectors = self._last_layer(uniq)
        bias = np.asarray(self._state()["dec_out_1"], dtype=np.float64)
        return np.einsum("pd,pd->p", decoded[inverse], item_vectors[i]) + bias[i]

    def explain_parts(self, user: int, item: int) -> tuple[np.ndarray, np.ndarray]:
        """History items' parts of the last layer's product (see :mod:`..._latent`).

        The logit is ``d_u . W[:, i] + b_i`` with ``d_u`` the decoded vector; ``d_u`` is
        written as a non-negative mix of the history items' columns of ``W``. The output
        bias and what the mix misses stay in the residual.
        """
        decoded, item_vectors = self._last_layer(np.array([user]))
        history = self._train().matrix[user].indices
        return latent_history_parts(decoded[0], item_vectors, history, item)

    def history_parts_many(self, users: np.ndarray, items: np.ndarray) -> PairParts:
        """:meth:`explain_parts` of every pair: one forward pass and one NNLS per distinct user."""
        uniq, inverse = np.unique(users, return_inverse=True)
        decoded, item_vectors = self._last_layer(uniq)
        rows = self._train().matrix[uniq]
        return latent_parts_many(decoded, item_vectors, rows, (inverse, items))
