"""Read-side helpers for the Compare, Preview and Export pages: run splits, user views, overlaps."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from db import Store
from db.runs import Run, RunRepository
from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.evaluation import evaluate_table, segment_users
from recsys_core.evaluation.significance import bootstrap_ci
from recsys_core.jobs.analysis import display_label
from recsys_core.jobs.datasets import load_interactions
from recsys_core.jobs.runs import RunSpec
from recsys_core.splitting import Split, split

#: Families of beyond-accuracy metrics (the rest measure accuracy).
BEYOND = ("Coverage", "Novelty", "ILD", "Gini", "ARP")
#: Order of metric families in tables: accuracy first, as analysts read them.
FAMILY_ORDER = ("Precision", "Recall", "NDCG", "MAP", "MRR", "HitRate", *BEYOND)
HIT = "✓"
METRIC_COLUMNS = ["run", "label", "metric", "value", "ci_low", "ci_high"]


# --------------------------------------------------------------------------- runs and splits
def run_spec(run: Run) -> RunSpec:
    return RunSpec.model_validate(run.spec)


def run_split(store: Store, run: Run) -> Split:
    """The run's train/test split, recomputed from its stored spec.

    Splits are pure functions of data, config and seed, so nothing but the spec is stored.
    """
    spec = run_spec(run)
    return split(load_interactions(store, run.dataset_id, spec.version), spec.split, spec.seed)


def split_key(run: Run) -> tuple[int, str, int]:
    """What determines a run's split: runs with equal keys share train and test sides."""
    spec = run_spec(run)
    return run.version_id, spec.split.model_dump_json(), spec.seed


def run_recommendations(
    store: Store, run_id: int, users: Sequence[str] | None = None
) -> pd.DataFrame:
    """The stored top-N of a run (user_id, item_id, score, rank, reason), by user then rank.

    ``users`` reads only those users' rows: a page showing one user should not load (and cache)
    every user's list, which is millions of rows at 100k users.
    """
    with store.session() as s:
        return RunRepository(s).recommendations(run_id, users)


def held_out_users(parts: Split) -> list[str]:
    """Users with held-out interactions, numeric ids in numeric order."""
    ids = pd.Series(np.unique(parts.test.user_ids[parts.test.users]).astype(str))
    key = pd.to_numeric(ids, errors="coerce")
    order = np.lexsort((ids.to_numpy(), key.fillna(np.inf).to_numpy()))
    return ids.iloc[order].tolist()


def find_users(users: Sequence[str], query: str, limit: int = 1000) -> list[str]:
    """Users whose id contains ``query`` (case-insensitive); an exact match comes first."""
    q = query.strip().lower()
    if not q:
        return list(users[:limit])
    found = [u for u in users if q in u.lower()]
    found.sort(key=lambda u: u.lower() != q)
    return found[:limit]


# --------------------------------------------------------------------------- one user
@dataclass(frozen=True)
class UserView:
    """One user's side of a split, with item metadata for display.

    Attributes:
        user: the external user id.
        history: training interactions, latest first when there are timestamps.
        held_out: the test interactions (what a good model would recommend).
        relevant: the held-out item ids, which count as hits.
    """

    user: str
    history: pd.DataFrame
    held_out: pd.DataFrame
    relevant: frozenset[str]


def user_view(parts: Split, user: str) -> UserView:
    """History and held-out items of ``user`` in a split.

    Raises:
        InputError: the id is not in the dataset, or the user has no held-out interactions.
    """
    user = str(user).strip()
    (idx,) = parts.train.user_index([user])
    if idx < 0:
        raise InputError(
            f"No user {user!r} in this dataset. Ids are matched exactly (case matters); "
            "pick one from the list of test users."
        )
    test_rows = parts.test.users == idx
    if not test_rows.any():
        raise InputError(
            f"User {user!r} has no held-out interactions in this run's split, so the runs "
            "stored no recommendations for them; pick one of the listed test users."
        )
    history = _user_rows(parts.train, parts.train.users == idx)
    held_out = _user_rows(parts.test, test_rows)
    return UserView(user, history, held_out, frozenset(held_out[Columns.item]))


def _user_rows(inter: Interactions, mask: np.ndarray) -> pd.DataFrame:
    frame = inter.subset(mask).to_frame().drop(columns=[Columns.user])
    if Columns.timestamp in frame:
        frame = frame.sort_values(Columns.timestamp, ascending=False, ignore_index=True)
        frame[Columns.timestamp] = pd.to_datetime(frame[Columns.timestamp], unit="s")
    return with_item_metadata(frame, inter.item_features)


def with_item_metadata(frame: pd.DataFrame, features: pd.DataFrame | None) -> pd.DataFrame:
    """``frame`` with the item metadata columns joined on item id (lists shown as "a, b")."""
    if features is None or frame.empty:
        return frame.reset_index(drop=True)
    meta = features.reindex(pd.Index(frame[Columns.item].astype(str))).reset_index(drop=True)
    for col in meta.columns:
        if meta[col].dtype == object:
            meta[col] = meta[col].map(_display)
    clash = [c for c in meta.columns if c in frame.columns]
    meta = meta.drop(columns=clash)
    return pd.concat([frame.reset_index(drop=True), meta], axis=1)


