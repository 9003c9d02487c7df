"""Beyond-accuracy metrics of top-K lists: coverage, exposure Gini, novelty, ARP, diversity.

Definitions (L_u is user u's list cut at K, without empty -1 slots; pop(i) is the number of
distinct training users who interacted with item i; U is the number of training users):

- Coverage@K = |union of all L_u| / catalogue size: the share of the catalogue recommended
  to anyone (a global value, not a per-user one).
- Gini@K of exposure: the Gini coefficient of how often each catalogue item appears in the
  lists, items never recommended included. 0 means every item is shown equally often, values
  near 1 mean a few items take all the exposure. With exposures x sorted ascending over n
  items: G = sum_i (2 i - n - 1) x_i / (n sum_i x_i), i = 1..n (a global value).
- Novelty@K = mean over i in L_u of -log2(pop(i) / U), the self-information of the item;
  an item with no training user counts as having one, so its novelty is finite (the maximum).
- ARP@K (average recommendation popularity) = mean over i in L_u of pop(i).
- ILD@K (intra-list diversity) = mean over pairs i != j in L_u of 1 - cos(f_i, f_j), where
  f is the item's multi-hot vector of categorical / multi-valued features. An item with no
  feature value counts as dissimilar to all (cosine 0). Skipped without item features.

Per-user values are NaN for an empty list (and for ILD with fewer than two items).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_core.arrays import n_distinct, pair_codes, unique_sorted
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.evaluation.ranking import CutoffMetric


@dataclass(frozen=True)
class BeyondContext:
    """Catalogue facts the beyond-accuracy metrics need.

    Attributes:
        popularity: int [n_items]; distinct training users per item.
        n_train_users: users with at least one training interaction.
        features: CSR [n_items, n_features] with L2-normalised rows, or None.
    """

    popularity: np.ndarray
    n_train_users: int
    features: sp.csr_matrix | None = None

    @property
    def n_items(self) -> int:
        return len(self.popularity)

    @classmethod
    def from_train(cls, train: Interactions) -> BeyondContext:
        """Popularity from the training side and features from its item table."""
        pairs = unique_sorted(pair_codes(train.users, train.items, train.n_items))
        popularity = np.bincount(pairs % train.n_items, minlength=train.n_items)
        n_users = n_distinct(train.users, train.n_users)
        feats = None
        if train.item_features is not None:
            feats = item_feature_matrix(train.item_features, train.item_ids)
        return cls(popularity, n_users, feats)


def _cut(top_items: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    top = np.asarray(top_items)[:, :k]
    return top, top >= 0


def _row_mean(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    n = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(valid, values, 0.0).sum(axis=1) / n, np.nan)


@dataclass(frozen=True)
class CatalogueMetric(CutoffMetric):
    """A beyond-accuracy metric of all lists together (one value, no per-user values)."""

    def value(self, top_items: np.ndarray, ctx: BeyondContext) -> float:
        raise NotImplementedError


@dataclass(frozen=True)
class ListMetric(CutoffMetric):
    """A beyond-accuracy metric of each list (per-user values, averaged)."""

    def per_user(self, top_items: np.ndarray, ctx: BeyondContext) -> np.ndarray:
        raise NotImplementedError


@dataclass(frozen=True)
class Coverage(CatalogueMetric):
    """Share of the catalogue recommended to anyone (global)."""

    name: ClassVar[str] = "Coverage"

    def value(self, top_items: np.ndarray, ctx: BeyondContext) -> float:
        top, valid = _cut(top_items, self.k)
        return n_distinct(top[valid], ctx.n_items) / ctx.n_items if ctx.n_items else float("nan")


@dataclass(frozen=True)
class GiniExposure(CatalogueMetric):
    """Gini coefficient of item exposure over the whole catalogue (global)."""

    name: ClassVar[str] = "Gini"

    def value(self, top_items: np.ndarray, ctx: BeyondContext) -> float:
        top, valid = _cut(top_items, self.k)
        return gini(np.bincount(top[valid], minlength=ctx.n_items))


def gini(x: np.ndarray) -> float:
    """Gini coefficient of non-negative values (NaN when they sum to 0)."""
    x = np.sort(np.asarray(x, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return float("nan")
    i = np.arange(1, n + 1)
    return float(((2 * i - n - 1) * x).sum() / (n * total))


@dataclass(frozen=True)
class Novelty(ListMetric):
    """Mean self-information -log2(pop / U) of the recommended items."""

    name: ClassVar[str] = "Novelty"

    def per_user(self, top_items: np.ndarray, ctx: BeyondContext) -> np.ndarray:
        top, valid = _cut(top_items, self.k)
        share = np.maximum(ctx.popularity, 1) / max(ctx.n_train_users, 1)
        info = -np.log2(share)
        return _row_mean(info[np.where(valid, top, 0)], valid)


@dataclass(frozen=True)
class ARP(ListMetric):
    """Average number of training users of the recommended items."""

    name: ClassVar[str] = "ARP"

    def per_user(self, top_items: np.ndarray, ctx: BeyondContext) -> np.ndarray:
        top, valid = _cut(top_items, self.k)
        pop = ctx.popularity.astype(np.float64)
        return _row_mean(pop[np.where(valid, top, 0)], valid)


@dataclass(frozen=True)
class IntraListDiversity(ListMetric):
    """Mean pairwise (1 - cosine) of the recommended items' feature vectors."""

    name: ClassVar[str] = "ILD"

    def per_user(self, top_items: np.ndarray, ctx: BeyondContext) -> np.ndarray:
        if ctx.features is None:
            return np.full(len(top_items), np.nan)
        top, valid = _cut(top_items, self.k)
        n_lists = len(top)
        rows = np.repeat(np.arange(n_lists), valid.sum(axis=1))
        lists = sp.csr_matrix(
            (np.ones(len(rows)), (rows, top[valid])), shape=(n_lists, ctx.n_items)
        )
        summed = lists @ ctx.features  # row u: the sum of f_i over L_u
        norms = np.asarray(ctx.features.multiply(ctx.features).sum(axis=1)).ravel()
        self_sim = lists @ norms  # sum of |f_i|^2 (1 per item with features)
        sq = np.asarray(summed.multiply(summed).sum(axis=1)).ravel()
        m = valid.sum(axis=1).astype(np.float64)
        n_pairs = m * (m - 1) / 2
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_cos = (sq - self_sim) / 2 / n_pairs
        return np.where(m >= 2, 1.0 - mean_cos, np.nan)


