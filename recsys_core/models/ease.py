"""EASE: a closed-form item-item linear model (Steck, 2019), strong on small catalogues."""

from __future__ import annotations

import math
import os
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from pydantic import Field
from scipy.linalg import lapack
from threadpoolctl import threadpool_limits

from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.models._cooccur import dense_pays, gram_rows
from recsys_core.models._history import binarized
from recsys_core.models.base import Recommender, RecommenderConfig, order_contributions
from recsys_core.models.explanation import PairParts
from recsys_core.models.knn import user_rows
from recsys_core.models.priors import prior
from recsys_core.progress import Progress, report

#: Dense float32 copies alive at once while solving (Gram matrix, its factor, the inverse).
_DENSE_COPIES = 3
#: Rows mirrored per step when filling the lower triangle of the inverse.
_MIRROR_BLOCK = 1024
#: Below this many items the solve takes ~0.1 s on one thread: threads gain nothing there.
SMALL_SOLVE = 3000


class EASEConfig(RecommenderConfig):
    """EASE has one real knob, the L2 penalty; the rest guard memory and input weighting."""

    reg: float = Field(
        250.0,
        gt=0.0,
        le=1e7,
        description="L2 penalty on the item-item weights; larger for denser or bigger data.",
        json_schema_extra=prior(10, 1e4, log=True),
    )
    binarize: bool = Field(
        True, description="Count every interaction as 1 (ignore rating or weight)."
    )
    num_threads: int = Field(
        0,
        ge=0,
        le=256,
        description=(
            "BLAS threads for the solve; 0 picks them: one below 3,000 items, otherwise the "
            "cores idle at the start of the solve. Busy BLAS threads slow each other down "
            "badly when other heavy work shares the machine."
        ),
    )
    max_memory_gb: float | None = Field(
        None,
        gt=0.0,
        description=(
            "Refuse to fit when the dense item x item solve would need more than this; "
            "empty: half of the memory available now."
        ),
    )


def ease_memory_bytes(n_items: int) -> int:
    """Rough peak memory of the EASE solve: a few dense float32 item x item matrices."""
    return n_items * n_items * 4 * _DENSE_COPIES


