"""Train page: dataset and split, models and their forms, the queue with live progress, history."""

from __future__ import annotations

import pages  # noqa: F401  (first, before heavy imports: see pages/__init__.py)

# isort: split

import json
import os

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from db.runs import Run
from pages._ui import (
    config_widgets,
    dataset_picker,
    get_store,
    load_version,
    page_header,
    validated,
)
from recsys_core.errors import InputError
from recsys_core.jobs import runs as jobs
from recsys_core.jobs.analysis import display_label, list_runs, runs_table
from recsys_core.jobs.runs import progress_label
from recsys_core.jobs.spec import SPARK_MODELS, engine_advice
from recsys_core.jobs.worker import ensure_worker, retry_run
from recsys_core.models.registry import REGISTRY
from recsys_core.splitting import timeline
from recsys_core.splitting.configs import (
    ItemHoldout,
    KFold,
    LeaveLastN,
    Predefined,
    RandomHoldout,
    TemporalCutoff,
    UserHoldout,
)

SPLITS = {
    "Per-user random holdout": RandomHoldout,
    "Global temporal cut-off": TemporalCutoff,
    "Per-user leave-last-N": LeaveLastN,
    "User holdout (test users' latest share)": UserHoldout,
    "K-fold (one fold)": KFold,
    "Cold items (hold out whole items)": ItemHoldout,
    "Predefined (the file's train/test column)": Predefined,
}


def split_section(dataset: str, version: int) -> dict | None:
    label = st.selectbox("Split protocol", list(SPLITS), key="split_kind")
    cls = SPLITS[label]
    st.caption(summary(cls.__doc__))
    values = config_widgets(cls, f"split_{cls.__name__}")
    config = validated(cls, values)
    seed = st.number_input("Seed", 0, 2**31 - 1, 42, key="seed")
    if config is not None and st.button("Check this split", icon=":material/fact_check:"):
        inter = load_version(get_store().url, st.session_state["train_ds_id"], version)
        try:
            parts = jobs.split_for(inter, config, int(seed))
        except InputError as exc:
            st.error(str(exc))
        else:
            st.dataframe(parts.checks().describe(), width="stretch")
            if inter.timestamps is not None:
                st.plotly_chart(_timeline_chart(timeline(inter, parts)), width="stretch")
    return None if config is None else {"split": config.model_dump(mode="json"), "seed": seed}


def _timeline_chart(tl: pd.DataFrame) -> go.Figure:
    fig = px.bar(tl, x="period", y="interactions", color="side", title="Where the split falls")
    fig.update_layout(xaxis_title="time", yaxis_title="interactions", barmode="stack")
    return fig


def summary(doc: str | None) -> str:
    """A docstring's first paragraph as one line: its first line alone can stop mid-sentence
    ("item tower: item id embedding +")."""
    return " ".join((doc or "").strip().split("\n\n")[0].split())


SAMPLED_CAVEAT = (
    "**Sampled** ranks each test item against 100 random unseen items instead of the whole "
    "catalogue: faster, but sampled metrics can order models differently from full ranking "
    "(Krichene & Rendle, *On Sampled Metrics for Item Recommendation*, KDD 2020). Compare "
    "models on full ranking when the choice matters."
)


def models_section() -> dict[str, dict]:
    names = st.multiselect(
        "Models", list(REGISTRY), default=["most_popular", "item_knn", "ease"], key="models"
    )
    params = {}
    for name in names:
        cls = REGISTRY[name]
        with st.expander(f"{name} parameters", expanded=False):
            st.caption(summary(cls.__doc__))
            params[name] = config_widgets(cls.config_class, f"model_{name}", skip=("random_state",))
    return params


def evaluation_section() -> dict:
    c1, c2, c3, c4, c5 = st.columns(5)
    ks = c1.multiselect("Cut-offs K", [1, 5, 10, 20, 50, 100], default=[5, 10, 20])
    threshold = c2.number_input(
        "Relevance threshold (blank: every held-out item)", value=None, step=0.5
    )
    protocol = c3.selectbox(
        "Ranking protocol", ["full", "sampled"], key="protocol", help=SAMPLED_CAVEAT
    )
    n_recs = c4.number_input("Top-N stored per user", 1, 1000, 50)
    explain_top = c5.number_input(
        "Reasons stored per user",
        0,
        50,
        3,
        key="explain_top",
        help="The first ranks of each list keep their reason sentence (Preview, Export); "
        "the others are explained when asked.",
    )
    if protocol == "sampled":
        st.warning(SAMPLED_CAVEAT, icon=":material/warning:")
    return {"ks": ks, "relevance_threshold": threshold, "protocol": protocol,
            "n_recommendations": n_recs, "explain_top": explain_top}  # fmt: skip


def engine_choice(n_interactions: int) -> str:
    """Local or Spark: offered only when the workers have a cluster (RECSYS_SPARK_MASTER)."""
    if not os.environ.get("RECSYS_SPARK_MASTER"):
        return "local"
    engine = st.radio("Engine", ["local", "spark"], horizontal=True, key="engine",
                      help=f"Spark runs {', '.join(SPARK_MODELS)} on "
                      f"{os.environ['RECSYS_SPARK_MASTER']}.")  # fmt: skip
    st.caption(engine_advice(n_interactions))
    return str(engine)


def queue(dataset: str, version: int, split_part: dict, models: dict, evaluation: dict) -> None:
    store = get_store()
    try:
        specs = [
            jobs.parse_spec(
                {
                    "dataset": dataset,
                    "version": version,
                    "model": name,
                    "params": params,
                    **split_part,
                    **evaluation,
                }
            )
            for name, params in models.items()
        ]
        runs = [jobs.submit(store, spec) for spec in specs]
    except InputError as exc:
        st.error(str(exc))
        return
    ensure_worker(store)
    st.success(f"Queued {len(runs)} run(s): " + ", ".join(display_label(r) for r in runs))


