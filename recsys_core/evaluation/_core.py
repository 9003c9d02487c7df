"""The shared engine under every evaluate function: truth matrix, lists in, result out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_core.arrays import pair_codes, unique_sorted
from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.evaluation.beyond import (
    CATALOGUE_METRICS,
    LIST_METRICS,
    BeyondContext,
    IntraListDiversity,
)
from recsys_core.evaluation.ranking import accuracy_metrics, ranking_data


@dataclass(frozen=True)
class EvaluationResult:
    """A tidy summary plus the per-user values that feed significance tests and segments.

    Attributes:
        summary: index = metric label ("NDCG@10"), column ``value`` (and ``model`` when
            several models were evaluated, one row per model and metric).
        per_user: one row per evaluated user (column ``Columns.user``, plus ``model`` when
            several), one column per per-user metric label.
    """

    summary: pd.DataFrame
    per_user: pd.DataFrame

    def per_user_series(self, label: str) -> dict[str, pd.Series]:
        """One metric's per-user values by model, indexed by user (for ``paired_tests``).

        A single-model result has no model names; its series comes back under "model".
        """
        if label not in self.per_user.columns:
            raise InputError(f"No per-user values for {label!r}; have {self.metric_labels()}.")
        frame = self.per_user
        if Columns.model not in frame.columns:
            return {"model": frame.set_index(Columns.user)[label]}
        return {
            str(name): group.set_index(Columns.user)[label]
            for name, group in frame.groupby(Columns.model, sort=False)
        }

    def metric_labels(self) -> list[str]:
        """Labels with per-user values, in summary order."""
        skip = {Columns.user, Columns.model}
        return [c for c in self.per_user.columns if c not in skip]

    def wide(self) -> pd.DataFrame:
        """Metrics as rows and models as columns, for a comparison table."""
        if Columns.model not in self.summary.columns:
            return self.summary[["value"]]
        frame = self.summary.reset_index()
        table = frame.pivot(index="metric", columns=Columns.model, values="value")
        return table.reindex(
            index=pd.unique(frame["metric"]), columns=pd.unique(frame[Columns.model])
        )


def check_ks(ks: Iterable[int]) -> tuple[int, ...]:
    """Cut-offs as a sorted tuple of distinct whole numbers >= 1."""
    given = [ks] if isinstance(ks, int | np.integer) else list(ks)
    ok = [isinstance(k, int | np.integer) and not isinstance(k, bool) and k >= 1 for k in given]
    if not given or not all(ok):
        raise InputError(f"Cut-offs k must be whole numbers of at least 1; got {ks}.")
    return tuple(sorted({int(k) for k in given}))


def relevant_matrix(
    test: Interactions, threshold: float | None, seen: Interactions | None = None
) -> sp.csr_matrix:
    """User x item matrix of the relevant test pairs, data = the pair's best rating (its gain).

    Repeated pairs keep their largest value. ``threshold`` keeps ratings >= it. Pairs in
    ``seen`` (the training side) are dropped: lists that exclude seen items could never hold
    them, so counting them would only lower every model's recall alike.
    """
    n_items = test.n_items
    codes = test.users.astype(np.int64) * n_items + test.items
    order = np.lexsort((test.values, codes))
    sc = codes[order]
    last = np.r_[sc[1:] != sc[:-1], True] if len(sc) else np.zeros(0, dtype=bool)
    uniq, vals = sc[last], test.values[order][last].astype(np.float64)
    keep = np.ones(len(uniq), dtype=bool)
    if threshold is not None:
        keep &= vals >= threshold
    if seen is not None and len(seen):
        seen_codes = unique_sorted(pair_codes(seen.users, seen.items, n_items))
        keep &= ~np.isin(uniq, seen_codes, assume_unique=True)
    uniq, vals = uniq[keep], vals[keep]
    shape = (test.n_users, n_items)
    return sp.csr_matrix((vals, (uniq // n_items, uniq % n_items)), shape=shape)


def score_lists(
    top_items: np.ndarray,
    truth: sp.csr_matrix,
    user_labels: np.ndarray,
    ks: Sequence[int],
    *,
    graded: bool = False,
    context: BeyondContext | None = None,
) -> EvaluationResult:
    """Every metric for lists whose row r belongs to truth row r and user ``user_labels[r]``.

    Only rows with at least one relevant item are evaluated (kept in ``per_user``); the
    beyond-accuracy metrics are computed on the same users' lists.
    """
    keep = np.diff(truth.indptr) > 0
    top_items, truth, user_labels = top_items[keep], truth[keep], np.asarray(user_labels)[keep]
    data = ranking_data(top_items, np.arange(len(top_items)), truth, graded=graded)
    columns: dict[str, np.ndarray] = {}
    summary: dict[str, float] = {}
    for metric in accuracy_metrics(ks, graded=graded):
        values = metric.per_user(data)
        columns[metric.label], summary[metric.label] = values, metric.aggregate(values)
    for k in ks if context is not None else ():
        assert context is not None
        for cls in LIST_METRICS:
            if cls is IntraListDiversity and context.features is None:
                continue  # no item features: diversity is skipped, not reported as NaN
            lm = cls(k)
            values = lm.per_user(top_items, context)
            columns[lm.label], summary[lm.label] = values, lm.aggregate(values)
        for gcls in CATALOGUE_METRICS:
            gm = gcls(k)
            summary[gm.label] = gm.value(top_items, context)
    per_user = pd.DataFrame({Columns.user: user_labels, **columns})
    frame = pd.DataFrame({"value": pd.Series(summary, dtype=np.float64)})
    frame.index.name = "metric"
    return EvaluationResult(frame, per_user)


def combine(results: dict[str, EvaluationResult]) -> EvaluationResult:
    """One result for several models: a ``model`` column on both tables (none for one)."""
    if len(results) == 1:
        return next(iter(results.values()))
    summaries, per_users = [], []
    for name, res in results.items():
        summaries.append(res.summary.assign(**{Columns.model: name}))
        per_users.append(res.per_user.assign(**{Columns.model: name}))
    summary = pd.concat(summaries)[[Columns.model, "value"]]
    per_user = pd.concat(per_users, ignore_index=True)
    cols = [Columns.user, Columns.model] + [
        c for c in per_user.columns if c not in (Columns.user, Columns.model)
    ]
    return EvaluationResult(summary, per_user[cols])
