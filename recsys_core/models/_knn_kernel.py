"""Neighbour similarities top-n per target, compiled by numba (imported only inside a fit).

The numpy way made a dense ``targets x sources`` block of co-occurrences, normalised all of
it and ran ``argpartition`` over every row: ~1.2 s on ML-latest-small (9,722 items), of which
selection alone was 0.5 s over 94M entries, 59% of them zero. This loop does what implicit's
``all_pairs_knn`` does: per target column, it adds up the rows of the users who have it into
one accumulator (only the pairs that co-occur, the sum of squared user degrees: 39M on
ML-latest-small), turns the touched entries into similarities with the same float64
arithmetic as before, and selects among them. Same values as the numpy way, bit for bit
(co-occurrences are float32 sums in the same user order); what it adds is a rule for ties.

Ties: among sources tied at the n-th largest value, the lowest source indices are kept
(the rule of ``_topk`` and of the Spark engine). ``argpartition`` made that choice by the
CPU's SIMD path, so three machines kept three different sets.

Compiled once per checkout: ``cache=True`` keeps the machine code in ``__pycache__`` beside
this file (git-ignored; an editable install runs from here too), so a later process loads
it. What a fresh process still pays is numba itself: its import (0.15-0.4 s here) and its
target set-up on the first call (0.2-0.4 s), cache or not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    from recsys_core.models.knn import KNNConfig


def top_similar(
    x_xt: tuple[sp.csr_matrix, sp.csr_matrix],
    norms: tuple[np.ndarray, np.ndarray],
    config: KNNConfig,
    n: int,
    targets: tuple[int, int],
) -> sp.csr_matrix:
    """The ``n`` most similar sources of the columns ``targets`` of ``x``, ties to lower index.

    Args:
        x_xt: ``x`` (users x columns, float32 CSR, sorted indices, 1s when binarised) and its
            transpose as CSR (sorted: co-occurrences add up users in ascending order).
        norms: per column, the source's and the target's factor of the denominator
            (float64); for jaccard both are the squared norms.
        config: the similarity (cosine and asymmetric_cosine: ``co / (source x target +
            shrinkage)``; jaccard: ``co / (source + target - co + shrinkage)``; a zero
            denominator counts as 1) and the shrinkage.
        n: sources kept per target (positive similarities only, never the target itself).
        targets: ``(start, stop)``, the columns to do.

    Returns:
        CSR ``[stop - start, n_columns]`` float32: row ``t`` holds target ``start + t``'s
        kept sources, indices unsorted.
    """
    (x, xt), (start, stop) = x_xt, targets
    cols = np.empty((stop - start, n), dtype=np.int32)
    vals = np.empty((stop - start, n), dtype=np.float32)
    counts = np.zeros(stop - start, dtype=np.int64)
    _similar_top(
        x.indptr.astype(np.int64), x.indices.astype(np.int32), x.data,
        xt.indptr.astype(np.int64), xt.indices.astype(np.int32), xt.data,
        *norms, int(config.similarity == "jaccard"), float(config.shrinkage), start,
        cols, vals, counts,
    )  # fmt: skip
    keep = np.arange(n)[None, :] < counts[:, None]
    indptr = np.concatenate(([0], np.cumsum(counts)))
    shape = (stop - start, x.shape[1])
    return sp.csr_matrix((vals[keep], cols[keep], indptr), shape=shape)


@numba.njit(cache=True, nogil=True)
def _similar_top(indptr, indices, data, t_indptr, t_indices, t_data, src, tgt, jaccard, shrink,
                 start, out_cols, out_vals, counts):  # fmt: skip
    """Per target: co-occurrences, similarities, the best ``n`` kept (see :func:`_best`).

    Similarities pass a threshold into a buffer of ``4 n``; when it fills, it is cut to its
    exact best ``n`` and their worst value becomes the threshold, so most entries cost one
    comparison. Below the threshold an entry has ``n`` better ones already; at it, it may
    still beat a kept tie by a lower column, so it enters. An entry whose co-occurrence is
    below ``threshold x denominator`` by a relative 2^-20 (far beyond the rounding of the
    float64 product and of the float32 similarity) is skipped before its division: selection
    is two thirds of the kernel's time, and this takes 8% off the whole (ML-latest-small,
    one core: 0.194 -> 0.178 s of CPU, the same matrix). (A heap per target did the same
    with ~4 sifts of 7 levels per insertion: half the fit's time at 100 neighbours.)
    """
    n_cols, n = src.shape[0], out_cols.shape[1]
    acc = np.zeros(n_cols, dtype=np.float32)
    mark = np.zeros(n_cols, dtype=np.int64) - 1  # the last target that touched a column
    touched = np.empty(n_cols, dtype=np.int32)
    buf_vals = np.empty(4 * n, dtype=np.float32)
    buf_cols = np.empty(4 * n, dtype=np.int32)
    tied = np.empty(4 * n, dtype=np.int32)
    scratch = np.empty(4 * n, dtype=np.float64)
    for t in range(out_cols.shape[0]):
        j = start + t
        n_touched = 0
        for p in range(t_indptr[j], t_indptr[j + 1]):  # users who have the target ...
            w, u = t_data[p], t_indices[p]
            for q in range(indptr[u], indptr[u + 1]):  # ... and every column they have
                i = indices[q]
                touched[n_touched] = i  # kept only when new: no branch to mispredict
                n_touched += mark[i] != j
                mark[i] = j
                acc[i] += w * data[q]  # float32, users ascending: the numpy way's sums
        thr, kept = -np.inf, np.int64(0)  # typed: a literal 0 compiles _best twice
        low = -np.inf  # thr less a margin: co < low * d means co / d < thr for sure
        for a in range(n_touched):
            i = touched[a]
            co = np.float64(acc[i])
            acc[i] = 0.0
            d = (tgt[j] + src[i]) - co if jaccard else src[i] * tgt[j]
            d += shrink
            if d == 0.0:
                d = 1.0
            if co < low * d:  # below the threshold by far more than rounding: no division
                continue
            s = np.float32(co / d)
            if s > 0 and s >= thr and i != j:
                buf_vals[kept], buf_cols[kept] = s, i
                kept += 1
                if kept == buf_vals.shape[0]:
                    kept, thr = _best(
                        buf_vals, buf_cols, kept, n, buf_vals, buf_cols, tied, scratch
                    )
                    low = thr * (1.0 - 2.0**-20)
        counts[t] = _best(buf_vals, buf_cols, kept, n, out_vals[t], out_cols[t], tied, scratch)[0]


@numba.njit(cache=True, nogil=True)
def _best(vals, cols, size, n, out_vals, out_cols, tied, scratch):
    """The exact best ``n`` of the first ``size`` entries by (value descending, column
    ascending), unordered, written to ``out_*`` (which may be ``vals``/``cols`` themselves:
    entries only move down); returns how many and the worst kept value.

    The n-th largest value is selected; everything above it is kept, and of the entries
    equal to it the lowest columns fill the rest (selected the same way, columns being
    distinct). ``tied`` and ``scratch`` are work space of at least ``size``.
    """
    if size <= n:
        for a in range(size):
            out_vals[a], out_cols[a] = vals[a], cols[a]
        return size, -np.inf
    for a in range(size):
        scratch[a] = -np.float64(vals[a])
    kth = np.float32(-_kth_smallest(scratch, size, n - 1))
    kept, n_tied = np.int64(0), np.int64(0)
    for a in range(size):
        if vals[a] > kth:
            out_vals[kept], out_cols[kept] = vals[a], cols[a]
            kept += 1
        elif vals[a] == kth:
            tied[n_tied] = cols[a]
            n_tied += 1
    room = n - kept
    last = np.inf
    if n_tied > room:  # the room-th lowest tied column is the last one kept
        for a in range(n_tied):
            scratch[a] = tied[a]
        last = _kth_smallest(scratch, n_tied, room - 1)
    for a in range(n_tied):
        if tied[a] <= last:
            out_vals[kept], out_cols[kept] = kth, tied[a]
            kept += 1
    return n, np.float64(kth)


@numba.njit(cache=True, nogil=True)
def _kth_smallest(a, size, k):
    """The ``k``-th smallest (from 0) of ``a[:size]``, reordering it: Hoare's quickselect
    (Wirth's form). Written out because numba's ``np.partition`` and ``np.sort`` took the
    first compile from ~4 s to ~18 s, paid by every fresh checkout and CI run."""
    lo, hi = 0, size - 1
    while lo < hi:
        pivot = a[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return a[k]
    return a[k]
