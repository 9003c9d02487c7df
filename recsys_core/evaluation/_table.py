"""evaluate_table: score analysts' own recommendation lists (frames with external ids)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.evaluation._core import EvaluationResult, check_ks, score_lists
from recsys_core.evaluation.beyond import BeyondContext, item_feature_matrix


def evaluate_table(
    recommendations: pd.DataFrame,
    truth: pd.DataFrame,
    k: int = 10,
    relevance_threshold: float | None = None,
    *,
    ks: Iterable[int] | None = None,
    train: pd.DataFrame | Interactions | None = None,
    item_features: pd.DataFrame | None = None,
    graded: bool = False,
) -> EvaluationResult:
    """Score recommendation lists from a table against held-out truth from a table.

    This is how analysts score their production lists; the app runs the same core code.
    Lists are ordered by ``rank`` (1 first) when that column exists, else by ``score``
    (higher first); ties go to the lower item id, so results never depend on row order.
    Users in ``truth`` without recommendations score 0; users with no relevant item are
    not evaluated. Beyond-accuracy metrics (coverage, Gini, novelty, ARP and, with item
    features, ILD) are added when ``train`` is given.

    Args:
        recommendations: columns user_id, item_id and score and/or rank.
        truth: columns user_id, item_id and optionally rating.
        k: the cut-off, used when ``ks`` is not given.
        relevance_threshold: count only truth rows with rating >= this value as relevant.
        ks: several cut-offs at once, e.g. (5, 10, 20).
        train: the training interactions (frame with user_id, item_id, or Interactions),
            for popularity-based metrics; its catalogue joins the catalogue for coverage.
        item_features: item table indexed by item id, for intra-list diversity.
        graded: also report graded NDCG with gain = truth rating.

    Raises:
        InputError: a missing column, k < 1, duplicate (user, item) rows in the lists,
            non-numeric scores or ratings, or no relevant truth row at all.

    Example:
        >>> recs = pd.DataFrame({
        ...     "user_id": ["u1", "u1", "u1", "u2", "u2"],
        ...     "item_id": ["a", "b", "c", "c", "a"],
        ...     "score": [0.9, 0.8, 0.7, 0.5, 0.5],
        ... })
        >>> truth = pd.DataFrame({"user_id": ["u1", "u1", "u2"], "item_id": ["b", "d", "c"]})
        >>> res = evaluate_table(recs, truth, k=2)
        >>> res.summary["value"].round(4).to_dict()  # doctest: +NORMALIZE_WHITESPACE
        {'Precision@2': 0.5, 'Recall@2': 0.75, 'NDCG@2': 0.5089, 'MAP@2': 0.375,
         'MRR@2': 0.5, 'HitRate@2': 1.0}

        u1's list is (a, b): one hit at rank 2 of two relevant items. u2's tie at 0.5 puts
        a before c, so its one relevant item is also at rank 2. NDCG@2 is the mean of
        (1/log2 3) / (1 + 1/log2 3) = 0.3869 and (1/log2 3) / 1 = 0.6309.
    """
    cuts = check_ks(ks if ks is not None else (k,))
    recs = _check_recommendations(recommendations)
    gold = _check_truth(truth, relevance_threshold, graded)
    _check_overlap(recs, gold)
    train_frame = _train_frame(train)
    extra = [] if train_frame is None else [train_frame[Columns.item]]
    if item_features is None and isinstance(train, Interactions):
        item_features = train.item_features
    if item_features is not None:
        extra.append(pd.Series(item_features.index.astype(str)))
    users = pd.Index(pd.unique(pd.concat([recs[Columns.user], gold[Columns.user]])))
    items = pd.Index(pd.unique(pd.concat([recs[Columns.item], gold[Columns.item], *extra])))
    lists = _lists(recs, users, items, max(cuts))
    matrix = _truth_matrix(gold, users, items, relevance_threshold)
    if matrix.nnz == 0:
        raise InputError(
            "No truth row counts as relevant"
            + (f" (rating >= {relevance_threshold})" if relevance_threshold is not None else "")
            + ": check the truth table and the threshold."
        )
    context = None
    if train_frame is not None:
        context = _context(train_frame, items, item_features)
    return score_lists(lists, matrix, users.to_numpy(), cuts, graded=graded, context=context)


def _require(frame: object, name: str, columns: Iterable[str]) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"The {name} must be a table (DataFrame); got {type(frame).__name__}.")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"The {name} table lacks column(s) {missing}; it has {list(frame.columns)}. "
            "Rename the columns in the file or map them on import."
        )
    for col in (Columns.user, Columns.item):
        bad = frame.index[frame[col].isna().to_numpy()]
        if len(bad):
            raise InputError(f"The {name} table has empty {col} values in rows {bad[:5].tolist()}.")
    return frame


def _numeric(frame: pd.DataFrame, col: str, name: str) -> np.ndarray:
    values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=np.float64)
    bad = frame.index[np.isnan(values)]
    if len(bad):
        raise InputError(
            f"Column {col!r} of the {name} table must be numbers; rows {bad[:5].tolist()} "
            "are empty or not numeric."
        )
    return values


def _check_recommendations(recs: pd.DataFrame) -> pd.DataFrame:
    _require(recs, "recommendations", (Columns.user, Columns.item))
    if Columns.rank not in recs.columns and Columns.score not in recs.columns:
        raise InputError(
            "The recommendations table needs a 'score' (higher first) or a 'rank' (1 first) "
            f"column to order each list; it has {list(recs.columns)}."
        )
    out = pd.DataFrame(
        {Columns.user: id_strings(recs[Columns.user]), Columns.item: id_strings(recs[Columns.item])}
    )
    dup = out.duplicated().to_numpy()
    if dup.any():
        rows = recs.index[dup][:5].tolist()
        raise InputError(
            f"The recommendations table repeats (user, item) pairs, e.g. rows {rows}; "
            "each item may appear once per user's list."
        )
    if Columns.rank in recs.columns:
        rank = _numeric(recs, Columns.rank, "recommendations")
        if ((rank < 1) | (rank != np.round(rank))).any():
            raise InputError("Column 'rank' of the recommendations must hold whole numbers >= 1.")
        out["_key"] = rank
    else:
        out["_key"] = -_numeric(recs, Columns.score, "recommendations")
    # ties go to the lower item id: numerically when the ids are numbers
    raw = recs[Columns.item]
    out["_tie"] = raw.to_numpy() if pd.api.types.is_numeric_dtype(raw) else out[Columns.item]
    return out


def _check_truth(truth: pd.DataFrame, threshold: float | None, graded: bool) -> pd.DataFrame:
    _require(truth, "truth", (Columns.user, Columns.item))
    has_rating = Columns.rating in truth.columns
    if (threshold is not None or graded) and not has_rating:
        raise InputError(
            "A relevance threshold or graded NDCG needs a 'rating' column in the truth table; "
            f"it has {list(truth.columns)}."
        )
    gains = _numeric(truth, Columns.rating, "truth") if has_rating else np.ones(len(truth))
    return pd.DataFrame(
        {
            Columns.user: id_strings(truth[Columns.user]).to_numpy(),
            Columns.item: id_strings(truth[Columns.item]).to_numpy(),
            "_gain": gains,
        }
    )


def _train_frame(train: pd.DataFrame | Interactions | None) -> pd.DataFrame | None:
    if train is None:
        return None
    frame = train.to_frame() if isinstance(train, Interactions) else train
    _require(frame, "train", (Columns.user, Columns.item))
    return pd.DataFrame(
        {c: id_strings(frame[c]).to_numpy() for c in (Columns.user, Columns.item)}
    ).drop_duplicates()


def id_strings(ids: pd.Series) -> pd.Series:
    """Ids as the strings the store keeps: whole floats lose their ``.0``.

    A table read with missing values, or written by a tool that stores ids as floats, has
    ``101.0`` where the store has ``"101"``; compared as text they would never match.
    """
    if pd.api.types.is_float_dtype(ids):
        values = ids.to_numpy(dtype=np.float64)
        whole = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < 2**53)
        if whole.all():
            return pd.Series(values.astype(np.int64).astype(str), index=ids.index)
    return ids.astype(str)


def _check_overlap(recs: pd.DataFrame, gold: pd.DataFrame) -> None:
    """Refuse lists that share no user, or no item of a real test set, with the truth.

    Every metric would be 0, and in practice that means the two tables spell their ids
    differently. A truth of fewer than 10 items may legitimately miss every list.
    """
    for col, what in ((Columns.user, "user"), (Columns.item, "item")):
        ours = np.asarray(pd.unique(recs[col]))
        theirs = np.asarray(pd.unique(gold[col]))
        if what == "item" and len(theirs) < 10:
            continue
        if not np.isin(ours, theirs).any():
            raise InputError(
                f"No {what} id of the recommendations appears in the truth table "
                f"(e.g. {ours[:3].tolist()} vs {theirs[:3].tolist()}), so every metric would "
                "be 0. Check that both tables use the same ids (text vs numbers, leading "
                "zeros, '101' vs '101.0')."
            )


def _lists(recs: pd.DataFrame, users: pd.Index, items: pd.Index, k: int) -> np.ndarray:
    """[n_users, k] item codes in list order, -1 where a list is shorter."""
    frame = recs.assign(_u=users.get_indexer(pd.Index(recs[Columns.user])))
    frame = frame.sort_values(["_u", "_key", "_tie"], kind="stable")
    pos = frame.groupby("_u", sort=False).cumcount().to_numpy()
    keep = pos < k
    out = np.full((len(users), k), -1, dtype=np.int64)
    out[frame["_u"].to_numpy()[keep], pos[keep]] = items.get_indexer(
        pd.Index(frame[Columns.item].to_numpy()[keep])
    )
    return out


def _truth_matrix(
    gold: pd.DataFrame, users: pd.Index, items: pd.Index, threshold: float | None
) -> sp.csr_matrix:
    best = gold.groupby([Columns.user, Columns.item], sort=False)["_gain"].max().reset_index()
    if threshold is not None:
        best = best[best["_gain"] >= threshold]
    rows = users.get_indexer(pd.Index(best[Columns.user]))
    cols = items.get_indexer(pd.Index(best[Columns.item]))
    return sp.csr_matrix(
        (best["_gain"].to_numpy(dtype=np.float64), (rows, cols)), shape=(len(users), len(items))
    )


def _context(
    train: pd.DataFrame, items: pd.Index, item_features: pd.DataFrame | None
) -> BeyondContext:
    popularity = np.bincount(
        items.get_indexer(pd.Index(train[Columns.item].to_numpy())), minlength=len(items)
    )
    feats = None if item_features is None else item_feature_matrix(item_features, items.to_numpy())
    return BeyondContext(popularity, int(train[Columns.user].nunique()), feats)
