"""Explanations as the models give them: the record, per-pair parts in flat arrays, sentences.

A model explains many (user, item) pairs at once (:meth:`Recommender.explain_many`): its
family computes every pair's parts in one vectorised pass into a :class:`PairParts` (flat
arrays cut by an offset per pair, like a CSR matrix), and the builders here turn them into
:class:`Explanation` records. Only the sentence of each pair is made in a Python loop (a few
microseconds each); the contribution table is built when someone reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

if TYPE_CHECKING:
    from recsys_core.data.interactions import Interactions

ExplanationKind = Literal["history", "features", "modalities", "components", "none"]
#: Columns of :attr:`Explanation.contributions`.
CONTRIBUTION_COLUMNS = ["name", "value"]
#: Item table columns tried, in order, for a readable item name.
NAME_COLUMNS = ("title", "name", "item_name", "product_name")
#: How a sentence names a modality of the fusion and content models.
MODALITY_WORDS = {
    "id": "its id (who interacted with it)",
    "text": "its text",
    "categorical": "its categories",
    "numeric": "its numeric attributes",
    "image": "its image",
}


@dataclass(frozen=True, eq=False)
class Explanation:
    """Why one item was scored as it was for one user.

    Attributes:
        user_id: the external user id.
        item_id: the external item id.
        score: the model's score for the pair.
        kind: what the contributions are: history items, item features, modalities,
            components (a hybrid's models, a baseline's bias terms), or "none" when the model
            offers no breakdown (popularity, random).
        names: contribution names, sorted by ``|value|`` descending (ties by name).
        values: contribution values in the same order (float64).
        residual: ``score - values.sum()``: 0 for additive models, the part no named reason
            carries otherwise (e.g. a hybrid's normalisation shift).
        sentence: the reason in words, with names in ``*italics*`` (Markdown).
    """

    user_id: str
    item_id: str
    score: float
    kind: ExplanationKind
    names: tuple[str, ...] = field(repr=False)
    values: np.ndarray = field(repr=False)
    residual: float
    sentence: str

    @cached_property
    def contributions(self) -> pd.DataFrame:
        """Columns ``name`` and ``value``, strongest first (built on first access only)."""
        return pd.DataFrame(
            {
                "name": pd.Series(list(self.names), dtype=str),
                "value": np.asarray(self.values, dtype=np.float64),
            }
        )

    @property
    def plain_sentence(self) -> str:
        """The sentence without Markdown marks, for exports and tooltips."""
        return self.sentence.replace("*", "")


def ordered(names: Sequence[str], values: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
    """Names and values ordered by size (ties by name), strongest first."""
    text = np.asarray(list(names), dtype=str)
    vals = np.asarray(values, dtype=np.float64)
    order = np.lexsort((text, -np.abs(vals))) if len(vals) else np.zeros(0, dtype=np.int64)
    return tuple(str(n) for n in text[order]), vals[order]


def record(
    ids: tuple[str, str],
    score: float,
    kind: ExplanationKind,
    parts: tuple[Sequence[str], np.ndarray],
    sentence: str,
    residual: float | None = None,
) -> Explanation:
    """An explanation of one pair from unordered parts; the residual closes the sum."""
    names, values = ordered(*parts)
    rest = score - float(values.sum()) if residual is None else residual
    return Explanation(ids[0], ids[1], score, kind, names, values, rest, sentence)


#: Scores of a batch of user indices for every item.
Scorer = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Permutable:
    """A model seen as item feature groups, and its scorer once some groups are shuffled.

    ``scorer({group: permutation})`` rebuilds the item vectors with those groups' rows
    permuted across items (the learned weights stay), for permutation importance.
    """

    groups: list[str]
    scorer: Callable[[dict[str, np.ndarray]], Scorer]


# ---------------------------------------------------------------------- names
def catalogue_names(train: Interactions, item_ids: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Readable names of items (object array of str): the title/name column, else the id.

    A multi-valued name cell (a title with ``|`` in it, read as a list) is joined back with
    " | ", so it reads as the original text.
    """
    ids = np.asarray(item_ids).astype(str).astype(object)
    table = train.item_features
    if table is None:
        return ids
    lower = {str(c).lower(): c for c in table.columns}
    column = next((lower[c] for c in NAME_COLUMNS if c in lower), None)
    if column is None:
        return ids
    names = table[column].copy()
    names.index = names.index.astype(str)
    found = names.reindex(ids).to_numpy(dtype=object)
    text = np.array([_as_text(v) for v in found], dtype=object)  # one pass over the catalogue
    blank = np.array([not t.strip() for t in text], dtype=bool)
    return np.where(blank, ids, text).astype(object)


def _as_text(value: Any) -> str:
    if isinstance(value, list | tuple | np.ndarray):
        return " | ".join(str(v) for v in value if not _missing(v))
    return "" if _missing(value) else str(value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def join_names(names: Sequence[str]) -> str:
    """``*a*``, ``*a* and *b*``, ``*a*, *b* and *c*``."""
    quoted = [f"*{name}*" for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" and {quoted[-1]}"


def unique_names(names: Sequence[str]) -> list[str]:
    """Two items with one title stay distinguishable in a chart: repeats get a suffix."""
    seen: dict[str, int] = {}
    out = []
    for name in names:  # a loop over one user's history, not over interactions
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


# ---------------------------------------------------------------------- flat parts
@dataclass(frozen=True)
class PairParts:
    """Named parts of many pairs' scores in flat arrays: pair ``p`` owns ``ptr[p]:ptr[p+1]``.

    Within a pair, parts are ordered by ``|value|`` descending, ties by ``keys`` (item index)
    ascending, and zero parts are dropped: the order :func:`order_contributions` gives one pair.
    """

    ptr: np.ndarray
    keys: np.ndarray
    values: np.ndarray

    @classmethod
    def build(
        cls, pair: np.ndarray, keys: np.ndarray, values: np.ndarray, n_pairs: int
    ) -> PairParts:
        """Drop zero parts and order each pair's parts, all pairs in one sort."""
        pair, keys, values = np.asarray(pair), np.asarray(keys), np.asarray(values)
        keep = values != 0
        pair, keys, values = pair[keep], keys[keep], values[keep]
        order = _by_pair_then_size(pair, keys, values)
        counts = np.bincount(pair, minlength=n_pairs)
        ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(ptr, keys[order].astype(np.int64), values[order].astype(np.float64))

    @classmethod
    def empty(cls, n_pairs: int) -> PairParts:
        return cls(np.zeros(n_pairs + 1, dtype=np.int64), np.zeros(0, np.int64), np.zeros(0))

    @property
    def pair(self) -> np.ndarray:
        """Pair number of every part."""
        return np.repeat(np.arange(len(self.ptr) - 1), np.diff(self.ptr))

    def one(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.ptr[p], self.ptr[p + 1]
        return self.keys[lo:hi], self.values[lo:hi]

    def sums(self) -> np.ndarray:
        return np.bincount(self.pair, weights=self.values, minlength=len(self.ptr) - 1)


def _by_pair_then_size(pair: np.ndarray, keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The order by (pair, |value| desc, key), as ``np.lexsort((keys, -|values|, pair))``.

    One stable integer sort does nearly all of it: the pair in the high 32 bits and |value|
    rounded to float32 in the low 32 (a non-negative float32's bits rise with its value), so
    parts are grouped by pair, largest first (4-5x faster than a float sort and an integer
    sort: 240k parts 7 ms vs 37 ms). Rounding can only merge sizes, never swap them, so the
    exact order differs only inside runs of equal rounded size; those runs alone are
    re-sorted by (|value| desc, key). The stable sort keeps input order in a run, which is
    already the key order whenever a pair's parts come in key order (CSR rows).
    """
    size = np.abs(values)
    rounded = np.invert(size.astype(np.float32).view(np.uint32)).astype(np.uint64)
    order = np.argsort((pair.astype(np.uint64) << np.uint64(32)) | rounded, kind="stable")
    p, r, s, k = pair[order], rounded[order], size[order], keys[order]
    run = (p[1:] == p[:-1]) & (r[1:] == r[:-1])
    wrong = run & ((s[1:] > s[:-1]) | ((s[1:] == s[:-1]) & (k[1:] <= k[:-1])))
    if wrong.any():
        member = np.r_[run, False] | np.r_[False, run]
        group = np.cumsum(np.r_[True, ~run])[member]
        at = np.flatnonzero(member)
        order[at] = order[at[np.lexsort((k[at], -s[at], group))]]
    return order


def pair_spans(ptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ``rows`` of a CSR-like ``ptr``: every entry position, and which of ``rows`` owns it."""
    starts, lengths = ptr[rows], ptr[rows + 1] - ptr[rows]
    owner = np.repeat(np.arange(len(rows)), lengths)
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    positions = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(first - starts, lengths)
    return positions, owner


@dataclass(frozen=True)
class _NameOrder:
    """Catalogue names as sortable integers: their rank, and which names several items share."""

    vocab: np.ndarray
    rank: np.ndarray
    shared: np.ndarray


_LAST_NAMES: list[Any] = [None, None]  # the last catalogue seen and its order (one entry)


def _name_order(names: np.ndarray) -> _NameOrder:
    if _LAST_NAMES[0] is not names:
        vocab, code, counts = np.unique(
            np.asarray(names).astype(str), return_inverse=True, return_counts=True
        )
        _LAST_NAMES[:] = [names, _NameOrder(vocab, code.astype(np.int64), counts[code] > 1)]
    order: _NameOrder = _LAST_NAMES[1]
    return order


def named_parts(parts: PairParts, names: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per part, its display name (repeats within a pair numbered), and the chart order.

    Names are compared through their rank in the catalogue, so every sort runs on integers
    and only parts whose title several items share are looked at for numbering.

    Returns:
        ``(names in part order, permutation ordering each pair by |value| desc, then name)``.
    """
    info = _name_order(names)
    raw = np.asarray(names, dtype=object)[parts.keys]
    pair = parts.pair
    scale = 1
    rank = info.rank[parts.keys]
    maybe = np.flatnonzero(info.shared[parts.keys])
    if len(maybe):
        repeat, counts = _repeats(pair[maybe], rank[maybe])
        repeat = maybe[repeat]
        numbered = [f"{raw[j]} ({k})" for j, k in zip(repeat, counts, strict=True)]
        scale = len(numbered) + 1  # room between two catalogue ranks for the new names
        rank = rank * scale
        if numbered:
            text = np.asarray(numbered, dtype=str)
            by_text = np.argsort(text, kind="stable")
            spot = np.searchsorted(info.vocab, text[by_text])
            rank[repeat[by_text]] = spot * scale - scale + 1 + np.arange(len(text))
            raw[repeat] = numbered
    return raw, _chart_order(pair, parts.values, rank)


def _repeats(pair: np.ndarray, code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions whose (pair, name) came earlier in the pair, and their occurrence (2, 3...)."""
    group = np.lexsort((np.arange(len(code)), code, pair))
    new = np.r_[True, (np.diff(pair[group]) != 0) | (np.diff(code[group]) != 0)]
    starts = np.flatnonzero(new)
    occurrence = np.arange(len(code)) - np.repeat(starts, np.diff(np.r_[starts, len(code)]))
    return group[occurrence > 0], occurrence[occurrence > 0] + 1


def _chart_order(pair: np.ndarray, values: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Parts come ordered by (pair, |value| desc, item); ties in |value| go by name instead."""
    order = np.arange(len(values))
    size = np.abs(values)
    tie = (pair[1:] == pair[:-1]) & (size[1:] == size[:-1])
    if not tie.any():
        return order
    member = np.r_[tie, False] | np.r_[False, tie]
    group = np.cumsum(np.r_[True, ~tie])[member]
    idx = np.flatnonzero(member)
    order[idx] = idx[np.lexsort((rank[idx], group))]
    return order


def top_positive(
    pair: np.ndarray, values: np.ndarray, n: int, n_pairs: int
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (in the given order, grouped by pair) of each pair's first ``n`` positive
    values, and the offsets cutting them per pair."""
    pos = np.flatnonzero(values > 0)
    owner = pair[pos]
    starts = np.searchsorted(owner, np.arange(n_pairs))
    rank = np.arange(len(pos)) - starts[owner] if len(pos) else np.zeros(0, dtype=np.int64)
    take = pos[rank < n]
    ptr = np.concatenate([[0], np.cumsum(np.bincount(pair[take], minlength=n_pairs))])
    return take, ptr.astype(np.int64)


def history_dots(
    rows: sp.csr_matrix,
    left: np.ndarray,
    right: np.ndarray,
    owner: np.ndarray,
    sums: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``left[j] . right[p]`` for every pair p and every history item j of its user.

    Args:
        rows: one CSR row per distinct user (the history and its values).
        left: item vectors ``[n_items, d]``.
        right: one vector per pair ``[n_pairs, d]``.
        owner: per pair, its user's row in ``rows``.
        sums: if given (``[n_rows, d]``, zeros), each row with pairs gets ``row @ left``,
            the value-weighted sum of its history's vectors, from the same take.

    Returns:
        ``(pair, item, value of the item in the row, dot)`` per (pair, history item), pairs
        grouped by user. The index arrays are laid out at once; per distinct user remain
        one take of its history's vectors and one small product written in place (its
        pairs share the take).
    """
    by_user = np.argsort(owner, kind="stable")
    cuts = np.searchsorted(owner[by_user], np.arange(rows.shape[0] + 1))
    positions, slot = pair_spans(rows.indptr, owner[by_user])
    sizes = np.diff(rows.indptr)
    starts = np.r_[0, np.cumsum(sizes * np.diff(cuts))]
    dots = np.zeros(len(positions), dtype=np.result_type(left, right))
    for r in np.flatnonzero(starts[1:] > starts[:-1]):  # a loop over distinct users
        lo, hi = rows.indptr[r], rows.indptr[r + 1]
        block = dots[starts[r] : starts[r + 1]].reshape(-1, hi - lo)  # [pairs, history]
        took = left.take(rows.indices[lo:hi], axis=0)  # faster than left[...] on rows
        np.matmul(right[by_user[cuts[r] : cuts[r + 1]]], took.T, out=block)
        if sums is not None:
            sums[r] = rows.data[lo:hi] @ took
    return by_user[slot], rows.indices[positions], rows.data[positions], dots