def available_memory_bytes() -> int:
    """Memory the system could give us now (Linux ``/proc/meminfo``), else 8 GiB."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    pages = os.sysconf("SC_AVPHYS_PAGES") if hasattr(os, "sysconf") else 0
    return int(pages * os.sysconf("SC_PAGE_SIZE")) if pages > 0 else 8 * 2**30


class EASE(Recommender):
    """Learns item-item weights ``B`` in closed form; ``score(u) = x_u @ B``.

    ``B = I - P / diag(P)`` with ``P = (X^T X + reg I)^-1`` and a zero diagonal, so an item
    never recommends itself. The cost is a dense ``n_items^2`` solve: the model checks the
    memory first and names lighter models when the catalogue is too large.
    """

    name: ClassVar[str] = "ease"
    config_class: ClassVar[type[RecommenderConfig]] = EASEConfig
    explains: ClassVar[bool] = True
    folds_in: ClassVar[bool] = True

    config: EASEConfig

    def _fit(self, train: Interactions, progress: Progress | None) -> None:
        self._check_memory(train.n_items)
        x = user_rows(train, np.arange(train.n_users), self.config.binarize)
        # float32 throughout, as LensKit does: the Cholesky solve runs about twice as fast
        # and needs half the memory; the weights were float32 already
        gram = item_gram(x)
        gram[np.diag_indices_from(gram)] += self.config.reg
        report(progress, 1, 3, "item co-occurrence")
        with threadpool_limits(self.config.num_threads or solve_threads(train.n_items), "blas"):
            precision = _spd_inverse(gram)
        report(progress, 2, 3, "inverted")
        precision /= -np.diag(precision)  # in place: the memory estimate allows 3 copies
        precision[np.diag_indices_from(precision)] = 0.0
        # C order: a sparse row times a Fortran-ordered matrix makes scipy copy all of it
        # first (1 s per call at 10k items, even for one user)
        self.weights_ = np.ascontiguousarray(precision, dtype=np.float32)
        report(progress, 3, 3, "done")

    def _check_memory(self, n_items: int) -> None:
        need = ease_memory_bytes(n_items)
        limit_gb = self.config.max_memory_gb
        limit = available_memory_bytes() // 2 if limit_gb is None else int(limit_gb * 2**30)
        if need > limit:
            raise InputError(
                f"EASE needs about {need / 2**30:.1f} GB for {n_items:,} items, more than the "
                f"limit of {limit / 2**30:.1f} GB: the catalogue is too large for EASE. "
                "Use ItemKNN or ALS, or filter the catalogue to fewer items."
            )

    def _score(self, users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        if not self.weights_.flags.c_contiguous:  # a file saved before the fit made it so
            self.weights_ = np.ascontiguousarray(self.weights_)
        w = self.weights_ if items is None else self.weights_[:, items]
        return np.asarray(user_rows(self.train_, users, self.config.binarize) @ w)

    def _score_history(self, row: sp.csr_matrix) -> np.ndarray:
        """``x @ B`` for the posted row: the same product as a training user's."""
        return np.asarray(binarized(row, self.config.binarize) @ self.weights_)

    def explain_parts(self, user: int, item: int) -> tuple[np.ndarray, np.ndarray]:
        """History items with their weight towards ``item``; they add up to the score."""
        row = user_rows(self.train_, np.array([user]), self.config.binarize)
        contrib = row.data.astype(np.float64) * self.weights_[row.indices, item]
        return order_contributions(row.indices, contrib)

    def history_parts_many(self, users: np.ndarray, items: np.ndarray) -> PairParts:
        """:meth:`explain_parts` of every pair in one gather over the weight matrix."""
        pair, keys, contrib = self._pair_terms(users, items)
        return PairParts.build(pair, keys, contrib, len(users))

    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """``x_u . B[:, i]`` per pair, from the same gather (no full-catalogue rows)."""
        pair, _, contrib = self._pair_terms(*self._pairs(users, items))
        return np.bincount(pair, weights=contrib, minlength=len(users))

    def _pair_terms(self, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, ...]:
        rows = user_rows(self.train_, users, self.config.binarize)
        pair = np.repeat(np.arange(len(users)), np.diff(rows.indptr))
        contrib = rows.data.astype(np.float64) * self.weights_[rows.indices, items[pair]]
        return pair, rows.indices, contrib


def item_gram(x: sp.csr_matrix) -> np.ndarray:
    """``x.T @ x`` as a dense float32 matrix, by the faster exact product (``_cooccur``)."""
    x = sp.csr_matrix(x, dtype=np.float32)
    dense = x.toarray() if dense_pays(x) else None
    return gram_rows(x.T.tocsr(), x, dense)


def solve_threads(n_items: int) -> int:
    """BLAS threads for an automatic solve: OpenBLAS threads spin while they wait for each
    other, so on a shared machine they cost far more than they bring. Measured on 2 cores at
    load ~5: 1,682 items 0.10 s on one thread vs 2.7 s on two; 4,000 items 3.4 s vs 16 s.
    Small solves stay on one thread; large ones use the cores that are idle now."""
    cores = os.cpu_count() or 1
    if n_items < SMALL_SOLVE or cores == 1:
        return 1
    idle = cores - os.getloadavg()[0] + 1  # the load counts this process's own thread
    return int(min(cores, max(1, math.floor(idle))))


def _spd_inverse(gram: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite matrix via Cholesky (about 2x faster than LU).

    LAPACK fills only the upper triangle; the lower one is mirrored from it block by block
    (index arrays for the whole triangle would cost more memory than the matrix itself).
    """
    potrf, potri = lapack.get_lapack_funcs(("potrf", "potri"), (gram,))
    factor, info = potrf(gram, lower=False, overwrite_a=True)
    if info == 0:
        inverse, info = potri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise InputError(
            f"EASE could not invert the item Gram matrix (LAPACK info={info}); raise reg."
        )
    n = len(inverse)
    for start in range(0, n, _MIRROR_BLOCK):  # a few dozen blocks, not a loop over entries
        stop = min(start + _MIRROR_BLOCK, n)
        inverse[start:stop, :start] = inverse[:start, start:stop].T
        block = inverse[start:stop, start:stop]
        low = np.tril_indices(stop - start, k=-1)
        block[low] = block.T[low]
    return inverse