def _display(value: object) -> object:
    if isinstance(value, list | tuple | np.ndarray):
        return ", ".join(map(str, value))
    return value


def user_lists(
    recommendations: Mapping[str, pd.DataFrame],
    view: UserView,
    k: int,
    features: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Each run's top-``k`` for the user, with a ✓ in the ``hit`` column for held-out items.

    Args:
        recommendations: display label -> that run's stored top-N (all users, or only this
            user's rows as ``run_recommendations(..., users=[user])`` returns them).
        view: the user's split view; its held-out items are the hits.
        k: list length to show.
        features: item metadata to join (title, genres...).
    """
    out = {}
    for label, recs in recommendations.items():
        mine = recs[(recs[Columns.user] == view.user) & (recs[Columns.rank] <= k)]
        mine = mine.sort_values(Columns.rank)[[Columns.rank, Columns.item, Columns.score]]
        hits = mine[Columns.item].isin(view.relevant).to_numpy()
        mine.insert(1, "hit", np.where(hits, HIT, ""))
        out[label] = with_item_metadata(mine, features)
    return out


@dataclass(frozen=True)
class Overlap:
    """How much the runs' lists agree: Jaccard index and shared item counts per pair."""

    jaccard: pd.DataFrame
    shared: pd.DataFrame


def list_overlap(lists: Mapping[str, Sequence[str]]) -> Overlap:
    """Pairwise overlap of item lists (the diagonal compares a list with itself)."""
    names = list(lists)
    sets = {n: set(map(str, lists[n])) for n in names}
    jac = pd.DataFrame(np.nan, index=names, columns=names)
    shared = pd.DataFrame(0, index=names, columns=names)
    for a in names:
        for b in names:
            both, either = len(sets[a] & sets[b]), len(sets[a] | sets[b])
            shared.loc[a, b] = both
            jac.loc[a, b] = both / either if either else np.nan
    return Overlap(jac, shared)


# --------------------------------------------------------------------------- compare
def metric_order(labels: Sequence[str]) -> list[str]:
    """Metric labels sorted by cut-off, then family (accuracy first), then name."""

    def key(label: str) -> tuple[int, int, str]:
        family, _, k = label.partition("@")
        rank = FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER)
        return (int(k) if k.isdigit() else 0, rank, label)

    return sorted(dict.fromkeys(labels), key=key)


def is_beyond(label: str) -> bool:
    return label.partition("@")[0] in BEYOND


