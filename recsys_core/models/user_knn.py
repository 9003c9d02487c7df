"""User-based neighbours: items that similar users chose, and why, from the same sums."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from recsys_core.data.interactions import Interactions
from recsys_core.models._fit_cache import fit_cached
from recsys_core.models.base import Recommender, RecommenderConfig, order_contributions
from recsys_core.models.explanation import PairParts, pair_spans
from recsys_core.models.knn import BLOCK_BYTES, KNNConfig, gather, pruned_similarity, user_rows
from recsys_core.progress import Progress


class UserKNN(Recommender):
    """User-based neighbours: items that similar users interacted with.

    ``score(v, j) = sum over neighbours u of sim[u, v] * x_uj``, with the ``n_neighbors`` most
    similar users of ``v`` kept (found once, in blocks, at fit time).
    """

    name: ClassVar[str] = "user_knn"
    config_class: ClassVar[type[RecommenderConfig]] = KNNConfig
    explains: ClassVar[bool] = True

    config: KNNConfig

    def _fit(self, train: Interactions, progress: Progress | None) -> None:
        sim = pruned_similarity(train.matrix.T.tocsr(), self.config, progress)
        self.neighbors_ = sim.T.tocsr()  # row v: v's neighbours u with their weights

    def _score(self, users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        x = user_rows(self.train_, np.arange(self.n_users), self.config.binarize)
        if items is not None:
            x = x[:, items]
        return (self.neighbors_[users] @ x).toarray()

    def explain_parts(self, user: int, item: int) -> tuple[np.ndarray, np.ndarray]:
        """The user's history items with their exact shares of the score.

        A neighbour's weight is its co-occurrence with the user over a denominator fixed per
        pair, ``sim[u, v] = sum_i x_vi x_ui / D_uv``, so the score splits over the user's
        items i: ``sum_i x_vi * sum_u (sim[u, v] / co_uv) x_ui x_uj`` — item i counts as much
        as the neighbours who share it also chose the recommended item j.
        """
        neigh = self.neighbors_[user]
        own = user_rows(self.train_, np.array([user]), self._binary_similarity())
        if not neigh.nnz or not own.nnz:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        shared = user_rows(self.train_, neigh.indices, self._binary_similarity())
        co = np.asarray((shared @ own.T).todense(), dtype=np.float64).ravel()
        ratio = np.divide(neigh.data, co, out=np.zeros_like(co), where=co > 0)
        chose = user_rows(self.train_, neigh.indices, self.config.binarize)[:, [item]]
        per_neighbour = ratio * chose.toarray().ravel()
        contrib = own.data * (shared[:, own.indices].T @ per_neighbour)
        return order_contributions(own.indices, np.asarray(contrib, dtype=np.float64))

    def history_parts_many(self, users: np.ndarray, items: np.ndarray) -> PairParts:
        """:meth:`explain_parts` of every pair, one small product per distinct user.

        With ``R[u, v] = sim[v, u] / co_uv``, pair p's part of history item j is
        ``x_uj * sum_v R[u, v] x_v,item x_vj``. Which neighbours chose each pair's item is
        looked up for all pairs at once (:meth:`_choosers`); per distinct user remain one
        row take and one column take from a dense item x user copy (the neighbours' values
        on the user's own items, whose sums are also ``co_uv``) and one small product.
        Takes, not ``np.ix_``: the 2-D fancy index was two thirds of the time. With many
        users a row of the copy is longer than the cache lines an element-wise take reads
        (1m shape: 6,000 users, row takes 3.7 s), so the elements are taken one by one
        there. Catalogues too large for a dense copy use sparse products over all pairs.
        """
        if not self._dense_fits():
            return self._history_parts_sparse(users, items)
        uniq, inverse = np.unique(users, return_inverse=True)
        binary = self._binary_similarity()
        own = user_rows(self.train_, uniq, binary)
        own_t = self._by_item(binary)  # [items, users] float32: a user's items are rows
        by_user = np.argsort(inverse, kind="stable")
        cuts = np.searchsorted(inverse[by_user], np.arange(len(uniq) + 1))
        lookup = self._by_item(self.config.binarize)  # what the neighbours gave
        who, weight, slot_ptr, chose, chose_ptr = self._choosers(uniq, items[by_user], cuts, lookup)
        positions, owner = pair_spans(own.indptr, inverse[by_user])
        starts = np.r_[0, np.cumsum(np.diff(own.indptr) * np.diff(cuts))]
        spread = np.zeros(len(positions))
        wide, flat = self.n_users > 16 * self.config.n_neighbors, own_t.ravel()
        for r in range(len(uniq)):  # a loop over distinct users, one small product each
            lo, hi, s_lo, s_hi = own.indptr[r], own.indptr[r + 1], slot_ptr[r], slot_ptr[r + 1]
            if lo == hi or s_lo == s_hi:
                continue
            mine, near = own.indices[lo:hi], who[s_lo:s_hi]
            if wide:
                took = flat.take(mine.astype(np.int64)[:, None] * self.n_users + near)
            else:
                took = own_t.take(mine, axis=0).take(near, axis=1)
            # [neighbours]: what each shares with the user (1s: a count, exact either way)
            co = took.sum(axis=0) if binary else own.data[lo:hi] @ took
            took = took.astype(np.float64)  # a float64 product without numpy's mixed path
            ratio = np.divide(weight[s_lo:s_hi], co, out=np.zeros(len(co)), where=co > 0)
            picked = chose[chose_ptr[r] : chose_ptr[r + 1]].reshape(s_hi - s_lo, -1)
            block = spread[starts[r] : starts[r + 1]].reshape(-1, hi - lo)  # [pairs, own]
            np.matmul((picked * ratio[:, None]).T, took.T, out=block)
        contrib = own.data[positions] * spread
        return PairParts.build(by_user[owner], own.indices[positions], contrib, len(users))

    def _choosers(
        self, uniq: np.ndarray, items: np.ndarray, cuts: np.ndarray, lookup: np.ndarray | None
    ) -> tuple[np.ndarray, ...]:
        """Per distinct user, the neighbours who chose at least one of its pairs' items.

        Args:
            uniq: the distinct users.
            items: the pairs' items, grouped by user (``cuts`` cuts them).
            cuts: offsets of each user's pairs in ``items``.
            lookup: the item x user values the neighbours gave (dense), if at hand: reading
                it is 4x faster than looking the pairs up in the sparse matrix.

        Returns:
            ``(neighbour, similarity, offsets per user, x_v,item, offsets per user)``: the
            neighbours in the user's row order, and for each user a flat
            ``[neighbours, pairs]`` block of what each neighbour gave each pair's item.
        """
        neigh = self.neighbors_[uniq]
        row = np.repeat(np.arange(len(uniq)), np.diff(neigh.indptr))
        at, slot = pair_spans(cuts, row)  # every (neighbour, pair) of a user, by neighbour
        if lookup is not None:
            value = lookup[items[at], neigh.indices[slot]].astype(np.float64)
        else:
            chose = user_rows(self.train_, np.arange(self.n_users), self.config.binarize)
            value = np.asarray(chose[neigh.indices[slot], items[at]], dtype=np.float64).ravel()
        useful = np.bincount(slot, weights=value != 0, minlength=neigh.nnz) > 0
        slot_ptr = np.r_[0, np.cumsum(np.bincount(row[useful], minlength=len(uniq)))]
        keep = useful[slot]
        chose_ptr = np.r_[0, np.cumsum(np.bincount(row[slot[keep]], minlength=len(uniq)))]
        weight = neigh.data[useful].astype(np.float64)
        return neigh.indices[useful], weight, slot_ptr, value[keep], chose_ptr

    def _history_parts_sparse(self, users: np.ndarray, items: np.ndarray) -> PairParts:
        """As :meth:`history_parts_many`, in sparse products over all pairs at once."""
        uniq, inverse = np.unique(users, return_inverse=True)
        ratio = self._neighbour_ratios(uniq)
        binary = self._binary_similarity()
        chose = user_rows(self.train_, np.arange(self.n_users), self.config.binarize)
        weights = ratio[inverse].multiply(chose[:, items].T.tocsr()).tocsr()
        own = user_rows(self.train_, users, binary)
        own_all = user_rows(self.train_, np.arange(self.n_users), binary)
        spread = (weights @ own_all).tocsr()  # [pairs, items]
        pair = np.repeat(np.arange(len(users)), np.diff(own.indptr))
        picked = gather(spread, pair, own.indices)
        return PairParts.build(pair, own.indices, own.data * picked, len(users))

    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """``sum_v sim[v, u] x_vi`` per pair: each neighbour's value of the item, looked up.

        (Taking the pairs' item columns of the sparse matrix instead cost 0.9 s for 18k pairs
        on the 1m shape.)
        """
        u, i = self._pairs(users, items)
        at, pair = pair_spans(self.neighbors_.indptr, u)  # every (pair, neighbour), in order
        if self._dense_fits():  # a dense lookup: 10 ms -> 1 ms for 1,830 pairs (ML small)
            value = self._by_item(self.config.binarize)[i[pair], self.neighbors_.indices[at]]
            value = value.astype(np.float64)
        else:
            chose = user_rows(self.train_, np.arange(self.n_users), self.config.binarize)
            value = chose[self.neighbors_.indices[at], i[pair]]
            value = np.asarray(value, dtype=np.float64).ravel()
        weight = self.neighbors_.data[at].astype(np.float64) * value
        return np.bincount(pair, weights=weight, minlength=len(u))

    def _neighbour_ratios(self, users: np.ndarray) -> sp.csr_matrix:
        """``sim / co-occurrence`` per (user, neighbour) of ``users``; 0 where nothing is shared."""
        neigh = sp.csr_matrix(self.neighbors_[users], dtype=np.float64)
        binary = user_rows(self.train_, np.arange(self.n_users), self._binary_similarity())
        co = (binary[users] @ binary.T).tocsr()
        row = np.repeat(np.arange(len(users)), np.diff(neigh.indptr))
        shared = gather(co, row, neigh.indices)
        neigh.data = np.divide(neigh.data, shared, out=np.zeros_like(shared), where=shared > 0)
        return neigh

    def _dense_fits(self) -> bool:
        """Whether an item x user copy of the training matrix is small enough to keep."""
        return self.n_users * self.n_items * 8 <= 4 * BLOCK_BYTES

    def _by_item(self, binary: bool) -> np.ndarray:
        """The training values as a dense ``[items, users]`` table, made once per training
        set: a run explains in chunks of 500 pairs, and each chunk rebuilt it (4-8 ms of ~40
        on MovieLens latest-small). float32, or uint8 1s if ``binary``: a quarter of the
        bytes for the per-user takes of :meth:`history_parts_many` (12.8 -> 5.4 ms of CPU a
        batch there), the same values once cast."""

        def make() -> np.ndarray:
            every = user_rows(self.train_, np.arange(self.n_users), binary)
            table = every.T.tocsr().toarray()
            return table.astype(np.uint8) if binary else table

        return fit_cached(self, f"by_item {binary}", self.train_, make)

    def _binary_similarity(self) -> bool:
        """Whether the similarity was computed on 1s (see :func:`pruned_similarity`)."""
        return self.config.binarize or self.config.similarity == "jaccard"
