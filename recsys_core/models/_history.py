"""A posted history as the one-row matrix the families fold in (see ``score_history``)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def history_row(items: np.ndarray, weights: np.ndarray, n_items: int) -> sp.csr_matrix:
    """``1 x n_items`` float32 row; an item given twice sums its weights, as a matrix would."""
    row = sp.csr_matrix(
        (np.asarray(weights, dtype=np.float32), (np.zeros(len(items), dtype=np.int64), items)),
        shape=(1, n_items),
        dtype=np.float32,
    )
    row.sum_duplicates()
    return row


def binarized(row: sp.csr_matrix, binarize: bool) -> sp.csr_matrix:
    """The row as the family's fit saw its rows: every value 1 when the config binarises."""
    if not binarize:
        return row
    out = row.copy()
    out.data[:] = 1.0
    return out
