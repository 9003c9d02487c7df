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
    """Per target: co-occurrences, similarities, the best ``n`` kept in a heap per row."""
    n_cols = src.shape[0]
    acc = np.zeros(n_cols, dtype=np.float32)
    seen = np.zeros(n_cols, dtype=np.bool_)
    touched = np.empty(n_cols, dtype=np.int32)
    for t in range(out_cols.shape[0]):
        j = start + t
        n_touched = 0
        for p in range(t_indptr[j], t_indptr[j + 1]):  # users who have the target ...
            w, u = t_data[p], t_indices[p]
            for q in range(indptr[u], indptr[u + 1]):  # ... and every column they have
                i = indices[q]
                if not seen[i]:
                    seen[i] = True
                    touched[n_touched] = i
                    n_touched += 1
                acc[i] += w * data[q]  # float32, users ascending: the numpy way's sums
        size = 0
        for a in range(n_touched):
            i = touched[a]
            co = np.float64(acc[i])
            acc[i] = 0.0
            seen[i] = False
            d = (tgt[j] + src[i]) - co if jaccard else src[i] * tgt[j]
            d += shrink
            if d == 0.0:
                d = 1.0
            s = np.float32(co / d)
            if s > 0 and i != j:
                size = _offer(out_vals[t], out_cols[t], size, s, i)
        counts[t] = size


@numba.njit(cache=True, nogil=True, inline="always")
def _offer(vals, cols, size, s, i):
    """Offers source ``i`` with similarity ``s`` to a heap of at most ``len(vals)``.

    The root is the worst kept source: the lowest value, of those the highest index. A
    source enters when the heap has room or when it beats the root (a higher value, or the
    same value and a lower index), so what stays is exactly the best ``n`` by (value
    descending, index ascending), whatever order the sources come in. Returns the new size.
    """
    n = vals.shape[0]
    if size < n:  # room: append and sift up
        c = size
        while c > 0:
            parent = (c - 1) // 2
            if vals[parent] < s or (vals[parent] == s and cols[parent] > i):
                break
            vals[c], cols[c] = vals[parent], cols[parent]
            c = parent
        vals[c], cols[c] = s, i
        return size + 1
    if s < vals[0] or (s == vals[0] and i > cols[0]):
        return size
    c = 0  # replace the root and sift down
    while True:
        child = 2 * c + 1
        if child >= n:
            break
        right = child + 1
        if right < n and (
            vals[right] < vals[child] or (vals[right] == vals[child] and cols[right] > cols[child])
        ):
            child = right
        if s < vals[child] or (s == vals[child] and i > cols[child]):
            break
        vals[c], cols[c] = vals[child], cols[child]
        c = child
    vals[c], cols[c] = s, i
    return size
