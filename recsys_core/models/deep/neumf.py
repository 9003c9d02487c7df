"""Neural matrix factorisation (He et al., 2017): GMF and MLP branches fused, for implicit data."""

from __future__ import annotations

import functools
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from recsys_core.data.interactions import Interactions
from recsys_core.models._latent import latent_history_parts, latent_parts_many
from recsys_core.models.base import RecommenderConfig
from recsys_core.models.deep._base import (
    DeepConfig,
    DeepRecommender,
    batch_size_field,
    embedding_size_field,
    epochs_field,
    learning_rate_field,
)
from recsys_core.models.deep._keras import (
    State,
    dense_stack,
    in_batch_log_q,
    in_batch_loss,
    layer_arrays,
    layer_seed,
)
from recsys_core.models.deep._neumf_parts import in_batch_arrays, in_batch_net, start_from_als
from recsys_core.models.explanation import PairParts
from recsys_core.models.priors import NOT_SEARCHED, prior, prior_choices

#: Hidden activations materialised at once while scoring (user x item x width floats).
PAIR_BUDGET = 4_000_000
#: Redraws of negatives that hit an item the user has seen (each round redraws only those).
_NEGATIVE_ROUNDS = 10


class NeuMFConfig(DeepConfig):
    """NeuMF sees every interaction as a positive and other items as negatives.

    Defaults chosen on a validation side carved from MovieLens latest-small's training part
    (RandomHoldout 0.2 seed 7 of the seed-42 train; never test), NDCG@10, ALS .199: the
    paper's loss (binary cross-entropy, 4 uniform negatives, batch 1,024, lr 0.001) .121,
    under popularity (.124). A sampled softmax over 4 popularity-drawn negatives (log-chance
    corrected), batch 256, lr 0.002: .162; the loss fell while validation peaked at epoch 4.
    A softmax against the batch's other items (255 negatives): .179. Starting the GMF branch
    from ALS factors, as the paper starts from pre-trained GMF and MLP models, with the
    narrower MLP of the paper's 8-factor model (32-16-8, a quarter of the pair cost) and
    vectors of 64 (ALS's size): .203. Groups of 32 rows as each other's negatives in batches
    of 1,024 at lr 0.002 (4x the steps' size for 4x fewer steps): .200, in a fifth of the
    time (5 epochs at 1M interactions: 9.5 s each, against 31 s with groups of 64).

    Training from the ALS start peaked at epoch 1 and then drifted below ALS, on MovieLens
    and on synthetic data alike, so the start is now itself a candidate (epoch 0), and lr
    0.0005 with a start weight of 1 (see ``PRETRAIN_SCALE``) takes gentler steps. On three
    validation carvings MovieLens stays within 0.5% of ALS (the start is kept on two); on
    synthetic 943 x 1,682 x 100k sets (generator seeds 11 and 12, not the benchmark's)
    NeuMF beats ALS by 2.6-2.7%, where the earlier defaults lost 2%.
    """

    mlp_layers: list[int] = Field(
        default_factory=lambda: [32, 16, 8],
        min_length=1,
        max_length=8,
        description=(
            "Widths of the MLP branch's hidden layers, first to last (a tower that narrows, "
            "as in the paper). Its input is the user and item MLP embeddings side by side."
        ),
    )
    reg: float = Field(
        0.01,
        ge=0.0,
        le=10.0,
        description=(
            "L2 penalty on the embeddings used in each batch; NeuMF overfits quickly "
            "without it (on MovieLens the best epoch comes later and scores higher)."
        ),
        json_schema_extra=prior_choices(0.0, 1e-3, 1e-2, 1e-1),
    )
    batch_size: int = batch_size_field(
        1024, "Interactions per gradient step (a multiple of in_batch_group for in_batch)."
    )
    in_batch_group: int = Field(
        32,
        ge=2,
        le=4096,
        description=(
            "in_batch loss: rows of a batch whose items are each other's negatives (group - 1 "
            "per interaction); the MLP runs on group x group pairs per group, so the cost "
            "per interaction grows with it."
        ),
        json_schema_extra=NOT_SEARCHED,
    )
    embedding_size: int = embedding_size_field(
        64, "Size of the learned vectors (of each branch); ALS's default size."
    )
    learning_rate: float = learning_rate_field(0.0005)
    epochs: int = epochs_field(20)
    n_negatives: int = Field(
        4,
        ge=1,
        le=100,
        description=(
            "softmax and bce losses: unseen items drawn per interaction as negatives, "
            "re-drawn every epoch; more sharpens the ranking and costs proportionally more "
            "time."
        ),
        json_schema_extra=prior(1, 10),
    )
    loss: Literal["in_batch", "softmax", "bce"] = Field(
        "in_batch",
        description=(
            "in_batch: each interaction's logit against the other items of its group of "
            "`in_batch_group` batch rows in one softmax, corrected for their popularity; "
            "softmax: against `n_negatives` drawn items (sampled softmax; a batch_size of "
            "examples is that many groups); bce: binary cross-entropy on every pair, as in "
            "the paper."
        ),
    )
    pretrain: Literal["als", "none"] = Field(
        "als",
        description=(
            "als: the GMF branch starts from implicit ALS factors (a second's work; the paper "
            "starts from pre-trained branches) and the MLP learns what they miss; the start "
            "is validated as epoch 0 and kept when no epoch beats it. none: random start."
        ),
    )
    negative_power: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description=(
            "softmax and bce losses: negatives are drawn with chance proportional to "
            "(interactions + 1) ** power: 0 uniform, 1 by popularity (harder negatives). "
            "The softmax loss subtracts each candidate's log chance from its logit (the "
            "sampled-softmax correction), so popular items are not over-penalised."
        ),
        json_schema_extra=prior(0.0, 1.0),
    )

    @model_validator(mode="after")
    def _groups_fill_batches(self) -> NeuMFConfig:
        if self.loss == "in_batch" and self.batch_size % self.in_batch_group:
            raise ValueError(
                f"batch_size ({self.batch_size}) must be a multiple of in_batch_group "
                f"({self.in_batch_group}) with the in_batch loss: each batch is cut into "
                "groups of that many rows."
            )
        return self