LIST_METRICS: tuple[type[ListMetric], ...] = (Novelty, ARP, IntraListDiversity)
CATALOGUE_METRICS: tuple[type[CatalogueMetric], ...] = (Coverage, GiniExposure)


def item_feature_matrix(
    item_features: pd.DataFrame,
    item_ids: np.ndarray,
    *,
    columns: Sequence[str] | None = None,
    sep: str = "|",
    max_distinct_share: float = 0.5,
) -> sp.csr_matrix | None:
    """Multi-hot, L2-normalised feature vectors of the catalogue for diversity.

    Uses the categorical columns (text, category, bool) and splits multi-valued text on
    ``sep`` ("Comedy|Drama"). Columns whose distinct values exceed ``max_distinct_share`` of
    the rows (titles, descriptions, ids) describe single items, not groups, and are skipped,
    as are numeric columns. Naming ``columns`` uses exactly those, without the heuristic.

    Returns:
        CSR [len(item_ids), n_features], or None when no usable column exists.
    """
    frame = item_features.copy()
    frame.index = frame.index.astype(str)
    frame = frame[~frame.index.duplicated()].reindex(pd.Index(np.asarray(item_ids, dtype=str)))
    blocks = []
    chosen = list(frame.columns) if columns is None else list(columns)
    missing = [c for c in chosen if c not in frame.columns]
    if missing:
        raise InputError(f"Item features lack column(s) {missing}; have {list(frame.columns)}.")
    for col in chosen:
        series = frame[col]
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        present = series.dropna()
        lists = present.map(lambda v: isinstance(v, list | tuple | np.ndarray))
        # list cells (multi-valued attributes as imported) explode as they are; text splits on sep
        split = present[~lists].astype(str).str.split(sep, regex=False)
        tokens = pd.concat([present[lists], split]).explode().dropna().astype(str).str.strip()
        tokens = tokens[tokens != ""]
        many = tokens.nunique() > max_distinct_share * max(series.notna().sum(), 1)
        if tokens.empty or (columns is None and (numeric or many)):
            continue
        codes, uniques = pd.factorize(tokens)
        rows = frame.index.get_indexer(tokens.index)
        block = sp.csr_matrix(
            (np.ones(len(codes)), (rows, codes)), shape=(len(frame), len(uniques))
        )
        block.data[:] = 1.0  # a token repeated in one cell still counts once
        blocks.append(block)
    if not blocks:
        return None
    mat = sp.csr_matrix(sp.hstack(blocks, format="csr"))
    mat.sum_duplicates()
    mat.data[:] = 1.0
    norms = np.sqrt(np.asarray(mat.multiply(mat).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(scale) @ mat)
