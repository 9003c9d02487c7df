"""Accuracy metrics of top-K lists, all computed from one hits matrix.

Definitions (rank is 1-based, K is the cut-off, R = |relevant| is the number of the user's
relevant test items, hit(r) is 1 when the item at rank r is relevant):

- Precision@K = hits / K (an empty slot, padded with -1, counts as a miss).
- Recall@K = hits / R.
- NDCG@K = DCG@K / IDCG@K with DCG@K = sum_r gain(r) / log2(r + 1). The gain is binary
  (hit(r)) by default; graded NDCG uses gain = the relevant item's rating (or weight). The
  ideal DCG places the best min(R, K) gains at the top ranks.
- MAP@K = (sum over hit ranks r of Precision@r) / min(R, K).
- MRR@K = 1 / (rank of the first hit), 0 when no hit in the top K.
- HitRate@K = 1 when any of the top K is relevant, else 0.

Users averaged are those with at least one relevant test item; the others get NaN and are
excluded from the mean. A user with no recommendations (a row of -1) scores 0. Relevance is
every held-out interaction, or those with rating >= relevance_threshold when one is given.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from recsys_core.errors import InputError


@dataclass(frozen=True)
class RankingData:
    """What every accuracy metric needs, computed once for all metrics and cut-offs.

    Attributes:
        hits: bool [n_lists, K]; True where the recommended item is relevant.
        n_relevant: int [n_lists]; R, the number of relevant items of each list's user.
        gains: float [n_lists, K]; the rating of each hit (0 elsewhere), for graded NDCG.
        ideal_gains: float [n_lists, K]; each user's relevant ratings sorted descending.
    """

    hits: np.ndarray
    n_relevant: np.ndarray
    gains: np.ndarray | None = None
    ideal_gains: np.ndarray | None = None


def ranking_data(
    top_items: np.ndarray, rows: np.ndarray, truth: sp.csr_matrix, *, graded: bool = False
) -> RankingData:
    """Look every recommended item up in the relevant-items matrix, without a loop.

    Args:
        top_items: int [n_lists, K] item indices, -1 for empty slots.
        rows: int [n_lists]; the row of ``truth`` holding each list's relevant items.
        truth: CSR [n_rows, n_items]; stored entries are the relevant items, data the gains.
        graded: also gather gains and ideal gains for graded NDCG.
    """
    top_items = np.asarray(top_items)
    if top_items.ndim != 2 or len(top_items) != len(rows):
        raise InputError("top_items must be a 2-D array with one row per user.")
    truth = sp.csr_matrix(truth, copy=True)
    truth.sum_duplicates()  # also sorts the indices, which searchsorted needs
    n_items = truth.shape[1]
    if top_items.size and top_items.max() >= n_items:
        raise InputError(f"top_items holds an item index >= the catalogue size {n_items}.")
    counts = np.diff(truth.indptr)
    codes = np.repeat(np.arange(truth.shape[0], dtype=np.int64), counts) * n_items
    codes += truth.indices
    valid = top_items >= 0
    query = np.asarray(rows, dtype=np.int64)[:, None] * n_items + np.where(valid, top_items, 0)
    pos = np.minimum(np.searchsorted(codes, query), max(len(codes) - 1, 0))
    hits = valid & (codes[pos] == query) if len(codes) else np.zeros_like(valid)
    n_relevant = counts[rows]
    if not graded:
        return RankingData(hits, n_relevant)
    gains = np.where(hits, truth.data[pos] if len(codes) else 0.0, 0.0)
    return RankingData(hits, n_relevant, gains, _ideal_gains(truth[rows], top_items.shape[1]))


def _ideal_gains(sub: sp.csr_matrix, k: int) -> np.ndarray:
    """Each row's k largest stored values, sorted descending and zero-padded."""
    counts = np.diff(sub.indptr)
    row = np.repeat(np.arange(sub.shape[0]), counts)
    order = np.lexsort((-sub.data, row))
    pos = np.arange(len(order)) - np.repeat(sub.indptr[:-1], counts)
    keep = pos < k
    out = np.zeros((sub.shape[0], k), dtype=np.float64)
    out[row[keep], pos[keep]] = sub.data[order][keep]
    return out


def discounts(k: int) -> np.ndarray:
    """1 / log2(rank + 1) for ranks 1..k."""
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