def positive_pairs(inter: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (user, item) pairs, sorted by user then item (ratings count as positives)."""
    m = inter.matrix
    m.sort_indices()
    users = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
    return users, m.indices.astype(np.int64)


def sample_negatives(
    users: np.ndarray,
    codes: np.ndarray,
    n_items: int,
    n: int,
    rng: np.random.Generator,
    cdf: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random items per entry of ``users`` that the user has not seen, vectorised.

    Args:
        users: user index per positive.
        codes: sorted ``user * n_items + item`` codes of every seen pair.
        n_items: catalogue size.
        n: negatives per positive.
        rng: the seeded generator.
        cdf: cumulative sampling probabilities of the items (last entry 1); None: uniform.

    Draws that hit a seen item are redrawn a few rounds; a user who has seen (nearly) the
    whole catalogue may keep a few seen items as negatives, which only adds a little noise.
    """

    def draw(size: int) -> np.ndarray:
        if cdf is None:
            return rng.integers(0, n_items, size)
        return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), n_items - 1)

    neg_users = np.repeat(users, n)
    items = draw(len(neg_users))
    for _ in range(_NEGATIVE_ROUNDS):
        query = neg_users * n_items + items
        pos = np.minimum(np.searchsorted(codes, query), len(codes) - 1)
        bad = np.flatnonzero(codes[pos] == query)
        if not len(bad):
            break
        items[bad] = draw(len(bad))
    return neg_users, items


