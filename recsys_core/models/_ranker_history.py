"""The ranker's history features: how close a candidate is to the user's history and to when
the user was active.

Why these: on a validation side carved from MovieLens latest-small's training side (never its
test side), averaged over four carves, they lift the ranker over EASE from +1.0% to +1.6%
NDCG@10 (+2.8% with the stronger regularisation they allow). Under a random holdout a user's
held-out items were rated during the same visits as their training items, so an item first
rated after the user's last visit is almost never among them, and an item like the last few
the user rated often is.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import scipy.sparse as sp

from recsys_core.data.interactions import Interactions

__all__ = ["HISTORY_FEATURES", "LAST_N", "HistoryContext", "history_context", "history_features"]

_DAY = 86_400.0
#: How many of the user's latest items the ``sim_last_*`` features look at.
LAST_N = 5
#: Dense (users x items) cells per block of the similarity products (~80 MB of float32).
_BLOCK_CELLS = 20_000_000

HISTORY_FEATURES: dict[str, str] = {
    "sim_history_mean": (
        "User x item: mean cosine similarity (who interacted with both) between the item and "
        "the items of the user's history."
    ),
    "sim_last1": "User x item: cosine similarity between the item and the user's latest item.",
    "sim_last_mean": (
        f"User x item: mean cosine similarity between the item and the user's {LAST_N} "
        "latest items."
    ),
    "sim_last_max": (
        f"User x item: highest cosine similarity between the item and the user's {LAST_N} "
        "latest items."
    ),
    "item_age_at_user_last": (
        "User x item: days from the item's first interaction to the user's last one (negative: "
        "the item appeared after the user was last seen)."
    ),
    "item_last_after_user_first": (
        "User x item: days from the user's first interaction to the item's last one (negative: "
        "the item was last seen before the user came)."
    ),
    "pop_before_user_last": (
        "User x item: the item's interactions up to the user's last one (its popularity as the "
        "user could have seen it)."
    ),
    "share_before_user_last": (
        "User x item: share of the item's interactions that happened up to the user's last one."
    ),
}


@dataclass(frozen=True)
class HistoryContext:
    """Per-user and per-item times and latest items, kept as arrays so a loaded ranker (which
    keeps its training matrix but not its timestamps) scores the same features.

    Attributes:
        user_span: float64 [n_users, 2], first and last interaction (Unix s; NaN unknown).
        item_span: float64 [n_items, 2], the same per item.
        item_times: int64 [n_interactions], sorted ``item * clock[1] + (ts - clock[0])``.
        clock: int64 [2], the time origin and the per-item stride of ``item_times``.
        last_items: int64 [n_users, LAST_N], latest items first (-1: none or no timestamps).
    """

    user_span: np.ndarray
    item_span: np.ndarray
    item_times: np.ndarray
    clock: np.ndarray
    last_items: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        """The fields by name, for saving."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def history_context(train: Interactions) -> HistoryContext:
    """Learn the times and latest items from ``train`` (vectorised; empty without timestamps)."""
    n_users, n_items = train.n_users, train.n_items
    last_items = np.full((n_users, LAST_N), -1, dtype=np.int64)
    if train.timestamps is None or not len(train.timestamps):
        return HistoryContext(
            np.full((n_users, 2), np.nan), np.full((n_items, 2), np.nan),
            np.zeros(0, dtype=np.int64), np.array([0, 1], dtype=np.int64), last_items,
        )  # fmt: skip
    ts = train.timestamps.astype(np.int64)
    users, items = train.users.astype(np.int64), train.items.astype(np.int64)
    t0, stride = int(ts.min()), int(ts.max() - ts.min()) + 2
    order = np.lexsort((-ts, users))  # each user's latest first
    sorted_users = users[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    pos = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    keep = pos < LAST_N
    last_items[sorted_users[keep], pos[keep]] = items[order][keep]
    return HistoryContext(
        _span(users, ts, n_users), _span(items, ts, n_items),
        np.sort(items * stride + (ts - t0)), np.array([t0, stride], dtype=np.int64), last_items,
    )  # fmt: skip


def history_features(
    ctx: HistoryContext, matrix: sp.csr_matrix, users: np.ndarray, items: np.ndarray
) -> dict[str, np.ndarray]:
    """The :data:`HISTORY_FEATURES` of candidate pairs (NaN where a time is unknown)."""
    u = np.asarray(users, dtype=np.int64)
    i = np.asarray(items, dtype=np.int64)
    out = _similarities(ctx, matrix, u, i)
    first, last = ctx.user_span[u, 0], ctx.user_span[u, 1]
    out["item_age_at_user_last"] = (last - ctx.item_span[i, 0]) / _DAY
    out["item_last_after_user_first"] = (ctx.item_span[i, 1] - first) / _DAY
    t0, stride = int(ctx.clock[0]), int(ctx.clock[1])
    pop = np.bincount(ctx.item_times // stride, minlength=matrix.shape[1])[i].astype(np.float64)
    upto = np.clip(np.nan_to_num(last, nan=t0 - 1.0).astype(np.int64) - t0, -1, stride - 1)
    before = np.searchsorted(ctx.item_times, i * stride + upto, "right") - np.searchsorted(
        ctx.item_times, i * stride, "left"
    )
    known = np.isfinite(last)
    out["pop_before_user_last"] = np.where(known, before, np.nan)
    share = np.divide(before, pop, out=np.full(len(i), np.nan), where=pop > 0)
    out["share_before_user_last"] = np.where(known, share, np.nan)
    return {name: out[name] for name in HISTORY_FEATURES}


def _span(index: np.ndarray, ts: np.ndarray, size: int) -> np.ndarray:
    """First and last timestamp per index (NaN where none)."""
    big = np.iinfo(np.int64).max
    first, last = np.full(size, big), np.full(size, -big)
    np.minimum.at(first, index, ts)
    np.maximum.at(last, index, ts)
    has = last > -big
    return np.column_stack([np.where(has, first, np.nan), np.where(has, last, np.nan)])


def _similarities(
    ctx: HistoryContext, matrix: sp.csr_matrix, u: np.ndarray, i: np.ndarray
) -> dict[str, np.ndarray]:
    """Cosine (binary co-occurrence) of each candidate to the history and the latest items.

    Computed as dense rows of ``history @ Xn^T @ Xn`` for blocks of the candidates' users,
    never as an item x item matrix, so memory stays at one block whatever the catalogue.
    """
    binary = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    binary.data[:] = 1.0
    norms = np.sqrt(np.asarray(binary.sum(axis=0)).ravel())
    xn = sp.csr_matrix(binary.multiply(1.0 / np.maximum(norms, 1e-12)[None, :]))
    xnt = xn.T.tocsr()
    size = np.asarray(binary.sum(axis=1)).ravel()
    mean_hist = np.zeros(len(u))
    recent = np.full((len(u), LAST_N), np.nan)
    uniq, inverse = np.unique(u, return_inverse=True)
    rows = max(1, _BLOCK_CELLS // max(matrix.shape[1], 1))
    for lo in range(0, len(uniq), rows):  # blocks of users, each a few sparse products
        block = uniq[lo : lo + rows]
        sel = np.flatnonzero((inverse >= lo) & (inverse < lo + len(block)))
        # only the block's candidate items as columns: a product's entry sums the same
        # terms in the same order whatever the other columns, so the values are the same
        # bits, and explaining a top 3 no longer scores the whole catalogue (ranker reasons
        # on MovieLens latest-small 1.6k -> 2.2k per second)
        cols, it = np.unique(i[sel], return_inverse=True)
        at, xn_cols = inverse[sel] - lo, xn[:, cols]
        mean_hist[sel] = ((binary[block] @ xn.T) @ xn_cols).toarray()[at, it]
        for k in range(LAST_N):
            latest = ctx.last_items[block, k]
            ok = latest >= 0
            dense = np.zeros((len(block), len(cols)), dtype=np.float32)
            if ok.any():
                dense[ok] = (xnt[latest[ok]] @ xn_cols).toarray()
            recent[sel, k] = np.where(ok[at], dense[at, it], np.nan)
    known = np.isfinite(recent)
    seen = known.any(axis=1)
    total, count = np.where(known, recent, 0.0).sum(axis=1), known.sum(axis=1)
    return {
        "sim_history_mean": mean_hist / np.maximum(size[u], 1.0),
        "sim_last1": recent[:, 0],
        "sim_last_mean": np.divide(total, count, out=np.full(len(u), np.nan), where=seen),
        "sim_last_max": np.where(seen, np.where(known, recent, -np.inf).max(axis=1), np.nan),
    }