@dataclass(frozen=True)
class CutoffMetric:
    """Any metric of the first ``k`` recommendations: a cut-off and a label."""

    k: int
    name: ClassVar[str] = ""

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int | np.integer) or self.k < 1:
            raise InputError(f"The cut-off k must be a whole number of at least 1; got {self.k}.")

    @property
    def label(self) -> str:
        """Column and row label, e.g. ``NDCG@10``."""
        return f"{self.name}@{self.k}"

    def aggregate(self, values: np.ndarray) -> float:
        """Mean over users with a value (NaN when there are none)."""
        return _nanmean(values)


@dataclass(frozen=True)
class RankingMetric(CutoffMetric):
    """An accuracy metric computed from the hits matrix; subclasses give ``_compute``."""

    def per_user(self, data: RankingData) -> np.ndarray:
        """One value per list; NaN for users with no relevant item."""
        if data.hits.shape[1] < self.k:
            raise InputError(
                f"{self.label} needs {self.k} recommendations per user; got {data.hits.shape[1]}."
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            values = self._compute(data.hits[:, : self.k], data).astype(np.float64)
        values[data.n_relevant == 0] = np.nan
        return values

    def _compute(self, hits: np.ndarray, data: RankingData) -> np.ndarray:
        raise NotImplementedError


def _nanmean(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if len(finite) else float("nan")


@dataclass(frozen=True)
class Precision(RankingMetric):
    """Precision@K = hits / K."""

    name: ClassVar[str] = "Precision"

    def _compute(self, hits: np.ndarray, data: RankingData) -> np.ndarray:
        return hits.sum(axis=1) / self.k


@dataclass(frozen=True)
class Recall(RankingMetric):
    """Recall@K = hits / |relevant|."""

    name: ClassVar[str] = "Recall"

    def _compute(self, hits: np.ndarray, data: RankingData) -> np.ndarray:
        return hits.sum(axis=1) / data.n_relevant


@dataclass(frozen=True)
class NDCG(RankingMetric):
    """NDCG@K with log2(rank + 1) discount; binary gain unless ``graded``."""

    graded: bool = False
    name: ClassVar[str] = "NDCG"

    @property
    def label(self) -> str:
        return f"NDCG@{self.k}" + (" (graded)" if self.graded else "")

    def _compute(self, hits: np.ndarray, data: RankingData) -> np.ndarray:
        disc = discounts(self.k)
        if not self.graded:
            ideal = np.concatenate([[0.0], np.cumsum(disc)])
            return (hits @ disc) / ideal[np.minimum(data.n_relevant, self.k)]
        if data.gains is None or data.ideal_gains is None:
            raise InputError("Graded NDCG needs gains: build the data with graded=True.")
        dcg = data.gains[:, : self.k] @ disc
        idcg = data.ideal_gains[:, : self.k] @ disc
        return np.where(idcg > 0, dcg / np.where(idcg > 0, idcg, 1.0), 0.0)


@dataclass(frozen=True)
class MAP(RankingMetric):
    """MAP@K = sum of Precision@rank over hit ranks / min(|relevant|, K)."""

    name: ClassVar[str] = "MAP"

    def _compute(self, hits: np.ndarray, data: RankingData) -> np.ndarray:
        precision_at = np.cumsum(hits, axis=1) / np.arange(1, self.k + 1)
        return (precision_at * hits).sum(axis=1) / np.minimum(data.n_relevant, self.k)


@dataclass(frozen=True)
class MRR(RankingMetric):
    """MRR@K = 1 / rank of the first hit (0 without a hit)."""

    name: ClassVar[str] = "MRR"

    def _compute(self, hits: np.ndarray, data: RankingData) -> np.ndarray:
        first = hits.argmax(axis=1)
        return np.where(hits.any(axis=1), 1.0 / (first + 1), 0.0)


@dataclass(frozen=True)
class HitRate(RankingMetric):
    """HitRate@K = 1 when any of the top K is relevant."""

    name: ClassVar[str] = "HitRate"

    def _compute(self, hits: np.ndarray, data: RankingData) -> np.ndarray:
        return np.asarray(hits.any(axis=1), dtype=np.float64)


ACCURACY_METRICS: tuple[type[RankingMetric], ...] = (Precision, Recall, NDCG, MAP, MRR, HitRate)


def accuracy_metrics(ks: Iterable[int], *, graded: bool = False) -> list[RankingMetric]:
    """The standard set for every cut-off (plus graded NDCG when asked)."""
    out: list[RankingMetric] = []
    for k in ks:
        out.extend(cls(k) for cls in ACCURACY_METRICS)
        if graded:
            out.append(NDCG(k, graded=True))
    return out
