"""RP3beta: item-item weights from three-step random walks, damped by popularity.

Paudel, Christoffel, Newell and Bernstein (2016), "Updatable, accurate, diverse, and
scalable recommendations for interactive applications"; Dacrema et al. (2019) found it
among the strongest simple baselines on MovieLens once tuned.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from recsys_core.data.interactions import Interactions
from recsys_core.models.base import RecommenderConfig
from recsys_core.models.knn import BLOCK_BYTES, ItemItemScoring, keep_top, user_rows
from recsys_core.models.priors import prior
from recsys_core.progress import Progress, report


class RP3betaConfig(RecommenderConfig):
    """The walk's sharpening (alpha), the popularity damping (beta) and the pruning."""

    n_neighbors: int = Field(
        200,
        ge=1,
        le=10_000,
        description="Items each item passes weight to; fewer = faster, sparser, noisier.",
        json_schema_extra=prior(5, 1000, log=True),
    )
    alpha: float = Field(
        0.8,
        ge=0.0,
        le=3.0,
        description=(
            "Power on the walk's transition probabilities: above 1 sharpens them towards "
            "strong links, below 1 flattens them (1 is the plain random walk P3)."
        ),
        json_schema_extra=prior(0, 2),
    )
    beta: float = Field(
        0.3,
        ge=0.0,
        le=2.0,
        description=(
            "Popularity damping: each target item's weight is divided by its popularity to "
            "this power, so higher values recommend less popular items (0 = no damping)."
        ),
        json_schema_extra=prior(0, 1),
    )
    binarize: bool = Field(
        True, description="Count every interaction as 1 (ignore rating or weight)."
    )


def rp3beta_weights(
    x: sp.csr_matrix, config: RP3betaConfig, progress: Progress | None = None
) -> sp.csr_matrix:
    """``W[i, j]``: how much source item ``i`` passes to target item ``j``.

    ``W = (P_iu^alpha @ P_ui^alpha) / popularity_j^beta`` with ``P_ui`` the user->item and
    ``P_iu`` the item->user transition matrices (rows normalised to sum to 1), zero diagonal,
    the ``n_neighbors`` largest entries kept per source row. Source rows are computed in
    dense blocks of bounded size, so memory never grows with the square of the catalogue.
    """
    x = sp.csr_matrix(x, dtype=np.float32)
    p_ui = _row_normalised(x).power(config.alpha).tocsr()
    p_iu = _row_normalised(x.T.tocsr()).power(config.alpha).tocsr()
    popularity = np.asarray(x.getnnz(axis=0), dtype=np.float64)
    damp = np.zeros_like(popularity)
    np.power(popularity, -config.beta, out=damp, where=popularity > 0)
    m = x.shape[1]
    step = max(1, BLOCK_BYTES // (4 * m))
    parts: list[sp.csr_matrix] = []
    for start in range(0, m, step):
        stop = min(m, start + step)
        block = (p_iu[start:stop] @ p_ui).toarray() * damp[None, :].astype(np.float32)
        block[np.arange(stop - start), np.arange(start, stop)] = 0.0
        parts.append(keep_top(block, config.n_neighbors))
        report(progress, stop, m, f"walk weights {stop}/{m}")
    return sp.vstack(parts, format="csr")


def _row_normalised(m: sp.csr_matrix) -> sp.csr_matrix:
    sums = np.asarray(m.sum(axis=1), dtype=np.float64).ravel()
    inv = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    return sp.csr_matrix(sp.diags(inv.astype(np.float32)) @ m)


class RP3beta(ItemItemScoring):
    """``score(u, j) = sum over history items i of x_ui * W[i, j]``; the sum is the reason."""

    name: ClassVar[str] = "rp3beta"
    config_class: ClassVar[type[RecommenderConfig]] = RP3betaConfig
    explains: ClassVar[bool] = True

    config: RP3betaConfig

    def _fit(self, train: Interactions, progress: Progress | None) -> None:
        x = user_rows(train, np.arange(train.n_users), self.config.binarize)
        self.similarity_ = rp3beta_weights(x, self.config, progress)
