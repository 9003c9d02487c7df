"""Compare page: a leaderboard on one metric, significance against the best run, warnings
first; every metric, charts, segments and trade-offs folded below."""

from __future__ import annotations

import pages  # noqa: F401  (first, before heavy imports: see pages/__init__.py)

# isort: split

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from db.runs import Run
from pages._runs import no_runs_note, primary_metric, set_primary_metric
from pages._ui import dataset_picker, get_store, page_header, run_split
from recsys_core.columns import Columns
from recsys_core.data.io import read_table
from recsys_core.errors import InputError
from recsys_core.jobs import analysis
from recsys_core.jobs import compare as core
from recsys_core.jobs import leaderboard as board
from recsys_core.jobs.analysis import (
    compare_metrics,
    compare_segments,
    display_label,
    list_runs,
    per_user_values,
)
from recsys_core.jobs.context import run_spec
from recsys_core.jobs.labels import format_duration, run_duration_s
from recsys_core.jobs.runs import get_run
from recsys_core.jobs.selection import run_options
from recsys_core.jobs.summary import run_summary

SEGMENTS_SHOWN = 12

DEFINITIONS = """
Every accuracy metric is computed per test user on the top-K list, then averaged over users.
A *hit* is a recommended item in the user's held-out (test) items that count as relevant
(all of them, or those rated at least the run's relevance threshold).

- **Precision@K** = hits in the top K / K.
- **Recall@K** = hits in the top K / number of relevant items of the user.
- **NDCG@K**: binary gain (1 per hit), discounted by log2(rank + 1); divided by the ideal DCG,
  the DCG of a list with min(|relevant|, K) hits at the top.
- **MAP@K**: the mean over hit positions of Precision@rank, normalised by min(|relevant|, K).
- **MRR@K**: 1 / rank of the first hit (0 without a hit). **HitRate@K**: 1 if any hit.
- **Coverage@K**: share of the catalogue that appears in anyone's top K. **Gini@K**: how
  unequally recommendations are spread over items (0 even, 1 all on one item).
- **Novelty@K**: mean self-information, -log2(share of training users who had the item).
  **ARP@K**: mean training popularity of recommended items. **ILD@K**: mean pairwise
  distance between a list's items (from item features).

Users with no relevant test item are excluded (their metric is undefined). A user with no
recommendations scores 0. Intervals are 95% percentile bootstrap intervals over users.
Significance: paired Wilcoxon signed-rank tests on the users two runs share, Holm-corrected
over the runs tested against the reference (or over all pairs in the all-pairs table); the
rank-biserial correlation is its effect size (-1 to 1: the share of users where the run wins
minus the share where it loses, weighted by the size of the difference). P-values below
1e-16 are shown as `< 1e-16`.
"""


@st.cache_data(show_spinner=False, max_entries=16)
def _metrics(url: str, run_ids: tuple[int, ...]) -> pd.DataFrame:
    return compare_metrics(get_store(), run_ids)


@st.cache_data(show_spinner=False, max_entries=32)
def _per_user(url: str, run_ids: tuple[int, ...], metric: str) -> dict[str, pd.Series]:
    return per_user_values(get_store(), run_ids, metric)


@st.cache_data(show_spinner=False, max_entries=16)
def _segments(url: str, run_ids: tuple[int, ...]) -> pd.DataFrame:
    return compare_segments(get_store(), run_ids)


@st.cache_data(show_spinner="Scoring the uploaded table…", max_entries=4)
def _score_upload(
    data: bytes, filename: str, url: str, run_id: int, name: str
) -> core.ExternalScore:
    table = read_table(data, filename).frame
    run = get_run(get_store(), run_id)
    return core.score_external(table, run_split(run_id), run_spec(run), name)


