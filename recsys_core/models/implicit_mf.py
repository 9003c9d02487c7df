"""Matrix factorisation for implicit feedback: ALS through the ``implicit`` package (CPU).

The shared factor-model base lives here too; BPR (:mod:`recsys_core.models.bpr`) builds on it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from pydantic import Field
from threadpoolctl import threadpool_limits

from recsys_core.data.interactions import Interactions
from recsys_core.models._history import binarized
from recsys_core.models.base import Recommender, RecommenderConfig, order_contributions
from recsys_core.models.explanation import PairParts, history_dots
from recsys_core.models.knn import user_rows
from recsys_core.models.priors import prior
from recsys_core.progress import Progress, report


class _FactorConfig(RecommenderConfig):
    """Fields shared by the factor models."""

    embedding_size: int = Field(
        64,
        ge=1,
        le=1024,
        description="Latent factors per user and item.",
        json_schema_extra=prior(16, 256, log=True),
    )
    num_threads: int = Field(
        0, ge=0, le=256, description="Threads for training; 0 uses every core."
    )
    binarize: bool = Field(
        True, description="Count every interaction as 1 (ignore rating or weight)."
    )
    epochs: int = Field(15, ge=1, le=5000, description="Training passes over the data.")
    reg: float = Field(0.01, ge=0.0, le=1e4, description="L2 penalty on the factors.")


class ALSConfig(_FactorConfig):
    """Hu, Koren and Volinsky's weighted ALS; confidence grows with alpha."""

    epochs: int = Field(
        15,
        ge=1,
        le=500,
        description="ALS sweeps (users, then items).",
        json_schema_extra=prior(5, 50, log=True),
    )
    reg: float = Field(
        10.0,
        ge=0.0,
        le=1e4,
        description="L2 penalty on the factors; grow it with the data.",
        json_schema_extra=prior(1e-2, 1e3, log=True),
    )
    alpha: float = Field(
        1.0,
        gt=0.0,
        le=1e4,
        description=(
            "Confidence scaling: an interaction of value v is trusted alpha * v times as much "
            "as a missing one (implicit's convention; 1 weighs them alike)."
        ),
        json_schema_extra=prior(0.1, 100, log=True),
    )


