"""Tune page: search a model's hyper-parameters on a validation side, then run the best one."""

from __future__ import annotations

import pages  # noqa: F401  (first, before heavy imports: see pages/__init__.py)

# isort: split

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from pages._tune_auto import auto_settings, auto_tables, show_auto
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
from recsys_core.tuning_auto import AutoResult, AutoSpec, find_best

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


VALIDATION_NOTE = (
    "Validation is not test: trials are scored on a share carved out of the training data "
    "(fewer, different interactions) with models fitted on the rest of train; the run of the "
    "best config is refitted on all of train and scored on the test side, so its numbers "
    "differ. Rank trials by validation; compare runs by test."
)


@dataclass
class TuneJob:
    """A search running in a thread of this app process: the page polls it, Cancel stops it.

    Attributes are written by the search thread and read by the page; each write replaces a
    whole value, so a reader never sees half an update.
    """

    spec: TuneSpec | AutoSpec
    stop: threading.Event = field(default_factory=threading.Event)
    trials: pd.DataFrame | None = None
    #: "Find the best model": the families ranked so far and the runs trained so far.
    tables: tuple[pd.DataFrame | None, pd.DataFrame | None] = (None, None)
    progress: tuple[int, int, str] = (0, 0, "starting")
    result: TuneResult | AutoResult | None = None
    error: str | None = None
    thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


def start(spec: TuneSpec | AutoSpec) -> TuneJob:
    """Start the search (one model, or every family) in a daemon thread; the page stays
    usable and shows it live."""
    job = TuneJob(spec)
    store = get_store()  # fetched here: cached resources need the page's script context

    def report(done: int, total: int, message: str = "") -> None:
        job.progress = (done, total, message)

    def work() -> None:
        try:
            if isinstance(spec, AutoSpec):
                job.result = find_best(store, spec, report, stop=stop, on_update=job_tables)
            else:
                job.result = tune(store, spec, report, stop=stop, on_trial=job_trials, detail=True)
        except InputError as exc:
            job.error = str(exc)
        except Exception as exc:  # shown on the page rather than lost in a thread
            job.error = f"The search failed: {type(exc).__name__}: {exc}"

    def job_trials(frame: pd.DataFrame) -> None:
        job.trials = frame

    def job_tables(families: pd.DataFrame, runs: pd.DataFrame) -> None:
        job.tables = (families, runs)

    stop = _stop_rule(job)

    name = "auto" if isinstance(spec, AutoSpec) else spec.model
    job.thread = threading.Thread(target=work, name=f"tune-{name}", daemon=True)
    job.thread.start()
    return job


def _stop_rule(job: TuneJob) -> Callable[[], bool]:
    """Stop on Cancel, or once the browser session that started the search is gone (a closed
    tab or a reload): nobody could see or use its trials, and they hold a shared CPU."""
    ctx = get_script_run_ctx()
    session = ctx.session_id if ctx is not None else None

    def stop() -> bool:
        if job.stop.is_set():
            return True
        if session is None or not Runtime.exists():
            return False
        return not Runtime.instance().is_active_session(session)

    return stop


@st.fragment(run_every=1)
def live(job: TuneJob) -> None:
    """Progress, Cancel and the trials so far; refreshes itself each second while it runs."""
    if not job.running:
        if st.session_state.get("tune_shown") is not job:
            st.session_state["tune_shown"] = job
            st.rerun(scope="app")  # the finished search: the whole page shows its results
        return
    done, total, message = job.progress
    c1, c2 = st.columns([5, 1])
    label = "Stopping after the current fit…" if job.stop.is_set() else message or "starting"
    c1.progress(min(done / total, 1.0) if total else 0.0, label)
    if c2.button("Cancel", key="tune_cancel", icon=":material/stop:", disabled=job.stop.is_set()):
        job.stop.set()
    if isinstance(job.spec, AutoSpec):
        auto_tables(*job.tables, job.spec.metric)
    else:
        trials_so_far(job.trials, job.spec.metric)


def trials_so_far(trials: pd.DataFrame | None, metric: str) -> None:
    st.subheader("Trials so far")
    if trials is None or trials.empty:
        st.caption("The first trial is running.")
        return
    left, right = st.columns(2)
    left.plotly_chart(history_chart(trials, metric), width="stretch", key="tune_live_chart")
    right.dataframe(trials, hide_index=True, width="stretch", key="tune_live_table")


def finished(job: TuneJob) -> None:
    """The outcome of the last search: its error, or its results (partial when cancelled)."""
    if job.error is not None:
        st.error(job.error)
        return
    if job.result is None:
        return
    if isinstance(job.result, AutoResult):
        assert isinstance(job.spec, AutoSpec)
        show_auto(job.spec, job.result)
        return
    assert isinstance(job.spec, TuneSpec)
    if job.result.cancelled:
        st.info(
            f"Cancelled after {len(job.result.trials)} of {job.spec.n_trials} trials; "
            "the results below cover the trials that ran."
        )
    show(job.spec, job.result)


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
    st.json(
        {k: float(f"{v:.4g}") if isinstance(v, float) else v for k, v in result.best_params.items()}
    )
    st.caption(
        f"{len(result.trials)} trials, fitted on {result.n_fit:,} and scored on "
        f"{result.n_validation:,} validation interactions. {VALIDATION_NOTE}"
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
    mode = st.radio("Search", ["One model", "Find the best model"], horizontal=True,
                    key="tune_mode")  # fmt: skip
    search: TuneSpec | AutoSpec | None = (
        auto_settings(ds.name, version.version)
        if mode == "Find the best model"
        else settings(ds.name, version.version)
    )
    job: TuneJob | None = st.session_state.get("tune_job")
    busy = job is not None and job.running
    if st.button("Start", disabled=search is None or busy, icon=":material/tune:") and search:
        job = st.session_state["tune_job"] = start(search)
    if job is not None:
        if job.running:
            live(job)
        else:
            finished(job)