def metrics_with_ci(long: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Wide text table, one row per run label: "0.312 [0.298, 0.327]" (value, 95% CI)."""
    if long.empty:
        return pd.DataFrame()
    cols = (long[c].to_numpy(np.float64) for c in ("value", "ci_low", "ci_high"))
    text = [_with_ci(v, lo, hi, digits) for v, lo, hi in zip(*cols, strict=True)]
    wide = long.assign(text=text).pivot(index="label", columns="metric", values="text")
    labels = list(dict.fromkeys(long["label"]))
    return wide.reindex(index=labels, columns=metric_order(list(wide.columns))).fillna("")


def _with_ci(value: float, low: float, high: float, digits: int) -> str:
    if np.isnan(value):
        return ""
    if np.isnan(low) or np.isnan(high):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def pvalue_matrix(tests: pd.DataFrame, column: str = "wilcoxon_p_holm") -> pd.DataFrame:
    """Square symmetric matrix of a p-value column of ``paired_tests`` (NaN diagonal)."""
    names = list(dict.fromkeys([*tests["model_a"], *tests["model_b"]]))
    out = pd.DataFrame(np.nan, index=names, columns=names)
    for a, b, p in tests[["model_a", "model_b", column]].itertuples(index=False):
        out.loc[a, b] = out.loc[b, a] = p
    return out


def significance_sentences(tests: pd.DataFrame, metric: str, alpha: float = 0.05) -> list[str]:
    """Plain-words verdict on every pair (Holm-corrected Wilcoxon p against ``alpha``)."""
    lines = []
    for r in tests.to_dict(orient="records"):
        a, b, p = str(r["model_a"]), str(r["model_b"]), float(r["wilcoxon_p_holm"])
        hi, lo = (a, b) if r["mean_diff"] >= 0 else (b, a)
        where = f"{metric}, {r['n_users']:,} shared users, Holm-corrected Wilcoxon p = {p:.3g}"
        if np.isnan(p):
            lines.append(f"{a} vs {b}: too few users to test ({where}).")
        elif p < alpha:
            lines.append(f"{hi} scores higher than {lo}, significant at {alpha:g} ({where}).")
        else:
            lines.append(f"{a} vs {b}: no significant difference at {alpha:g} ({where}).")
    return lines


def largest_segments(rows: pd.DataFrame, n: int = 12) -> pd.DataFrame:
    """The ``n`` segments with the most users (summed over runs), in their original order.

    Category views (tags, genres) can have hundreds of segments; a chart of all is unreadable.
    """
    size = rows.groupby("segment", sort=False)["n_users"].sum()
    keep = set(size.nlargest(n).index) if len(size) > n else set(size.index)
    return rows[rows["segment"].isin(keep)]


def protocol_notes(runs: Sequence[Run], metric: str = "NDCG@10") -> list[str]:
    """Warnings that keep a comparison honest: mixed protocols, splits, or sampled-vs-full order."""
    notes = []
    protocols = {run_spec(r).protocol for r in runs}
    if len(protocols) > 1:
        notes.append(
            "These runs mix the full and the sampled ranking protocol. Sampled metrics rank each "
            "relevant item against a few random negatives: they flatter models, can reorder them "
            "and are not comparable with full-ranking numbers. Compare runs of one protocol."
        )
    if len({split_key(r) for r in runs}) > 1:
        notes.append(
            "These runs use different splits (dataset version, protocol settings or seed), so "
            "differences mix model and data; paired tests use only the users they share."
        )
    flipped = _order_flip(runs, metric)
    if flipped:
        notes.append(flipped)
    return notes


def _order_flip(runs: Sequence[Run], metric: str) -> str | None:
    """A note when the sampled protocol orders the models differently from the full one."""
    by_protocol: dict[str, dict[str, float]] = {"full": {}, "sampled": {}}
    for r in runs:
        value = r.summary.get("metrics", {}).get(metric)
        if value is not None:
            by_protocol[run_spec(r).protocol].setdefault(r.model, float(value))
    both = sorted(set(by_protocol["full"]) & set(by_protocol["sampled"]))
    if len(both) < 2:
        return None
    orders = {p: sorted(both, key=by_protocol[p].__getitem__, reverse=True) for p in by_protocol}
    if orders["full"] == orders["sampled"]:
        return None
    return (
        f"The sampled protocol ranks the models differently from full ranking on {metric}: "
        f"full {' > '.join(orders['full'])}, sampled {' > '.join(orders['sampled'])}. "
        "Trust the full ranking."
    )


@dataclass(frozen=True)
class ExternalScore:
    """An uploaded recommendation table scored like a run.

    Attributes:
        metrics: rows shaped like ``compare_metrics`` (run is -1), for the tables and charts.
        per_user: per-user metric values indexed by user id, for significance tests.
        n_listed: test users that have a list in the table.
        n_test_users: users with held-out interactions (those without a list score 0).
    """

    metrics: pd.DataFrame
    per_user: pd.DataFrame
    n_listed: int
    n_test_users: int


def score_external(table: pd.DataFrame, parts: Split, spec: RunSpec, name: str) -> ExternalScore:
    """Score an analyst's table against a run's test side with the run's cut-offs and threshold.

    Raises:
        InputError: from ``evaluate_table`` (missing columns, duplicates, bad numbers).
    """
    truth = parts.test.to_frame()
    result = evaluate_table(
        table,
        truth,
        ks=spec.ks,
        relevance_threshold=spec.relevance_threshold,
        train=parts.train,
    )
    per_user = result.per_user.set_index(Columns.user)
    rows = []
    for metric, value in result.summary["value"].items():
        low = high = np.nan
        if metric in per_user.columns and per_user[metric].notna().sum() > 1:
            low, high = bootstrap_ci(per_user[metric].to_numpy(np.float64), random_state=spec.seed)
        rows.append({"run": -1, "label": name, "metric": metric, "value": value,
                     "ci_low": low, "ci_high": high})  # fmt: skip
    listed = pd.Index(table[Columns.user].astype(str).unique())
    test_ids = pd.Index(truth[Columns.user].unique())
    return ExternalScore(
        pd.DataFrame(rows, columns=METRIC_COLUMNS),
        per_user,
        int(test_ids.isin(listed).sum()),
        len(test_ids),
    )


# --------------------------------------------------------------------------- export
def activity_groups(parts: Split) -> dict[str, list[str]]:
    """Test users by training-activity bucket (0–4, 5–19, ... interactions), empty ones left out."""
    labels = segment_users(parts.train, "activity")
    labels = labels[labels.index.isin(held_out_users(parts))]
    groups = labels.groupby(labels, observed=True).groups
    return {str(k): sorted(map(str, v)) for k, v in groups.items() if len(v)}


def parse_user_ids(text: str) -> list[str]:
    """Ids pasted by an analyst: split on commas, semicolons, whitespace; duplicates dropped."""
    return list(dict.fromkeys(t for t in re.split(r"[,;\s]+", text or "") if t))


def unmatched_ids(table: pd.DataFrame, ids: Sequence[str]) -> list[str]:
    """Asked-for ids that have no rows in ``table`` (unknown users or not in any test set)."""
    have = set(table[Columns.user].astype(str))
    return [i for i in ids if i not in have]


def stored_top_n(runs: Sequence[Run]) -> int:
    """The longest list every one of ``runs`` stored, i.e. the largest K they can export."""
    if not runs:
        raise InputError("Pick at least one finished run.")
    return min(run_spec(r).n_recommendations for r in runs)


def run_options(runs: Sequence[Run]) -> dict[str, Run]:
    """Finished runs by their display label, newest first, for multiselects."""
    return {display_label(r): r for r in runs if r.status == "done"}
