"""iALS with the tuning protocol of Rendle, Krichene, Zhang and Koren (2021).

"Revisiting the Performance of iALS on Item Recommendation Benchmarks" showed that plain
implicit ALS matches or beats far newer models on MovieLens once four things are set well:
the weight ``alpha0`` of the unobserved pairs, a regularisation scaled by frequency (``nu``),
the embedding dimension and a small initial spread. The loss is

    ``sum_(u,i) observed (w_u . h_i - y_ui)^2 + alpha0 sum_(u,i) all (w_u . h_i)^2
      + reg (sum_u (n_u + alpha0 n_items)^nu |w_u|^2 + sum_i (n_i + alpha0 n_users)^nu |h_i|^2)``

with ``n_u`` (``n_i``) the interactions of the user (item). implicit's ALS cannot express
the frequency-scaled penalty, so both half-steps are solved here with numpy, exactly and
vectorised: each side's normal equations are built for a block of rows at once (the
observed part from per-interaction outer products summed per row) and solved by batched
Cholesky-backed ``numpy.linalg.solve``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from recsys_core.data.interactions import Interactions
from recsys_core.models._history import binarized
from recsys_core.models.base import Recommender, RecommenderConfig, order_contributions
from recsys_core.models.explanation import PairParts, history_dots
from recsys_core.models.knn import user_rows
from recsys_core.models.priors import prior
from recsys_core.progress import Progress, report

#: Bytes of per-interaction outer products (or stacked systems) held at once.
BLOCK_BYTES = 64 * 2**20


class IALSConfig(RecommenderConfig):
    """Rendle et al.'s four knobs (size, alpha0, reg with nu, init spread) and the sweeps."""

    embedding_size: int = Field(
        64,
        ge=1,
        le=1024,
        description="Latent factors per user and item.",
        json_schema_extra=prior(16, 256, log=True),
    )
    epochs: int = Field(
        16,
        ge=1,
        le=500,
        description="ALS sweeps (users, then items).",
        json_schema_extra=prior(8, 32, log=True),
    )
    reg: float = Field(
        0.01,
        gt=0.0,
        le=100.0,
        description="L2 penalty, multiplied per row by (its interactions + alpha0 * others)^nu.",
        json_schema_extra=prior(1e-4, 0.1, log=True),
    )
    nu: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description=(
            "How the penalty grows with a row's frequency: 1 scales it with the row's share of "
            "the loss (Rendle et al.'s choice), 0 is the plain fixed penalty."
        ),
    )
    alpha0: float = Field(
        0.1,
        gt=0.0,
        le=10.0,
        description=(
            "Weight of every unobserved (user, item) pair pulled towards 0, against 1 for an "
            "observed pair pulled towards its value."
        ),
        json_schema_extra=prior(1e-3, 1, log=True),
    )
    init_std: float = Field(
        0.1,
        gt=0.0,
        le=1.0,
        description="Spread of the initial factors, divided by sqrt(embedding_size).",
        json_schema_extra=prior(0.01, 0.5, log=True),
    )
    binarize: bool = Field(
        True, description="Count every interaction as 1 (ignore rating or weight)."
    )