class NeuMF(DeepRecommender):
    """GMF (element-wise product of embeddings) and an MLP over concatenated embeddings.

    The GMF branch starts from implicit ALS factors (``pretrain``), and early stopping keeps
    that start when no epoch validates better; training is a softmax of each interaction
    against the items of its group of batch rows (or a sampled softmax, or the paper's
    binary cross-entropy; see ``loss``). Scores are the logits. For all-item
    scoring, the first MLP layer is split into its user and item halves, computed once per
    user and once per item, so only the later layers run on user x item pairs (in chunks of
    bounded memory), as in training.
    """

    name: ClassVar[str] = "neumf"
    config_class: ClassVar[type[RecommenderConfig]] = NeuMFConfig
    #: By history items through the GMF branch, approximately: see :meth:`explain_parts`.
    explains: ClassVar[bool] = True
    approximate_explanations: ClassVar[bool] = True

    config: NeuMFConfig

    def _mlp_names(self) -> list[str]:
        return [f"mlp_{j}" for j in range(len(self.config.mlp_layers))]

    def _build(self, keras: Any, fit_on: Interactions, constants: State) -> Any:
        cfg = self.config
        pair = self._pair_net(keras, fit_on)
        if cfg.pretrain == "als":
            start_from_als(pair, fit_on, cfg.embedding_size, cfg.random_state)
        if cfg.loss == "bce":
            return pair
        if cfg.loss == "in_batch":
            log_q = in_batch_log_q(np.bincount(fit_on.items, minlength=fit_on.n_items))
            group = self._group(fit_on)
            return in_batch_net(keras, pair, self._mlp_names(), cfg.embedding_size, group, log_q)
        group = 1 + self.config.n_negatives
        user = keras.Input(shape=(), dtype="int32", name="user")
        items = keras.Input(shape=(group,), dtype="int32", name="items")
        logits = pair([keras.ops.repeat(user, group), keras.ops.reshape(items, (-1,))])
        return keras.Model([user, items], keras.ops.reshape(logits, (-1, group)), name="groups")

    def _start_is_candidate(self) -> bool:
        return self.config.pretrain == "als"  # the start ranks as ALS does

    def _pair_net(self, keras: Any, fit_on: Interactions) -> Any:
        """The network of the paper: (user, item) index pairs -> logits."""
        cfg, layers = self.config, keras.layers
        seed = cfg.random_state
        reg = keras.regularizers.L2(cfg.reg) if cfg.reg > 0 else None
        user = keras.Input(shape=(), dtype="int32", name="user")
        item = keras.Input(shape=(), dtype="int32", name="item")

        def embed(name: str, size: int, ids: Any, ordinal: int) -> Any:
            init = keras.initializers.RandomNormal(0.0, 0.05, seed=layer_seed(seed, ordinal))
            return layers.Embedding(
                size,
                cfg.embedding_size,
                embeddings_initializer=init,
                activity_regularizer=reg,
                name=name,
            )(ids)

        gmf = layers.Multiply()(
            [embed("gmf_user", fit_on.n_users, user, 0), embed("gmf_item", fit_on.n_items, item, 1)]
        )
        h = layers.Concatenate()(
            [embed("mlp_user", fit_on.n_users, user, 2), embed("mlp_item", fit_on.n_items, item, 3)]
        )
        for j, (name, width) in enumerate(zip(self._mlp_names(), cfg.mlp_layers, strict=True)):
            init = keras.initializers.GlorotUniform(seed=layer_seed(seed, 10 + j))
            h = layers.Dense(width, activation="relu", kernel_initializer=init, name=name)(h)
        init = keras.initializers.GlorotUniform(seed=layer_seed(seed, 9))
        out = layers.Dense(1, kernel_initializer=init, name="predict")(
            layers.Concatenate()([gmf, h])
        )
        return keras.Model([user, item], keras.ops.squeeze(out, -1), name="neumf")

    def _loss(self, keras: Any) -> Any:
        if self.config.loss == "bce":
            return keras.losses.BinaryCrossentropy(from_logits=True)
        if self.config.loss == "in_batch":
            return in_batch_loss(keras)
        ops = keras.ops

        def sampled_softmax(log_q: Any, logits: Any) -> Any:
            labels = ops.zeros(ops.shape(logits)[:1], dtype="int32")  # column 0: the positive
            return ops.mean(
                keras.losses.sparse_categorical_crossentropy(
                    labels, logits - log_q, from_logits=True
                )
            )

        return sampled_softmax

    def _rows_per_epoch(self, fit_on: Interactions) -> int:
        if self.config.loss == "in_batch":
            return fit_on.matrix.nnz
        return fit_on.matrix.nnz * (1 + self.config.n_negatives)

    def _epoch_data(
        self, fit_on: Interactions, constants: State, rng: np.random.Generator
    ) -> tuple[list[np.ndarray], np.ndarray]:
        users, items = positive_pairs(fit_on)
        if self.config.loss == "in_batch":  # the group's items are the negatives
            # whole groups only: a different few positives sit out each epoch
            keep = len(users) - len(users) % self._group(fit_on)
            order = rng.permutation(len(users))[:keep]
            x = [users[order].astype(np.int32), items[order].astype(np.int32)]
            return x, np.zeros(keep, dtype=np.float32)
        codes = users * fit_on.n_items + items  # sorted: positive_pairs orders by user, item
        n, power = self.config.n_negatives, self.config.negative_power
        weights = (np.bincount(items, minlength=fit_on.n_items) + 1.0) ** power
        q = weights / weights.sum()
        cdf = None if power == 0 else np.cumsum(q)
        neg_users, neg_items = sample_negatives(users, codes, fit_on.n_items, n, rng, cdf)
        if self.config.loss == "softmax":  # one row per positive: its item, then its negatives
            order = rng.permutation(len(users))
            groups = np.hstack([items[:, None], neg_items.reshape(len(users), n)])[order]
            # targets carry each candidate's log chance, which the loss subtracts
            return [users[order].astype(np.int32), groups.astype(np.int32)], np.log(
                q[groups]
            ).astype(np.float32)
        all_users = np.concatenate([users, neg_users])
        all_items = np.concatenate([items, neg_items])
        labels = np.concatenate([np.ones(len(users)), np.zeros(len(neg_users))])
        order = rng.permutation(len(all_users))
        x = [all_users[order].astype(np.int32), all_items[order].astype(np.int32)]
        return x, labels[order].astype(np.float32)

    def _group(self, fit_on: Interactions) -> int:
        """Rows per in-batch group; the whole data when it holds fewer positives."""
        return min(self.config.in_batch_group, fit_on.matrix.nnz)

    def _export(self, net: Any) -> State:
        embeddings = ["gmf_user", "gmf_item", "mlp_user", "mlp_item"]
        if self.config.loss == "in_batch":
            return in_batch_arrays(net, embeddings)
        names = [*embeddings, *self._mlp_names(), "predict"]
        return layer_arrays(net if self.config.loss == "bce" else net.get_layer("neumf"), names)

    def _score_state(self, state: State, users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        out, user_part, item_part, w = self._split_first_layer(state, users, items)
        n_items, width = item_part.shape
        step = max(1, PAIR_BUDGET // max(1, n_items * width))
        for start in range(0, len(users), step):
            block = user_part[start : start + step]
            hidden = np.maximum(block[:, None, :] + item_part[None, :, :], 0.0)
            hidden = dense_stack(state, hidden.reshape(-1, width), self._mlp_names()[1:], False)
            out[start : start + step] += (hidden @ w).reshape(len(block), n_items)
        return out

    def _validation_scores(self, state: State, users: np.ndarray) -> np.ndarray:
        """:meth:`_score_state` over all items in TensorFlow, for early stopping only.

        Validation runs the MLP on every validation user x item pair after each epoch: on
        MovieLens latest-small that was two thirds of the fit in numpy (59 of 87 s), and
        TensorFlow's kernels do it ~5x faster. The same float32 formula; a fitted or loaded
        model still scores with :meth:`_score_state`.
        """
        import tensorflow as tf

        out, user_part, item_part, w = self._split_first_layer(state, users, None)
        layers = [(state[f"{n}_0"], state[f"{n}_1"]) for n in self._mlp_names()[1:]]
        step = max(1, 4 * PAIR_BUDGET // max(1, item_part.size))
        items = tf.constant(item_part)
        for start in range(0, len(users), step):
            block = tf.constant(user_part[start : start + step])
            out[start : start + step] += _mlp_tail(block, items, layers, w).numpy()
        return out

    def _split_first_layer(
        self, state: State, users: np.ndarray, items: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """GMF scores plus output bias, the first MLP layer's user and item halves (its bias
        on the item side), and the output weights of the MLP branch.

        The first layer sees the user and item embeddings side by side, so its pre-activation
        is a user part plus an item part: each is computed once, not once per pair.
        """
        d = self.config.embedding_size
        cols = slice(None) if items is None else items
        w = state["predict_0"][:, 0]
        gmf_user = state["gmf_user_0"][users] * w[:d]
        out = gmf_user @ state["gmf_item_0"][cols].T + state["predict_1"][0]
        kernel, bias = state[f"{self._mlp_names()[0]}_0"], state[f"{self._mlp_names()[0]}_1"]
        user_part = state["mlp_user_0"][users] @ kernel[:d]
        item_part = state["mlp_item_0"][cols] @ kernel[d:] + bias
        return out, user_part, item_part, w[d:]

    def explain_parts(self, user: int, item: int) -> tuple[np.ndarray, np.ndarray]:
        """History items' parts of the GMF branch (see :mod:`recsys_core.models._latent`).

        The GMF branch adds ``(w_gmf * p_u) . q_i`` to the logit, a dot product that splits
        over the history like any factor model's. The MLP branch is not linear in anything
        a history item owns, so it stays, with the output bias, in the residual.
        """
        state, d = self._state(), self.config.embedding_size
        user_vector = state["gmf_user_0"][user] * state["predict_0"][:d, 0]
        history = self._train().matrix[user].indices
        return latent_history_parts(user_vector, state["gmf_item_0"], history, item)

    def history_parts_many(self, users: np.ndarray, items: np.ndarray) -> PairParts:
        """:meth:`explain_parts` of every pair (one NNLS per distinct user)."""
        state, d = self._state(), self.config.embedding_size
        user_vectors = state["gmf_user_0"] * state["predict_0"][:d, 0]
        return latent_parts_many(
            user_vectors, state["gmf_item_0"], self._train().matrix, (users, items)
        )

    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """The logit of each pair in float64, both branches per pair (the same in any batch)."""
        u, i = self._pairs(users, items)
        d = self.config.embedding_size
        state = {k: v.astype(np.float64) for k, v in self._state().items()}
        w = state["predict_0"][:, 0]
        out = ((state["gmf_user_0"][u] * w[:d]) * state["gmf_item_0"][i]).sum(axis=1)
        first, *rest = self._mlp_names()
        kernel = state[f"{first}_0"]
        hidden = state["mlp_user_0"][u] @ kernel[:d] + state["mlp_item_0"][i] @ kernel[d:]
        hidden = np.maximum(hidden + state[f"{first}_1"], 0.0)
        hidden = dense_stack(state, hidden, rest, last_linear=False)
        return out + (hidden * w[d:]).sum(axis=1) + state["predict_1"][0]


def _mlp_tail(users: Any, items: Any, layers: list[tuple[np.ndarray, np.ndarray]], w: Any) -> Any:
    """The MLP branch's logit part for a block of users x all items, traced once per shape."""
    return _mlp_tail_function()(users, items, layers, w)


@functools.cache
def _mlp_tail_function() -> Any:
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def tail(users: Any, items: Any, layers: Any, w: Any) -> Any:
        hidden = tf.nn.relu(users[:, None, :] + items[None, :, :])
        hidden = tf.reshape(hidden, (-1, tf.shape(items)[1]))
        for kernel, bias in layers:  # unrolled when traced
            hidden = tf.nn.relu(tf.matmul(hidden, kernel) + bias)
        return tf.reshape(tf.linalg.matvec(hidden, w), (tf.shape(users)[0], -1))

    return tail