@st.cache_data(show_spinner=False, max_entries=16)
def _grouped(long: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Every metric with its interval, one wide table per family and K: built once for all
    sessions (ten analysts on Compare rebuilt them on every rerun, a third of its time)."""
    return {
        name: core.metrics_with_ci(long[long["metric"].isin(labels)])
        for name, labels in board.metric_groups(list(long["metric"])).items()
    }


@st.cache_data(show_spinner=False, max_entries=16)
def _board(long: pd.DataFrame, metric: str, durations: dict[str, str]) -> pd.DataFrame:
    return board.leaderboard(long, metric, durations)


@st.cache_data(show_spinner=False, max_entries=16)
def _versus(url: str, run_ids: tuple[int, ...], metric: str, reference: str) -> pd.DataFrame:
    """Tests against the reference, cached per runs, metric and reference (not per rerun)."""
    return board.versus_reference(_values(url, run_ids, metric, None), reference, metric)


def pick_runs(dataset_name: str, dataset_id: int, version_id: int) -> list[Run]:
    done = [r for r in list_runs(get_store(), dataset_id) if r.status == "done"]
    here = [r for r in done if r.version_id == version_id]
    if len(done) > len(here):
        st.caption(
            f"{len(done) - len(here)} finished run(s) of {dataset_name} used another version: "
            "pick that version above to see them."
        )
    if not here:
        no_runs_note()
        return []
    options = run_options(here, primary_metric())
    chosen = st.multiselect("Runs", list(options), default=list(options), key="compare_runs")
    if not chosen:
        st.info("Pick at least one run.")
    return [options[c] for c in chosen]


def warnings_section(runs: list[Run]) -> None:
    """Everything that changes how to read the numbers, before the numbers."""
    for note in core.protocol_notes(runs, primary_metric()):
        st.warning(note, icon=":material/balance:")
    for run in runs:
        if ranker := analysis.ranker_note(run):
            st.warning(f"{display_label(run)}: {ranker}", icon=":material/trending_down:")
        for warning in run_summary(run).model.warnings:
            st.warning(f"{display_label(run)}: {warning}")
    for cold in analysis.cold_item_notes(runs):
        st.info(cold, icon=":material/ac_unit:")


def upload_section(runs: list[Run]) -> core.ExternalScore | None:
    with st.expander("Score your own recommendation table", icon=":material/upload_file:"):
        st.caption(
            f"CSV or Parquet with columns {Columns.user}, {Columns.item} and {Columns.score} "
            f"(higher first) or {Columns.rank} (1 first). It is scored against the test side of "
            "the chosen run's split, with that run's cut-offs and relevance threshold, and joins "
            "the tables and charts below."
        )
        file = st.file_uploader("Recommendation table", type=["csv", "parquet"], key="cmp_up")
        labels = [display_label(r) for r in runs]
        ref = st.selectbox("Use the split of run", labels, key="compare_ref")
        name = st.text_input("Name in the tables", value="uploaded", key="compare_name")
        if file is None or not name.strip():
            return None
        if name.strip() in labels:
            st.error(f"{name.strip()!r} is the name of a run; give the table another name.")
            return None
        run = runs[labels.index(ref)]
        try:
            ext = _score_upload(file.getvalue(), file.name, get_store().url, run.id, name.strip())
        except InputError as exc:
            st.error(str(exc))
            return None
        st.success(
            f"Scored **{name}**: lists for {ext.n_listed:,} of {ext.n_test_users:,} test users "
            "(users without a list score 0)."
        )
        return ext


def pick_metric(long: pd.DataFrame) -> str:
    """The primary metric, chosen once for the page (and kept for the other pages' pickers)."""
    labels = core.metric_order(list(long["metric"]))
    wanted = primary_metric()
    metric = st.selectbox(
        "Primary metric",
        labels,
        index=labels.index(wanted) if wanted in labels else 0,
        key="compare_metric",
        help="Ranks the runs, picks the best and drives the tests and charts below.",
    )
    set_primary_metric(str(metric))
    return str(metric)


def leaderboard_section(long: pd.DataFrame, metric: str, runs: list[Run]) -> list[str]:
    """The leaderboard; returns the run labels best first."""
    durations = {display_label(r): format_duration(run_duration_s(r)) for r in runs}
    table = _board(long, metric, durations)
    st.subheader(f"Leaderboard by {metric}")
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        height=36 * (len(table) + 1) + 4,  # every run visible, no inner scroll
        column_config={
            "": st.column_config.TextColumn("", width=30, help="Best on the primary metric"),
            metric: st.column_config.TextColumn(f"{metric} [95% CI]"),
        },
    )
    st.caption(
        f"{board.BEST} marks the best {metric}; intervals are 95% bootstrap intervals over "
        "users. Other metrics at every K are in *All metrics* below."
    )
    return table["run"].tolist() if not table.empty else []


def significance_section(url: str, ids: tuple[int, ...], metric: str, order: list[str],
                         ext: core.ExternalScore | None) -> None:  # fmt: skip
    values = _values(url, ids, metric, ext)
    if len(values) < 2:
        if not values:
            st.info(f"{metric} is measured on the whole catalogue, not per user: no tests.")
        return
    st.subheader(f"Which runs are as good as the best? ({metric})")
    ranked = [label for label in order if label in values]
    if st.session_state.get("compare_baseline_for") != metric:  # a new metric: its best run
        st.session_state.pop("compare_baseline", None)
        st.session_state["compare_baseline_for"] = metric
    reference = str(st.selectbox("Against", ranked, index=0, key="compare_baseline"))
    if ext is None:
        tests = _versus(url, ids, metric, reference)
    else:
        tests = board.versus_reference(values, reference, metric)
    st.markdown(board.summary_line(tests, reference, metric))
    st.dataframe(
        tests.drop(columns=["p_value"]),
        hide_index=True,
        width="stretch",
        column_config={
            "difference": st.column_config.NumberColumn(
                f"difference in {metric}", format="%+.4f", help="Run mean minus reference mean"
            ),
            "effect": st.column_config.NumberColumn(
                "effect (rank-biserial)", format="%+.2f", help="-1 to 1; positive: run wins"
            ),
            "p": st.column_config.TextColumn("p (Holm)"),
        },
    )
    if st.toggle("Test every pair", key="compare_all_pairs"):
        st.dataframe(board.pairwise_table(values), hide_index=True, width="stretch")


def details_section(long: pd.DataFrame, metric: str, ids: tuple[int, ...]) -> None:
    """Every metric grouped by family and K, charts, segments and trade-offs, folded."""
    for name, wide in _grouped(long).items():
        with st.expander(f"All metrics: {name}", icon=":material/table:"):
            st.dataframe(wide, width="stretch")
    with st.expander("By segment", icon=":material/groups:"):
        # a dozen grouped bar charts cost most of a rerun: drawn when asked for
        if st.toggle("Draw the segment charts", key="compare_segments"):
            segments_section(ids, metric)
    with st.expander("Accuracy vs beyond accuracy", icon=":material/scatter_plot:"):
        tradeoff_section(long, metric)


def charts_section(long: pd.DataFrame, values: dict[str, pd.Series], metric: str) -> None:
    c1, c2 = st.columns(2)
    c1.plotly_chart(_bar(long[long["metric"] == metric], metric), width="stretch")
    if values:
        c2.plotly_chart(_distribution(values, metric), width="stretch")
    else:
        c2.info(f"{metric} is measured on the whole catalogue, not per user: no distribution.")


def _bar(rows: pd.DataFrame, metric: str) -> go.Figure:
    """Built with graph objects, not plotly express: a quarter of the cost on every rerun."""
    error = {
        "type": "data",
        "array": (rows["ci_high"] - rows["value"]).fillna(0).to_numpy(),
        "arrayminus": (rows["value"] - rows["ci_low"]).fillna(0).to_numpy(),
    }
    bar = go.Bar(x=rows["label"].astype(str), y=rows["value"], error_y=error)
    fig = go.Figure(bar)
    fig.update_layout(title=f"{metric} with 95% intervals", yaxis_title=metric)
    fig.update_xaxes(type="category")
    return fig


def _distribution(values: dict[str, pd.Series], metric: str) -> go.Figure:
    boxes = [go.Box(y=v.to_numpy(), name=name, boxpoints=False) for name, v in values.items()]
    fig = go.Figure(boxes)
    fig.update_layout(title=f"{metric} per user", yaxis_title=metric, showlegend=False)
    return fig


def segments_section(run_ids: tuple[int, ...], metric: str) -> None:
    seg = _segments(get_store().url, run_ids)
    if seg.empty:
        return
    st.caption(
        "User views show the chosen metric; item views show Recall restricted to the items of "
        f"each segment. Views with many segments show the {SEGMENTS_SHOWN} largest."
    )
    cols = st.columns(2)
    for i, view in enumerate(dict.fromkeys(seg["view"])):
        part = seg[seg["view"] == view]
        shown = metric if metric in set(part["metric"]) else str(part["metric"].iloc[0])
        rows = core.largest_segments(part[part["metric"] == shown], SEGMENTS_SHOWN)
        cols[i % 2].plotly_chart(_segment_chart(rows, f"{view}: {shown}"), width="stretch")


def _segment_chart(rows: pd.DataFrame, title: str) -> go.Figure:
    return px.bar(
        rows,
        x="segment",
        y="mean",
        color="label",
        barmode="group",
        error_y=(rows["ci_high"] - rows["mean"]).fillna(0),
        error_y_minus=(rows["mean"] - rows["ci_low"]).fillna(0),
        hover_data=["n_users"],
        category_orders={"segment": list(dict.fromkeys(rows["segment"]))},
        title=title,
    )


def tradeoff_section(long: pd.DataFrame, metric: str) -> None:
    labels = core.metric_order(list(long["metric"]))
    accuracy = [m for m in labels if not core.is_beyond(m)]
    beyond = [m for m in labels if core.is_beyond(m)]
    if not accuracy or not beyond:
        st.caption("No beyond-accuracy metrics in these runs.")
        return
    c1, c2 = st.columns(2)
    y_default = metric if metric in accuracy else accuracy[0]
    y = c1.selectbox("Accuracy", accuracy, index=accuracy.index(y_default), key="trade_y")
    x_default = next((m for m in ("Coverage@10", "Novelty@10") if m in beyond), beyond[0])
    x = c2.selectbox("Beyond accuracy", beyond, index=beyond.index(x_default), key="trade_x")
    wide = long.pivot_table(index="label", columns="metric", values="value").reset_index()
    st.plotly_chart(_scatter(wide, x, y), width="stretch")


def _scatter(wide: pd.DataFrame, x: str, y: str) -> go.Figure:
    """Graph objects, not plotly express (as ``_bar``): a fraction of the cost per rerun."""
    point = go.Scatter(
        x=wide[x],
        y=wide[y],
        text=wide["label"].astype(str),
        mode="markers+text",
        textposition="top center",
        marker={"size": 12},
    )
    fig = go.Figure(point)
    fig.update_layout(title=f"{y} vs {x}", xaxis_title=x, yaxis_title=y)
    return fig


def compare(runs: list[Run]) -> None:
    warnings_section(runs)
    ext = upload_section(runs)
    ids = tuple(sorted(r.id for r in runs))
    url = get_store().url
    long = _metrics(url, ids)
    if ext is not None:
        long = pd.concat([long, ext.metrics], ignore_index=True)
    metric = pick_metric(long)
    order = leaderboard_section(long, metric, runs)
    significance_section(url, ids, metric, order, ext)
    charts_section(long, _values(url, ids, metric, ext), metric)
    details_section(long, metric, ids)
    modality_section(runs)


def modality_section(runs: list[Run]) -> None:
    """For fusion runs, what each modality contributes."""
    gates, ablation = analysis.modality_tables(runs)
    if gates.empty:
        return
    st.subheader("Modalities of the fusion models")
    c1, c2 = st.columns(2)
    c1.plotly_chart(
        px.bar(gates, x="modality", y="weight", color="label", barmode="group",
               title="Learned gate weight per modality"),
        width="stretch",
    )  # fmt: skip
    if not ablation.empty:
        c2.plotly_chart(
            px.bar(ablation, x="modality", y="drop", color="label", barmode="group",
                   title="Drop in NDCG@10 when the modality is removed"),
            width="stretch",
        )  # fmt: skip


def _values(
    url: str, ids: tuple[int, ...], metric: str, ext: core.ExternalScore | None
) -> dict[str, pd.Series]:
    values = dict(_per_user(url, ids, metric))
    if values and ext is not None and metric in ext.per_user.columns:
        values[str(ext.metrics["label"].iloc[0])] = ext.per_user[metric].dropna()
    return values


page_header("Compare")
picked = dataset_picker("compare")
if picked is not None:
    ds, version = picked
    chosen = pick_runs(ds.name, ds.id, version.id)
    if chosen:
        compare(chosen)
with st.expander("How the metrics are defined", icon=":material/menu_book:"):
    st.markdown(DEFINITIONS)
