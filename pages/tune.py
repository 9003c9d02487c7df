"""Tune page: search a model's hyper-parameters on a validation side, then run the best one."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from pages._ui import dataset_picker, get_store, page_header
from recsys_core.errors import InputError
from recsys_core.evaluation.ranking import accuracy_metrics
from recsys_core.jobs import runs as jobs
from recsys_core.jobs.worker import ensure_worker
from recsys_core.models.registry import REGISTRY
from recsys_core.tuning import (
    TuneResult,
    TuneSpec,
    best_run_spec,
    parse_tune_spec,
    space_table,
    table_overrides,
    tune,
)

METRICS = [m.label for m in accuracy_metrics([5, 10, 20])]


def tunable_models() -> list[str]:
    """Models with something to search by default (the others need ranges from the CLI)."""
    out = []
    for name in REGISTRY:
        try:
            space_table(name)
        except InputError:
            continue
        out.append(name)
    return out


def settings(dataset: str, version: int) -> TuneSpec | None:
    models = tunable_models()
    c1, c2, c3, c4 = st.columns(4)
    model = c1.selectbox("Model", models, index=models.index("ease"), key="tune_model")
    n_trials = c2.number_input("Trials", 1, 1000, 20, key="tune_trials")
    metric = c3.selectbox("Metric (maximised)", METRICS, index=METRICS.index("NDCG@10"))
    seed = c4.number_input("Seed", 0, 2**31 - 1, 42, key="tune_seed")
    st.caption(
        "Ranges come from the model's settings; narrow them, untick a row to keep its default, "
        "or type choices (comma-separated). Trials are scored on a validation share of train; "
        "the test side is kept for the final run."
    )
    table = st.data_editor(space_table(model), hide_index=True, key=f"tune_space_{model}")
    try:
        overrides, fixed = table_overrides(model, table)
        return parse_tune_spec(
            {"dataset": dataset, "version": version, "model": model, "n_trials": n_trials,
             "metric": metric, "seed": seed, "params": fixed,
             "overrides": {k: v.model_dump() for k, v in overrides.items()}}
        )  # fmt: skip
    except InputError as exc:
        st.error(str(exc))
        return None


def start(spec: TuneSpec) -> None:
    bar = st.progress(0.0, "Starting…")

    def progress(done: int, total: int, message: str = "") -> None:
        bar.progress(min(done / total, 1.0) if total else 0.0, message)

    try:
        result = tune(get_store(), spec, progress)
    except InputError as exc:
        st.error(str(exc))
        return
    st.session_state["tune_result"] = (spec, result)


def history_chart(trials: pd.DataFrame, metric: str) -> go.Figure:
    done = trials[trials["state"] == "complete"]
    fig = go.Figure()
    fig.add_scatter(x=done["number"], y=done["value"], mode="markers", name="trial")
    fig.add_scatter(x=done["number"], y=done["value"].cummax(), mode="lines", name="best so far")
    fig.update_layout(title="Trial history", xaxis_title="trial", yaxis_title=metric)
    return fig


def importance_chart(importances: dict[str, float]) -> go.Figure:
    frame = pd.DataFrame({"param": list(importances), "importance": list(importances.values())})
    return px.bar(frame, x="importance", y="param", orientation="h",
                  title="Parameter importance (fANOVA)")  # fmt: skip


def show(spec: TuneSpec, result: TuneResult) -> None:
    st.subheader(f"Best validation {result.metric}: {result.best_value:.4f}")
    st.json(result.best_params)
    st.caption(
        f"{len(result.trials)} trials, fitted on {result.n_fit:,} and scored on "
        f"{result.n_validation:,} validation interactions."
    )
    left, right = st.columns(2)
    left.plotly_chart(history_chart(result.trials, result.metric), width="stretch")
    if result.param_importances:
        right.plotly_chart(importance_chart(result.param_importances), width="stretch")
    else:
        right.caption("Importances need at least two completed trials with different values.")
    st.dataframe(result.trials, hide_index=True, width="stretch")
    if st.button("Train the best config as a run", type="primary", icon=":material/play_arrow:"):
        store = get_store()
        try:
            run = jobs.submit(store, best_run_spec(spec, result))
        except InputError as exc:
            st.error(str(exc))
            return
        ensure_worker(store)
        st.success(f"Queued run #{run.id}: {run.label}; follow it on the Train page.")


page_header("Tune")
picked = dataset_picker("tune")
if picked is not None:
    ds, version = picked
    spec = settings(ds.name, version.version)
    if st.button("Start", disabled=spec is None, icon=":material/tune:") and spec is not None:
        start(spec)
    if "tune_result" in st.session_state:
        show(*st.session_state["tune_result"])