class _FactorModel(Recommender):
    """Scores are dot products of stored user and item factors (plain arrays, no pickle)."""

    has_item_vectors: ClassVar[bool] = True

    config: _FactorConfig

    def _fit(self, train: Interactions, progress: Progress | None) -> None:
        matrix = user_rows(train, np.arange(train.n_users), self.config.binarize)
        epochs = self.config.epochs

        def callback(epoch: int, _elapsed: float, *_: Any) -> None:
            report(progress, epoch + 1, epochs, f"epoch {epoch + 1}/{epochs}")

        # implicit runs its own threads; BLAS threads on top of them slow the fit down.
        with threadpool_limits(1, "blas"):
            model = self._make()
            matrix = sp.csr_matrix(matrix, dtype=np.float32)
            model.fit(matrix, show_progress=False, callback=callback)
            user_factors = self._final_user_factors(model, matrix)
        self.user_factors_ = np.ascontiguousarray(user_factors, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(model.item_factors, dtype=np.float32)

    def _make(self) -> Any:
        raise NotImplementedError

    def _final_user_factors(self, model: Any, matrix: sp.csr_matrix) -> np.ndarray:
        return np.asarray(model.user_factors)

    def _score(self, users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        item_factors = self.item_factors_ if items is None else self.item_factors_[items]
        return self.user_factors_[users] @ item_factors.T

    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """One dot product per pair (float64), the same in any batch."""
        u, i = self._pairs(users, items)
        left = self.user_factors_[u].astype(np.float64)
        return (left * self.item_factors_[i].astype(np.float64)).sum(axis=1)

    def item_vectors(self) -> np.ndarray:
        return self.item_factors_


class ALS(_FactorModel):
    """Alternating least squares on confidence-weighted implicit feedback.

    After implicit's sweeps, every user factor is solved once more, exactly (Cholesky), against
    the final item factors. That is one more ALS half-step, and it makes a score an exact sum
    over the user's history (Hu, Koren and Volinsky, section 5), which
    :meth:`explain_parts` returns.
    """

    name: ClassVar[str] = "als"
    config_class: ClassVar[type[RecommenderConfig]] = ALSConfig
    explains: ClassVar[bool] = True
    folds_in: ClassVar[bool] = True

    config: ALSConfig

    def _make(self) -> AlternatingLeastSquares:
        c = self.config
        return AlternatingLeastSquares(
            factors=c.embedding_size,
            regularization=c.reg,
            alpha=c.alpha,
            iterations=c.epochs,
            num_threads=c.num_threads,
            random_state=c.random_state,
        )

    def _final_user_factors(self, model: Any, matrix: sp.csr_matrix) -> np.ndarray:
        return np.asarray(model.recalculate_user(np.arange(matrix.shape[0]), matrix))

    def _score_history(self, row: sp.csr_matrix) -> np.ndarray:
        """The user's ALS half-step against the fixed item factors, then ``Y x_u``.

        ``x_u = W_u sum_i c_ui y_i`` (see :meth:`explain_parts`), the same solve the fit's
        last half-step makes for a training user; ``Y^T Y + reg I`` is kept between calls.
        """
        row = binarized(row, self.config.binarize)
        y = self.item_factors_
        hist = y[row.indices].astype(np.float64)
        confidence = self.config.alpha * row.data.astype(np.float64)
        system = self._fold_in_gram() + (hist.T * (confidence - 1.0)) @ hist
        factor = np.linalg.solve(system, hist.T @ confidence)
        return y @ factor.astype(np.float32)

    def _fold_in_gram(self) -> np.ndarray:
        """``Y^T Y + reg I`` of the current item factors, computed once per set of factors."""
        cached = vars(self).get("_gram")
        if cached is None or cached[0] is not self.item_factors_:
            y = self.item_factors_.astype(np.float64)
            gram = y.T @ y
            gram[np.diag_indices_from(gram)] += self.config.reg
            cached = self._gram = (self.item_factors_, gram)
        return cached[1]

    def explain_parts(self, user: int, item: int) -> tuple[np.ndarray, np.ndarray]:
        """History items with ``c_ui * y_item^T W_u y_i``; they add up to the score.

        ``W_u = (Y^T Y + sum_i (c_ui - 1) y_i y_i^T + reg I)^-1`` is the user's ALS system, so
        the user factor is ``W_u sum_i c_ui y_i`` and the score splits over history items.
        """
        row = user_rows(self.train_, np.array([user]), self.config.binarize)
        y = self.item_factors_.astype(np.float64)
        hist = y[row.indices]
        confidence = self.config.alpha * row.data.astype(np.float64)
        system = y.T @ y + (hist.T * (confidence - 1.0)) @ hist
        system[np.diag_indices_from(system)] += self.config.reg
        weighted = np.linalg.solve(system, hist.T)  # W_u y_i for every history item i
        contrib = confidence * (y[item] @ weighted)
        return order_contributions(row.indices, contrib)

    def history_parts_many(self, users: np.ndarray, items: np.ndarray) -> PairParts:
        """:meth:`explain_parts` of every pair, solving each distinct user's system once.

        ``y_i^T W_u y_j = (W_u y_i)^T y_j`` (``W_u`` is symmetric), so one solve per user
        with the pairs' items as right-hand sides gives every history item's part. With
        unit confidence (binarised data, alpha 1) every user has the same system: one solve
        serves all pairs.
        """
        uniq, inverse = np.unique(users, return_inverse=True)
        rows = user_rows(self.train_, uniq, self.config.binarize)
        y = self.item_factors_.astype(np.float64)
        confidence = self.config.alpha * rows.data.astype(np.float64)
        base = y.T @ y
        base[np.diag_indices_from(base)] += self.config.reg
        solved = np.empty((len(users), y.shape[1]))  # W_u y_item per pair
        counts = np.diff(rows.indptr)
        owner = np.repeat(np.arange(len(uniq)), counts)
        uniform = np.bincount(owner, weights=confidence != 1.0, minlength=len(uniq)) == 0
        easy = uniform[inverse]
        if easy.any():
            solved[easy] = np.linalg.solve(base, y[items[easy]].T).T
        for r in np.flatnonzero(~uniform):  # a loop over distinct users, one solve each
            at = np.flatnonzero(inverse == r)
            lo, hi = rows.indptr[r], rows.indptr[r + 1]
            hist, c = y[rows.indices[lo:hi]], confidence[lo:hi]
            system = base + (hist.T * (c - 1.0)) @ hist
            solved[at] = np.linalg.solve(system, y[items[at]].T).T
        pair, keys, data, dots = history_dots(rows, y, solved, inverse)
        contrib = self.config.alpha * data.astype(np.float64) * dots
        return PairParts.build(pair, keys, contrib, len(users))
