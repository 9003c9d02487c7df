"""Compare page: metrics with intervals, significance, segments, trade-offs and uploaded lists."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from db.runs import Run
from pages._ui import dataset_picker, get_store, page_header, run_split
from recsys_core.columns import Columns
from recsys_core.data.io import read_table
from recsys_core.errors import InputError
from recsys_core.evaluation import paired_tests
from recsys_core.jobs import analysis
from recsys_core.jobs import compare as core
from recsys_core.jobs.analysis import (
    compare_metrics,
    compare_segments,
    display_label,
    list_runs,
    per_user_values,
)
from recsys_core.jobs.context import run_spec
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
over all pairs; the rank-biserial correlation is its effect size (-1 to 1).
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


def pick_runs(dataset_name: str, dataset_id: int, version_id: int) -> list[Run]:
    done = [r for r in list_runs(get_store(), dataset_id) if r.status == "done"]
    here = [r for r in done if r.version_id == version_id]
    if len(done) > len(here):
        st.caption(
            f"{len(done) - len(here)} finished run(s) of {dataset_name} used another version: "
            "pick that version above to see them."
        )
    if not here:
        st.info("No finished runs on this version yet: queue some on the Train page.")
        return []
    options = run_options(here)
    chosen = st.multiselect("Runs", list(options), default=list(options), key="compare_runs")
    if not chosen:
        st.info("Pick at least one run.")
    return [options[c] for c in chosen]


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


def metrics_section(long: pd.DataFrame) -> str:
    st.subheader("Metrics with 95% intervals")
    st.dataframe(core.metrics_with_ci(long), width="stretch")
    labels = core.metric_order(list(long["metric"]))
    return st.selectbox(
        "Metric",
        labels,
        index=labels.index("NDCG@10") if "NDCG@10" in labels else 0,
        key="compare_metric",
    )


def charts_section(long: pd.DataFrame, values: dict[str, pd.Series], metric: str) -> None:
    c1, c2 = st.columns(2)
    c1.plotly_chart(_bar(long[long["metric"] == metric], metric), width="stretch")
    if values:
        c2.plotly_chart(_distribution(values, metric), width="stretch")
    else:
        c2.info(f"{metric} is measured on the whole catalogue, not per user: no distribution.")


def _bar(rows: pd.DataFrame, metric: str) -> go.Figure:
    fig = px.bar(
        rows,
        x="label",
        y="value",
        color="label",
        error_y=(rows["ci_high"] - rows["value"]).fillna(0),
        error_y_minus=(rows["value"] - rows["ci_low"]).fillna(0),
        title=f"{metric} with 95% intervals",
    )
    fig.update_layout(xaxis_title="", yaxis_title=metric, showlegend=False)
    return fig


def _distribution(values: dict[str, pd.Series], metric: str) -> go.Figure:
    long = pd.concat([v.rename(metric).to_frame().assign(run=name) for name, v in values.items()])
    fig = px.box(long, x="run", y=metric, points=False, title=f"{metric} per user")
    fig.update_layout(xaxis_title="")
    return fig


def significance_section(values: dict[str, pd.Series], metric: str) -> None:
    st.subheader(f"Are the differences real? ({metric})")
    if len(values) < 2:
        st.info("Pick at least two runs with per-user values of this metric to test them.")
        return
    tests = paired_tests(values)
    c1, c2 = st.columns([2, 3])
    matrix = core.pvalue_matrix(tests)
    fig = px.imshow(
        matrix, text_auto=".2g", zmin=0, zmax=1, color_continuous_scale="Blues_r", aspect="auto"
    )
    fig.update_layout(title="Holm-corrected Wilcoxon p (small = significant)")
    c1.plotly_chart(fig, width="stretch")
    c2.dataframe(tests, hide_index=True, width="stretch")
    for line in core.significance_sentences(tests, metric):
        c2.markdown(f"- {line}")


def segments_section(run_ids: tuple[int, ...], metric: str) -> None:
    seg = _segments(get_store().url, run_ids)
    if seg.empty:
        return
    st.subheader("By segment")
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
        return
    st.subheader("Accuracy vs beyond accuracy")
    c1, c2 = st.columns(2)
    y_default = metric if metric in accuracy else accuracy[0]
    y = c1.selectbox("Accuracy", accuracy, index=accuracy.index(y_default), key="trade_y")
    x_default = next((m for m in ("Coverage@10", "Novelty@10") if m in beyond), beyond[0])
    x = c2.selectbox("Beyond accuracy", beyond, index=beyond.index(x_default), key="trade_x")
    wide = long.pivot_table(index="label", columns="metric", values="value").reset_index()
    fig = px.scatter(wide, x=x, y=y, text="label", title=f"{y} vs {x}")
    fig.update_traces(textposition="top center", marker={"size": 12})
    st.plotly_chart(fig, width="stretch")


def compare(runs: list[Run]) -> None:
    for note in core.protocol_notes(runs):
        st.warning(note, icon=":material/balance:")
    ext = upload_section(runs)
    ids = tuple(sorted(r.id for r in runs))
    url = get_store().url
    long = _metrics(url, ids)
    if ext is not None:
        long = pd.concat([long, ext.metrics], ignore_index=True)
    metric = metrics_section(long)
    values = _values(url, ids, metric, ext)
    charts_section(long, values, metric)
    significance_section(values, metric)
    segments_section(ids, metric)
    tradeoff_section(long, metric)
    modality_section(runs)


def modality_section(runs: list[Run]) -> None:
    """Cold-item caveats and, for fusion runs, what each modality contributes."""
    for note in analysis.cold_item_notes(runs):
        st.info(note, icon=":material/ac_unit:")
    for run in runs:
        for warning in run_summary(run).model.warnings:
            st.warning(f"{analysis.display_label(run)}: {warning}")
        if note := analysis.ranker_note(run):
            st.warning(f"{analysis.display_label(run)}: {note}", icon=":material/trending_down:")
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
