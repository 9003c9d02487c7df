"""ItemKNN and what every neighbourhood family shares: similarities kept top-n per target."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from recsys_core.data.interactions import Interactions
from recsys_core.models._cooccur import dense_pays, gram_rows
from recsys_core.models._fit_cache import fit_cached
from recsys_core.models._history import binarized
from recsys_core.models._topk import exact_rows
from recsys_core.models.base import Recommender, RecommenderConfig, order_contributions
from recsys_core.models.explanation import PairParts, pair_spans
from recsys_core.models.priors import prior
from recsys_core.progress import Progress, report

Similarity = Literal["cosine", "jaccard", "asymmetric_cosine"]

#: Dense similarity blocks are cut to about this many bytes, whatever the catalogue size.
BLOCK_BYTES = 64 * 2**20


class KNNConfig(RecommenderConfig):
    """Shared by ItemKNN and UserKNN."""

    n_neighbors: int = Field(
        100,
        ge=1,
        le=10_000,
        description="Neighbours kept per target; fewer = faster, noisier.",
        json_schema_extra=prior(5, 1000, log=True),
    )
    similarity: Similarity = Field(
        "cosine",
        description=(
            "cosine: co-occurrence over the product of norms; jaccard: shared over either; "
            "asymmetric_cosine: cosine with the norms weighted by alpha."
        ),
    )
    alpha: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description=(
            "asymmetric_cosine only: weight of the source norm (1 - alpha on the target); "
            "0.5 is plain cosine, higher values damp popular source items."
        ),
    )
    shrinkage: float = Field(
        0.0,
        ge=0.0,
        le=1e6,
        description="Added to the denominator so pairs seen together only a few times count less.",
        json_schema_extra=prior(0, 500),
    )
    binarize: bool = Field(
        True,
        description="Count every interaction as 1 (ignore rating or weight); jaccard always does.",
    )


def user_rows(train: Interactions, users: np.ndarray, binarize: bool) -> sp.csr_matrix:
    """Rows of the training matrix for ``users``, as 1s when ``binarize``."""
    rows = train.matrix[users].astype(np.float32)
    if binarize:
        rows.data[:] = 1.0
    return rows


def pruned_similarity(
    x: sp.csr_matrix, config: KNNConfig, progress: Progress | None = None
) -> sp.csr_matrix:
    """Similarity between the columns of ``x``, keeping the top ``n_neighbors`` per target.

    Entry ``[i, j]`` is how much source column ``i`` supports target column ``j``. Of sources
    tied at the n-th value the lowest indices stay (the rule of ``_topk`` and of the Spark
    engine; argpartition's choice depended on the CPU). Two ways, the same bits: up to
    :data:`NUMPY_COLUMNS` columns, dense numpy blocks (``targets x columns``, bounded in
    size); past it a compiled loop (:mod:`recsys_core.models._knn_kernel`) that visits only
    the pairs that co-occur and makes no dense block. The loop's numba costs 0.4-0.8 s
    once per process (import and first-call set-up), more than a small catalogue's whole fit.

    Returns:
        CSR ``[n_columns, n_columns]`` float32 with zero diagonal and at most ``n_neighbors``
        positive entries per column.
    """
    x = sp.csr_matrix(x, dtype=np.float32, copy=True)
    x.sort_indices()
    if config.binarize or config.similarity == "jaccard":
        x.data[:] = 1.0
    sq = np.asarray(x.multiply(x).sum(axis=0), dtype=np.float64).ravel()
    m, n = x.shape[1], min(config.n_neighbors, x.shape[1])
    xt = x.T.tocsr()  # per column, the users who have it, in ascending order
    if m <= NUMPY_COLUMNS:
        dense = x.toarray() if dense_pays(x) else None  # see _cooccur
        step = max(1, BLOCK_BYTES // (4 * m))

        def block(start: int, stop: int) -> sp.csr_matrix:
            co = gram_rows(xt[start:stop], x, dense)  # rows: targets j, columns: sources i
            neg = _normalise(co, sq, start, config, negate=True)  # co's memory, -similarity
            neg[np.arange(stop - start), np.arange(start, stop)] = 0.0
            return keep_top(neg, n, negated=True, lowest_ties=True)

    else:
        from recsys_core.models._knn_kernel import top_similar  # numba: imported at fit only

        a = 0.5 if config.similarity == "cosine" else config.alpha
        norms = (sq, sq) if config.similarity == "jaccard" else (sq**a, sq ** (1.0 - a))
        step = max(1, min(BLOCK_BYTES // (8 * n), -(-m // (PROGRESS_STEPS * _cores()))))

        def block(start: int, stop: int) -> sp.csr_matrix:  # rows: targets, unsorted
            return top_similar((x, xt), norms, config, n, (start, stop))

    starts = list(range(0, m, step))  # blocks of targets
    stops = [min(m, start + step) for start in starts]
    parts: list[sp.csr_matrix] = []
    with _mapper(m > NUMPY_COLUMNS and len(starts) > 1) as each:
        for stop, part in zip(stops, each(block, starts, stops), strict=True):
            parts.append(part)
            report(progress, stop, m, f"similarities {stop}/{m}")
    return sp.vstack(parts, format="csr").T.tocsr()


#: Catalogues up to this many columns take the numpy way (ml-100k-like, 1,682 items: 0.1 s
#: of CPU against 0.9 s through numba in a fresh process); larger ones the compiled loop
#: (ML-latest-small, 9,722 items: 1.7 s of CPU -> 0.3-0.45 s warm, 0.8-1.0 s in a fresh
#: process, where numba's import and set-up take 0.4-0.8 s).
NUMPY_COLUMNS = 3000
#: Blocks of targets per core in a compiled similarity fit (each one progress report): a
#: few per core, as targets differ in cost (popular columns co-occur with more).
PROGRESS_STEPS = 4


def _cores() -> int:
    """CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextmanager
def _mapper(threads: bool) -> Iterator[Callable[..., Iterator[Any]]]:
    """``map`` over blocks of targets, results in order: on every core for the compiled
    kernel, which releases the GIL (implicit's ``all_pairs_knn`` uses every core too; on
    ML-latest-small the blocks are ~0.2 s of CPU), else the built-in one. A progress
    callback that raises (a cancelled run) drops the blocks not yet started."""
    if not threads or _cores() == 1:
        yield map
        return
    pool = ThreadPoolExecutor(_cores(), thread_name_prefix="knn")
    try:
        yield pool.map
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


#: Rows of a block normalised at once: their float64 denominators stay in the CPU's cache.
CHUNK_ROWS = 32


def _normalise(
    co: np.ndarray, sq: np.ndarray, start: int, config: KNNConfig, *, negate: bool = False
) -> np.ndarray:
    """Turn co-occurrence (targets x sources, float32) into the chosen similarity, in place.

    Every entry is ``float32(co / denominator)`` with the denominator and the division in
    float64; ``negate`` gives exactly the negation (what ``keep_top(..., negated=True)``
    wants, without another copy). A few rows at a time, written over ``co``: the
    whole-block version streamed four float64 arrays of the block through memory and took
    3x as long (ML-latest-small, 1,725 x 9,724 block: 196 ms -> 52 ms, the same bits).
    """
    target = sq[start : start + co.shape[0], None]
    a = 0.5 if config.similarity == "cosine" else config.alpha
    source = sq[None, :] if config.similarity == "jaccard" else sq[None, :] ** a
    target = target if config.similarity == "jaccard" else target ** (1.0 - a)
    denom = np.empty((min(CHUNK_ROWS, co.shape[0]), co.shape[1]))
    for lo in range(0, co.shape[0], CHUNK_ROWS):  # a loop over chunks of rows
        rows, d = co[lo : lo + CHUNK_ROWS], denom[: min(CHUNK_ROWS, co.shape[0] - lo)]
        if config.similarity == "jaccard":
            np.subtract(np.add(target[lo : lo + CHUNK_ROWS], source, out=d), rows, out=d)
        else:
            np.multiply(source, target[lo : lo + CHUNK_ROWS], out=d)
        if config.shrinkage:
            d += config.shrinkage
        d[d == 0] = 1.0  # a never-seen column co-occurs with nothing: 0 / 1, not NaN
        if negate:
            np.negative(d, out=d)
        np.divide(rows, d, out=rows, dtype=np.float64, casting="same_kind")
    return co


def keep_top(
    sim: np.ndarray, n: int, *, negated: bool = False, lowest_ties: bool = False
) -> sp.csr_matrix:
    """Per row, the ``n`` largest positive entries as sparse (argpartition, no full sort).

    With ``negated``, ``sim`` holds the negated similarities (and may be overwritten). Of
    several entries tied at the n-th value, ``lowest_ties`` keeps the lowest column indices
    (ItemKNN and UserKNN); without it (RP3beta) argpartition chooses, and its choice depends
    on the CPU (numpy's AVX-512, AVX2 and baseline paths keep different sets).
    """
    if n < sim.shape[1]:
        neg = sim if negated else -sim
        cols = np.argpartition(neg, n - 1, axis=1)[:, :n]
        vals = -np.take_along_axis(neg, cols, axis=1)
        if lowest_ties:
            kth = vals.min(axis=1, keepdims=True)  # the n-th largest; only positives are kept
            crossing = (kth[:, 0] > 0) & ((neg == -kth).sum(axis=1) > (vals == kth).sum(axis=1))
            if crossing.any():  # more tied than places: redo those rows by the rule
                cols[crossing] = exact_rows(-neg[crossing], kth[crossing], n)
                vals = -np.take_along_axis(neg, cols, axis=1)
        rows = np.repeat(np.arange(sim.shape[0]), n)
        keep = vals.ravel() > 0
        data = (vals.ravel()[keep], (rows[keep], cols.ravel()[keep]))
        return sp.csr_matrix(data, shape=sim.shape, dtype=np.float32)
    if negated:
        np.negative(sim, out=sim)
    sim[sim < 0] = 0.0
    return sp.csr_matrix(sim)


def gather(product: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``product[rows, cols]`` as float64, through dense blocks of rows.

    scipy's own sampler scans a row for every lookup when its indices are unsorted (as a
    product's are), which costs more than the product itself.
    """
    out = np.zeros(len(rows))
    step = max(1, BLOCK_BYTES // (8 * max(product.shape[1], 1)))
    if product.shape[0] <= step:  # one block: a flat take, no masks (6M lookups 0.19 -> 0.04 s)
        flat = np.asarray(rows, dtype=np.int64) * product.shape[1] + cols
        return product.toarray().ravel().take(flat).astype(np.float64)
    for start in range(0, product.shape[0], step):  # a loop over blocks of rows
        at = np.flatnonzero((rows >= start) & (rows < start + step))
        if len(at):
            dense = (
                product[start : start + step].toarray()
                if start or step < product.shape[0]
                else product.toarray()
            )
            out[at] = dense[rows[at] - start, cols[at]]
    return out


class ItemItemScoring(Recommender):
    """Scoring and reasons of every item-item family: ``score(u, j) = x_u @ W[:, j]``.

    ItemKNN, RP3beta and SLIM differ only in how they learn ``similarity_`` (``W``, sparse
    ``[n_items, n_items]``, source item ``i`` in rows, target ``j`` in columns); the user row
    ``x_u`` (1s when the config binarises) times ``W`` is the score, and its terms
    ``x_ui * W[i, j]`` are the reasons, so they add up to the score exactly. A family
    subclasses it and writes only ``_fit``.
    """

    similarity_: sp.csr_matrix
    folds_in: ClassVar[bool] = True

    def _score_history(self, row: sp.csr_matrix) -> np.ndarray:
        """``x @ W`` for the posted row, as a training user's row is scored."""
        return (binarized(row, self._binarize()) @ self.similarity_).toarray()

    def _binarize(self) -> bool:
        return bool(getattr(self.config, "binarize", True))

    def _score(self, users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        sim = self.similarity_ if items is None else self.similarity_[:, items]
        return (user_rows(self.train_, users, self._binarize()) @ sim).toarray()

    def explain_parts(self, user: int, item: int) -> tuple[np.ndarray, np.ndarray]:
        """History items with a non-zero contribution to the item's score, largest first."""
        row = user_rows(self.train_, np.array([user]), self._binarize())
        contrib = row.data * self.similarity_[row.indices][:, [item]].toarray().ravel()
        return order_contributions(row.indices, contrib)

    def history_parts_many(self, users: np.ndarray, items: np.ndarray) -> PairParts:
        """:meth:`explain_parts` of every pair: one lookup of all (history, item) weights."""
        pair, keys, contrib = self._pair_terms(users, items)
        return PairParts.build(pair, keys, contrib, len(users))

    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """``sum_j x_uj W[j, i]`` per pair, from the same lookup (no full-catalogue rows)."""
        pair, _, contrib = self._pair_terms(*self._pairs(users, items))
        return np.bincount(pair, weights=contrib, minlength=len(users))

    def _pair_terms(self, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, ...]:
        """``(pair, source i, x_ui * W[i, item])`` per pair, sources ascending in each pair.

        From the cheaper side, a dense read costing about a quarter of a sparse lookup
        (MovieLens latest-small reasons: SLIM reads 1.2x the entries from the columns and is
        1.5x faster there; RP3beta 13.6x and 3.6x slower). An ItemKNN or SLIM column holds at most
        ``n_neighbors`` sources: the user's values at them are read from dense blocks of the
        users' rows (the history's weights looked up in ``W`` instead read 6.2M entries for
        the ranker's 50k candidates, scipy scanning a source row per lookup: 0.41 -> ~0.1 s).
        RP3beta's columns of popular items hold thousands: there the history's weights are
        looked up (1,830 reasons: 41k/s that way, 12k/s the other). Both give the same parts
        in the same order, so the float64 sums are the same.
        """
        items = np.asarray(items, dtype=np.int64)
        by_target = self._by_target()
        column_reads = np.diff(by_target.indptr)[items].sum()
        if column_reads > 4 * np.diff(self.train_.matrix.indptr)[users].sum():
            rows = user_rows(self.train_, users, self._binarize())
            pair = np.repeat(np.arange(len(users)), np.diff(rows.indptr))
            sim = np.asarray(self.similarity_[rows.indices, items[pair]]).ravel()
            return pair, rows.indices, rows.data * sim
        at, pair = pair_spans(by_target.indptr, items)
        sources = by_target.indices[at]
        uniq, inverse = np.unique(users, return_inverse=True)
        rows = user_rows(self.train_, uniq, self._binarize())
        value = gather(rows, inverse[pair], sources).astype(np.float32)
        return pair, sources, value * by_target.data[at]  # zero parts: PairParts drops them

    def _by_target(self) -> sp.csc_matrix:
        """``similarity_`` by column (sorted sources per target), made once per fit."""

        def make() -> sp.csc_matrix:
            by_target = sp.csc_matrix(self.similarity_)
            by_target.sort_indices()
            return by_target

        return fit_cached(self, "by_target", self.similarity_, make)


class ItemKNN(ItemItemScoring, Recommender):
    """Item-based neighbours: an item scores by how similar it is to what the user has seen.

    ``score(u, j) = sum over history items i of x_ui * sim[i, j]``, where ``sim[:, j]`` keeps
    the ``n_neighbors`` items most similar to ``j``. The sum is the explanation.
    """

    name: ClassVar[str] = "item_knn"
    config_class: ClassVar[type[RecommenderConfig]] = KNNConfig
    explains: ClassVar[bool] = True

    config: KNNConfig

    def _fit(self, train: Interactions, progress: Progress | None) -> None:
        self.similarity_ = pruned_similarity(train.matrix, self.config, progress)