RULES_EXAMPLE = '{"exclude": {"genres": ["Horror"]}, "boost": {"genres": {"Drama": 0.1}}}'


def combine_section(dataset_id: int) -> None:
    """Blend finished runs, or re-rank one: the result is a run of its own, queued like any."""
    done = [r for r in list_runs(get_store(), dataset_id) if r.status == "done"]
    if not done:
        return
    labels = {display_label(r): r.id for r in done}
    with st.expander("Combine finished runs: blend or re-rank", icon=":material/merge:"):
        blend, rerank = st.tabs(["Blend", "Re-rank"])
        with blend, st.form("blend"):
            chosen = st.multiselect("Runs to blend (same split)", list(labels))
            weights = st.text_input("Weights, one per run", placeholder="0.7, 0.3")
            norm = st.selectbox("Score normalisation per user", ["minmax", "zscore", "rank"])
            if st.form_submit_button("Queue the blend"):
                _queue_derived(
                    "blend",
                    [labels[c] for c in chosen],
                    weights=_floats(weights),
                    normalisation=norm,
                )
        with rerank, st.form("rerank"):
            base = st.selectbox("Run to re-rank", list(labels))
            c1, c2 = st.columns(2)
            mmr = c1.number_input("MMR lambda (1 = no diversification)", 0.0, 1.0, 0.7)
            alpha = c2.number_input("Popularity penalty alpha (0 = none)", 0.0, 5.0, 0.0)
            rules = st.text_area(
                "Business rules (JSON, optional)",
                placeholder=RULES_EXAMPLE,
            )
            if st.form_submit_button("Queue the re-ranking"):
                plan = _rerank_plan(mmr, alpha, rules)
                if plan is not None:
                    _queue_derived("rerank", [labels[base]], rerank=plan)


def _floats(text: str) -> list[float] | None:
    try:
        return [float(t) for t in text.replace(";", ",").split(",") if t.strip()] or None
    except ValueError:
        st.error(f"Weights must be numbers separated by commas; got {text!r}.")
        return None


def _rerank_plan(mmr: float, alpha: float, rules: str) -> dict | None:
    steps: list[dict] = []
    if rules.strip():
        try:
            steps.append({"kind": "business_rules", **json.loads(rules)})
        except json.JSONDecodeError as exc:
            st.error(f"Business rules are not valid JSON: {exc}")
            return None
    if alpha > 0:
        steps.append({"kind": "popularity_penalty", "alpha": alpha})
    if mmr < 1:
        steps.append({"kind": "mmr", "lambda_": mmr})
    if not steps:
        st.error("Choose at least one re-ranking step.")
        return None
    return {"steps": steps}


def _queue_derived(kind: str, run_ids: list[int], **options: object) -> None:
    from recsys_core.jobs.derived import derive_spec

    store = get_store()
    try:
        run = jobs.submit(store, derive_spec(store, kind, run_ids, **options))  # type: ignore[arg-type]
    except InputError as exc:
        st.error(str(exc))
        return
    ensure_worker(store)
    st.success(f"Queued {display_label(run)}.")


@st.fragment(run_every=2)
def live_runs(dataset_id: int) -> None:
    """Active runs with progress bars and cancel buttons; refreshes itself every 2 s."""
    runs = list_runs(get_store(), dataset_id)
    active = [r for r in runs if r.status in ("queued", "running")]
    if active:
        ensure_worker(get_store())
    for r in active:
        c1, c2 = st.columns([5, 1])
        share = r.progress_done / r.progress_total if r.progress_total else 0.0
        c1.progress(
            min(share, 1.0), f"{display_label(r)} — " + progress_label(r.status, r.progress_message)
        )
        if c2.button("Cancel", key=f"cancel_{r.id}"):
            from db.runs import RunRepository

            with get_store().session() as s:
                RunRepository(s).request_cancel(r.id)
    st.subheader("Runs on this dataset")
    if runs:
        st.dataframe(
            runs_table(runs),
            hide_index=True,
            width="stretch",
            column_config={"progress": st.column_config.ProgressColumn("progress")},
        )
        for r in runs:
            if r.status in ("failed", "cancelled"):
                _ended_run(r)
    else:
        st.caption("No runs yet.")


def _ended_run(r: Run) -> None:
    """A failed or cancelled run: its reason, and a Retry button that queues a fresh copy."""
    c1, c2 = st.columns([5, 1])
    if r.status == "failed":
        c1.error(f"{display_label(r)} failed: {r.error}")
    else:
        c1.info(f"{display_label(r)} was cancelled.")
    if r.retried_as is None and c2.button("Retry", key=f"retry_{r.id}", icon=":material/replay:"):
        try:
            copy = retry_run(get_store(), r.id)
        except InputError as exc:
            st.error(str(exc))
            return
        ensure_worker(get_store())
        st.toast(f"Queued {display_label(copy)}.")


page_header("Train")
picked = dataset_picker("train")
if picked is not None:
    ds, version = picked
    st.session_state["train_ds_id"] = ds.id
    left, right = st.columns(2)
    with left:
        st.subheader("Split")
        split_part = split_section(ds.name, version.version)
    with right:
        st.subheader("Models")
        models = models_section()
    st.subheader("Evaluation")
    evaluation = evaluation_section()
    evaluation["engine"] = engine_choice(version.n_interactions)
    ready = split_part is not None and bool(models) and bool(evaluation["ks"])
    if st.button("Queue runs", type="primary", disabled=not ready, icon=":material/play_arrow:"):
        queue(ds.name, version.version, split_part or {}, models, evaluation)
    combine_section(ds.id)
    live_runs(ds.id)
