"""Content-based recommender: cosine between item metadata vectors and a user's taste profile."""

from __future__ import annotations

import ast
import json
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field, field_validator

from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.features.encoders import MODALITIES, ItemEncoderConfig, encode_items
from recsys_core.features.text import TextEncoderChoice
from recsys_core.models._content_reasons import content_permutable, feature_phrases
from recsys_core.models._fit_cache import fit_cached
from recsys_core.models.base import Recommender, RecommenderConfig, order_contributions
from recsys_core.models.explanation import PairParts, Permutable, history_dots
from recsys_core.models.priors import NOT_SEARCHED, prior
from recsys_core.progress import Progress, report

Weighting = Literal["auto", "centered", "values", "binary"]
NO_METADATA = (
    "content model needs item metadata: upload an item table with text/categories/numbers "
    "(or image vectors) for the items."
)


def _default_weights() -> dict[str, float]:
    return dict.fromkeys(MODALITIES, 1.0)


class ContentConfig(RecommenderConfig):
    """How item vectors are built and how a user's history becomes a profile."""

    modality_weights: dict[str, float] = Field(
        default_factory=_default_weights,
        description=(
            "Weight of each modality (text, categorical, numeric, image) in the item vector, "
            "e.g. {'text': 1, 'image': 0.5}; each block is L2-normalised first, 0 drops it, "
            "a modality left out weighs 1."
        ),
    )
    weighting: Weighting = Field(
        default="auto",
        description=(
            "Weight of each history item in the profile. centered: rating minus the user's "
            "mean (disliked items push away); values: the rating or weight as is; binary: 1; "
            "auto: binary for ratings (on MovieLens it ranks twice as well as centered, since "
            "a rating says less about what a user watches than the fact of rating it), values "
            "for implicit data."
        ),
    )
    text_dim: int = Field(
        default=64,
        ge=2,
        le=1024,
        description="Text block size (TF-IDF -> SVD).",
        json_schema_extra=prior(16, 256, log=True),
    )
    max_categories: int = Field(
        default=200,
        ge=1,
        le=10_000,
        description="Most frequent values kept per categorical column.",
        json_schema_extra=NOT_SEARCHED,
    )
    text_encoder: TextEncoderChoice = Field(
        default="auto",
        description=(
            "auto: a local sentence-transformers model when RECSYS_TEXT_MODEL names one, else "
            "TF-IDF; tfidf: always TF-IDF."
        ),
    )
    text_columns: list[str] = Field(
        default_factory=list, description="Text columns to use; empty = guessed from the values."
    )
    categorical_columns: list[str] = Field(
        default_factory=list,
        description="Category or multi-valued columns to use; empty = guessed from the values.",
    )
    numeric_columns: list[str] = Field(
        default_factory=list, description="Number columns to use; empty = every number column."
    )
    image_column: str = Field(
        default="image", description="Item column holding image vectors, if any."
    )

    @field_validator("modality_weights", mode="before")
    @classmethod
    def _parse_weights(cls, value: Any) -> Any:
        """Accept the text a form gives: JSON, a Python dict literal or "text=1, image=0.5"."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if not text:
            return {}
        if text.startswith("{"):
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                return ast.literal_eval(text)  # a ValueError here becomes a validation error
        pairs = [p.split("=", 1) for p in text.replace(";", ",").split(",") if p.strip()]
        if any(len(p) != 2 for p in pairs):
            raise ValueError("write the weights as modality=weight, e.g. 'text=1, image=0.5'")
        return {k.strip(): v.strip() for k, v in pairs}

    @field_validator("modality_weights")
    @classmethod
    def _check_weights(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(MODALITIES))
        if unknown:
            raise ValueError(f"unknown modality {unknown}; use {', '.join(MODALITIES)}")
        if any(not np.isfinite(w) or w < 0 for w in value.values()):
            raise ValueError("modality weights must be finite and at least 0")
        return {**_default_weights(), **{k: float(v) for k, v in value.items()}}


class ContentBased(Recommender):
    """Recommend items whose metadata resemble what the user liked, including cold items.

    Item vector: the modality blocks (text, categorical, numeric, image), each L2-normalised
    and scaled by its weight, concatenated and L2-normalised. Profile: the weighted sum of the
    user's history item vectors. Score: cosine(profile, item) = sum over history items i of
    ``w_ui * (x_i · x_j) / |profile|``, which is the explanation. Items without interactions
    score like any other, so metadata-only catalogue items are recommended.
    """

    name: ClassVar[str] = "content"
    config_class: ClassVar[type[RecommenderConfig]] = ContentConfig
    supports_cold_items: ClassVar[bool] = True
    explains: ClassVar[bool] = True
    explains_features: ClassVar[bool] = True
    has_item_vectors: ClassVar[bool] = True
    folds_in: ClassVar[bool] = True
    shuffles_features: ClassVar[bool] = True

    config: ContentConfig

    def _fit(self, train: Interactions, progress: Progress | None) -> None:
        cfg = self.config
        enc = ItemEncoderConfig(
            text_dim=cfg.text_dim,
            text_columns=cfg.text_columns or None,
            categorical_columns=cfg.categorical_columns or None,
            numeric_columns=cfg.numeric_columns or None,
            image_column=cfg.image_column,
            max_categories=cfg.max_categories,
            text_encoder=cfg.text_encoder,
            random_state=cfg.random_state,
        )
        report(progress, 0, 2, "encoding item metadata")
        mods = encode_items(train, enc)
        used = [m for m in MODALITIES if m in mods.blocks and cfg.modality_weights[m] > 0]
        if not used:
            raise InputError(NO_METADATA)
        parts = [cfg.modality_weights[m] * _unit_rows(mods.blocks[m]) for m in used]
        self.item_vectors_ = _unit_rows(np.hstack(parts)).astype(np.float32)
        if not self.item_vectors_.any():
            raise InputError(NO_METADATA)
        self.block_bounds_ = np.cumsum([0] + [p.shape[1] for p in parts]).astype(np.int64)
        self.block_names_ = np.asarray(used, dtype=str)
        self.encoders_ = np.asarray([mods.encoders[m] for m in used], dtype=str)
        self.feature_names_ = np.asarray(
            [n for m in used for n in mods.feature_names[m]], dtype=str
        )
        terms = mods.term_weights if "text" in used else None
        self.term_weights_ = sp.csr_matrix((train.n_items, 0), dtype=np.float32)
        self.terms_ = np.asarray(mods.terms if terms is not None else [], dtype=str)
        if terms is not None:
            self.term_weights_ = sp.csr_matrix(terms, dtype=np.float32)
        self.weights_ = _profile_weights(train, cfg.weighting)
        report(progress, 2, 2, f"item vectors of {self.item_vectors_.shape[1]} values")

    @property
    def encoders(self) -> dict[str, str]:
        """Modality -> the encoder used for it, for the page to show."""
        return dict(zip(self.block_names_.tolist(), self.encoders_.tolist(), strict=True))

    def profiles(self, users: np.ndarray) -> np.ndarray:
        """Unit-length taste profiles of user indices (all 0 for a user with no history).

        The last call's answer is kept, read-only: explaining asks for the same users'
        profiles for the scores and again for the attributes (5% of a batch of reasons).
        """
        self._train()
        users = np.asarray(users)
        last = self.__dict__.get("_last_profiles")
        if (
            last is not None
            and last[0] is self.weights_
            and last[1] is self.item_vectors_
            and np.array_equal(last[2], users)
        ):
            return last[3]
        p = _unit_rows(np.asarray(self.weights_[users] @ self.item_vectors_, dtype=np.float64))
        p.setflags(write=False)
        self._last_profiles = (self.weights_, self.item_vectors_, users.copy(), p)
        return p

    def _score(self, users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        x = self.item_vectors_ if items is None else self.item_vectors_[items]
        return (self.profiles(users).astype(np.float32) @ x.T).astype(np.float32)

    def _score_history(self, row: sp.csr_matrix) -> np.ndarray:
        """The posted history's profile (weighted as training rows are) against every item."""
        weights = _weigh(row, self.config.weighting, self._train().feedback)
        profile = _unit_rows(np.asarray(weights @ self.item_vectors_, dtype=np.float64))
        return (profile.astype(np.float32) @ self.item_vectors_.T).astype(np.float32)

    def explain_parts(self, user: int, item: int) -> tuple[np.ndarray, np.ndarray]:
        """History items and their shares of the cosine score (they add up to it)."""
        row = self.weights_[int(user)]
        hist = self.item_vectors_[row.indices].astype(np.float64)
        norm = np.linalg.norm(row.data.astype(np.float64) @ hist)
        if norm == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        contrib = row.data * (hist @ self.item_vectors_[int(item)].astype(np.float64)) / norm
        return order_contributions(row.indices, contrib)

    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Cosine of each pair's profile and item vector (float64), the same in any batch."""
        u, i = self._pairs(users, items)
        uniq, inverse = np.unique(u, return_inverse=True)
        profiles = self.profiles(uniq)[inverse]  # one profile per distinct user
        return (profiles * self.item_vectors_[i].astype(np.float64)).sum(axis=1)

    def history_parts_many(self, users: np.ndarray, items: np.ndarray) -> PairParts:
        """:meth:`explain_parts` of every pair: one small product per distinct user.

        The profiles' norms come from the history vectors each user's product takes anyway.
        """
        uniq, inverse = np.unique(users, return_inverse=True)
        vectors = self._vectors64()
        rows = sp.csr_matrix(self.weights_[uniq], dtype=np.float64)
        profiles = np.zeros((len(uniq), vectors.shape[1]))
        pair, keys, data, dots = history_dots(rows, vectors, vectors[items], inverse, profiles)
        norm = np.linalg.norm(profiles, axis=1)[inverse[pair]]
        contrib = np.divide(data * dots, norm, out=np.zeros_like(dots), where=norm > 0)
        return PairParts.build(pair, keys, contrib, len(users))

    def _vectors64(self) -> np.ndarray:
        """``item_vectors_`` as float64, converted once per fit (6-9 ms a batch otherwise)."""
        vectors = self.item_vectors_
        return fit_cached(self, "vectors64", vectors, lambda: vectors.astype(np.float64))

    def feature_phrases(self, users: np.ndarray, items: np.ndarray, n: int) -> list[str]:
        """:meth:`explain_features` of every pair, names joined: see :mod:`._content_reasons`."""
        return feature_phrases(self, users, items, n)

    def item_vectors(self) -> np.ndarray:
        return self.item_vectors_

    def permutable(self, train: Interactions) -> Permutable:
        """Item vector = unit(concat of weight x unit(block)): rebuilt with shuffled blocks."""
        return content_permutable(self)

    def _report(self, split: Any) -> dict[str, Any]:
        return {"encoders": self.encoders}

    def modality_shares(self, user: int, item: int) -> dict[str, float]:
        """The score split by modality (text, categorical, ...); the shares add up to it."""
        prod = self._feature_products(user, item)
        bounds = self.block_bounds_
        return {
            str(m): float(prod[bounds[k] : bounds[k + 1]].sum())
            for k, m in enumerate(self.block_names_)
        }

    def explain_features(self, user: int, item: int, n: int = 5) -> list[tuple[str, float]]:
        """The ``n`` attributes adding most to the score, e.g. ("genres=Sci-Fi", 0.21).

        Categorical and numeric columns contribute exactly their share of the cosine. A
        reduced text block (SVD) has no readable columns, so its share is split over the
        words the item shares with the user's history, in proportion to their TF-IDF
        products; image vectors count as one entry, "image similarity".
        """
        prod = self._feature_products(user, item)
        entries: list[tuple[str, float]] = []
        for k, modality in enumerate(self.block_names_):
            lo, hi = self.block_bounds_[k], self.block_bounds_[k + 1]
            names = self.feature_names_[lo:hi]
            share = float(prod[lo:hi].sum())
            if modality == "image":
                entries.append(("image similarity", share))
            elif modality == "text" and not str(names[0]).startswith("text="):
                entries += self._shared_words(user, item, share)
            else:
                entries += [(str(a), float(b)) for a, b in zip(names, prod[lo:hi], strict=True)]
        positive = [(a, b) for a, b in entries if b > 0]
        return sorted(positive, key=lambda e: (-e[1], e[0]))[:n]

    def _feature_products(self, user: int, item: int) -> np.ndarray:
        """Per column of the item vector: profile x item, which sums to the score."""
        u = int(np.asarray(user).item())
        j = int(np.asarray(item).item())
        profile = self.profiles(np.array([u]))[0]
        return profile * self.item_vectors_[j].astype(np.float64)

    def _shared_words(self, user: int, item: int, share: float) -> list[tuple[str, float]]:
        if not self.terms_.size or share <= 0:
            return [("text similarity", share)]
        history = self.weights_[int(user)] @ self.term_weights_
        overlap = sp.csr_matrix(history.multiply(self.term_weights_[int(item)]))
        keep = overlap.data > 0
        if not keep.any():
            return [("text similarity", share)]
        cols, vals = overlap.indices[keep], overlap.data[keep].astype(np.float64)
        return [
            (f"text={self.terms_[c]}", float(share * v / vals.sum()))
            for c, v in zip(cols, vals, strict=True)
        ]


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm; all-zero rows stay zero."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x, dtype=np.float64), where=norms > 0)


def _profile_weights(train: Interactions, weighting: Weighting) -> sp.csr_matrix:
    """User x item weights of history items in the profile (see ContentConfig.weighting)."""
    return _weigh(train.matrix, weighting, train.feedback)


def _weigh(matrix: sp.csr_matrix, weighting: Weighting, feedback: str) -> sp.csr_matrix:
    """Rows of interaction values as profile weights (one rule for training and posted rows)."""
    m = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    if weighting == "auto":
        weighting = "binary" if feedback == "explicit" else "values"
    if weighting == "binary":
        m.data[:] = 1.0
    elif weighting == "centered":
        counts = np.diff(m.indptr)
        means = np.asarray(m.sum(axis=1)).ravel() / np.maximum(counts, 1)
        m.data -= np.repeat(means, counts)
        # a user who gave every item the same rating has no contrast: weigh all items equally
        rows = np.repeat(np.arange(len(counts)), counts)
        spread = np.bincount(rows, weights=np.abs(m.data), minlength=len(counts))
        m.data[spread[rows] < 1e-9] = 1.0
    m.eliminate_zeros()
    return sp.csr_matrix(m, dtype=np.float32)