def normal_equations(
    x: sp.csr_matrix, other: np.ndarray, gram: np.ndarray, penalty: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Left and right sides of the rows' least-squares systems ``A_r w_r = b_r``.

    ``A_r = gram + sum_(i in row r) v_i v_i^T + penalty_r I`` and ``b_r = sum_i x_ri v_i``, for
    every row of ``x`` with ``other`` holding the vectors ``v`` of the opposite side.
    """
    d = other.shape[1]
    a = np.repeat(gram[None], x.shape[0], axis=0)
    a[:, np.arange(d), np.arange(d)] += penalty[:, None]
    owner = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
    step = max(1, BLOCK_BYTES // (8 * d * d))
    for lo in range(0, x.nnz, step):  # blocks of interactions, sorted by row
        v = other[x.indices[lo : lo + step]]
        rows = owner[lo : lo + step]
        first = np.r_[True, rows[1:] != rows[:-1]]
        outer = (v[:, :, None] * v[:, None, :]).reshape(len(v), d * d)
        # summed per row by a sparse 0/1 product (numpy's reduceat is far slower here)
        segment = sp.csr_matrix(
            (np.ones(len(v)), (np.cumsum(first) - 1, np.arange(len(v)))),
            shape=(int(first.sum()), len(v)),
        )
        a[rows[first]] += (segment @ outer).reshape(-1, d, d)
    b = np.asarray(x @ other)
    return a, b


def solve_side(x: sp.csr_matrix, other: np.ndarray, weight: float, reg: np.ndarray) -> np.ndarray:
    """Every row's exact solution against ``other``, a block of rows at a time."""
    d = other.shape[1]
    gram = weight * (other.T @ other)
    out = np.empty((x.shape[0], d))
    step = max(1, BLOCK_BYTES // (8 * d * d))
    for lo in range(0, x.shape[0], step):  # blocks of rows, one batched solve each
        hi = min(x.shape[0], lo + step)
        a, b = normal_equations(x[lo:hi], other, gram, reg[lo:hi])
        out[lo:hi] = np.linalg.solve(a, b[..., None])[..., 0]
    return out


class IALS(Recommender):
    """Implicit ALS with frequency-scaled regularisation (see the module docstring).

    The last half-step solves the users against the final item factors, so a score is
    exactly ``h_j^T A_u^-1 sum_i y_ui h_i``: it splits over the user's history items, which
    :meth:`explain_parts` returns.
    """

    name: ClassVar[str] = "ials"
    config_class: ClassVar[type[RecommenderConfig]] = IALSConfig
    explains: ClassVar[bool] = True
    has_item_vectors: ClassVar[bool] = True
    folds_in: ClassVar[bool] = True

    config: IALSConfig

    def _fit(self, train: Interactions, progress: Progress | None) -> None:
        c = self.config
        x = sp.csr_matrix(user_rows(train, np.arange(train.n_users), c.binarize), dtype=np.float64)
        xt = x.T.tocsr()
        rng = np.random.default_rng(c.random_state)
        spread = c.init_std / np.sqrt(c.embedding_size)
        users = rng.normal(0.0, spread, (x.shape[0], c.embedding_size))
        items = rng.normal(0.0, spread, (x.shape[1], c.embedding_size))
        item_reg = self._penalty(xt, x.shape[0])
        for epoch in range(c.epochs):
            users = solve_side(x, items, c.alpha0, self._penalty(x, x.shape[1]))
            items = solve_side(xt, users, c.alpha0, item_reg)
            report(progress, epoch + 1, c.epochs, f"epoch {epoch + 1}/{c.epochs}")
        self.item_factors_ = np.ascontiguousarray(items, dtype=np.float32)
        exact = solve_side(x, self.item_factors_.astype(np.float64), c.alpha0, self._user_reg(x))
        self.user_factors_ = np.ascontiguousarray(exact, dtype=np.float32)

    def _penalty(self, x: sp.csr_matrix, n_other: int) -> np.ndarray:
        """``reg * (n_r + alpha0 * n_other)^nu`` per row of ``x``."""
        counts = np.diff(x.indptr).astype(np.float64)
        return self.config.reg * (counts + self.config.alpha0 * n_other) ** self.config.nu

    def _user_reg(self, x: sp.csr_matrix) -> np.ndarray:
        return self._penalty(x, self.n_items)

    def _rows(self, users: np.ndarray) -> sp.csr_matrix:
        rows = user_rows(self.train_, users, self.config.binarize)
        return sp.csr_matrix(rows, dtype=np.float64)

    def _systems(self, users: np.ndarray) -> np.ndarray:
        """The users' left-hand sides ``A_u`` against the stored item factors."""
        y = self.item_factors_.astype(np.float64)
        rows = self._rows(users)
        full = self._rows(np.arange(self.n_users))
        reg = self._user_reg(full)[users]
        a, _ = normal_equations(rows, y, self.config.alpha0 * (y.T @ y), reg)
        return a

    def _score(self, users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        # float64, so a subset of items scores exactly as the same columns of all items
        # do (a float32 product rounds differently per BLAS kernel; scores near 0 show it)
        item_factors = self.item_factors_ if items is None else self.item_factors_[items]
        return self.user_factors_[users].astype(np.float64) @ item_factors.T.astype(np.float64)

    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """One dot product per pair (float64), the same in any batch."""
        u, i = self._pairs(users, items)
        left = self.user_factors_[u].astype(np.float64)
        return (left * self.item_factors_[i].astype(np.float64)).sum(axis=1)

    def item_vectors(self) -> np.ndarray:
        return self.item_factors_

    def _score_history(self, row: sp.csr_matrix) -> np.ndarray:
        """The fit's last half-step for this one row (its own penalty), then ``H w_u``."""
        x = sp.csr_matrix(binarized(row, self.config.binarize), dtype=np.float64)
        y = self.item_factors_.astype(np.float64)
        return y @ solve_side(x, y, self.config.alpha0, self._user_reg(x))[0]

    def explain_parts(self, user: int, item: int) -> tuple[np.ndarray, np.ndarray]:
        """History items with ``y_ui * h_item^T A_u^-1 h_i``; they add up to the score."""
        row = self._rows(np.array([user]))
        y = self.item_factors_.astype(np.float64)
        solved = np.linalg.solve(self._systems(np.array([user]))[0], y[item])
        contrib = row.data * (y[row.indices] @ solved)
        return order_contributions(row.indices, contrib)

    def history_parts_many(self, users: np.ndarray, items: np.ndarray) -> PairParts:
        """:meth:`explain_parts` of every pair: each distinct user's system built once,
        the pairs' item vectors solved against their user's system in batches."""
        uniq, inverse = np.unique(users, return_inverse=True)
        y = self.item_factors_.astype(np.float64)
        systems = self._systems(uniq)
        solved = np.empty((len(users), y.shape[1]))
        step = max(1, BLOCK_BYTES // (8 * y.shape[1] ** 2))
        for lo in range(0, len(users), step):  # blocks of pairs, one batched solve each
            at = slice(lo, lo + step)
            solved[at] = np.linalg.solve(systems[inverse[at]], y[items[at]][..., None])[..., 0]
        pair, keys, data, dots = history_dots(self._rows(uniq), y, solved, inverse)
        return PairParts.build(pair, keys, data * dots, len(users))
