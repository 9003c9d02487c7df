"""Experiments page: analyse an A/B log (SRM first), store it, link variants to runs, plan."""

from __future__ import annotations

import pages  # noqa: F401  (first, before heavy imports: see pages/__init__.py)

# isort: split

import streamlit as st

from db.experiments import Experiment
from pages._ui import get_store, page_header
from recsys_core.data.io import RawTable, read_table
from recsys_core.errors import InputError
from recsys_core.experiments import (
    AnalysisSpec,
    ExperimentMapping,
    ExperimentResult,
    analyze,
    charts,
    infer_log_mapping,
    parse_ratio,
    parse_split,
    sample_size,
    tables,
    validate_log,
)
from recsys_core.experiments.offline import offline_vs_online
from recsys_core.experiments.stored import (
    analyze_stored,
    import_experiment,
    link_run,
    list_experiments,
)
from recsys_core.experiments.synth import sample_log
from recsys_core.jobs.analysis import display_label, list_runs

NONE = "(none)"
SAMPLE_NAME = "synthetic_experiment.csv"
SAMPLE_RATIO = "CTR=clicks/exposures"


@st.cache_data(show_spinner="Reading the log…", max_entries=4)
def _read(data: bytes, name: str) -> RawTable:
    return read_table(data, name)


@st.cache_data(show_spinner=False, max_entries=1)
def _sample() -> bytes:
    return sample_log().to_csv(index=False).encode()


@st.cache_data(show_spinner="Analysing…", max_entries=8)
def _analyse(data: bytes, name: str, mapping: str, spec: str) -> ExperimentResult:
    log = validate_log(_read(data, name), ExperimentMapping.model_validate_json(mapping))
    return analyze(log, AnalysisSpec.model_validate_json(spec))


def _source() -> tuple[bytes, str] | None:
    c1, c2 = st.columns([3, 1])
    file = c1.file_uploader("Experiment log (CSV, TSV or Parquet)", key="exp_file")
    c2.write("")
    if c2.button("Load the synthetic sample", icon=":material/science:", key="exp_sample"):
        st.session_state["exp_use_sample"] = True
    if file is not None:
        return file.getvalue(), file.name
    if st.session_state.get("exp_use_sample"):
        st.caption("Synthetic sample: new_ranker has a planted +6% lift, popular_boost none.")
        return _sample(), SAMPLE_NAME
    st.info(
        "Upload a log with one row per user (or per event): user, variant, optional "
        "assignment and outcome times, numeric outcomes, optional pre-period columns."
    )
    return None


def _pick(label: str, columns: list[str], current: str | None, key: str) -> str | None:
    options = [NONE, *columns]
    index = options.index(current) if current in options else 0
    value = st.selectbox(label, options, index=index, key=key)
    return None if value == NONE else value


def _mapping(raw: RawTable) -> ExperimentMapping:
    guess = infer_log_mapping(raw.frame)
    columns = [str(c) for c in raw.frame.columns]
    with st.expander("Columns", expanded=False):
        c = st.columns(4)
        with c[0]:
            user = _pick("User", columns, guess.user, "exp_user") or guess.user
        with c[1]:
            variant = _pick("Variant", columns, guess.variant, "exp_variant") or guess.variant
        with c[2]:
            assigned = _pick("Assignment time", columns, guess.assigned_at, "exp_assigned")
        with c[3]:
            event = _pick("Outcome time", columns, guess.event_time, "exp_event")
        metrics = st.multiselect("Outcome metrics", columns, guess.metrics, key="exp_metrics")
        pre = {m: p for m, p in guess.pre.items() if m in metrics}
        st.caption(
            "Pre-period columns (CUPED): "
            + (", ".join(f"{m} ← {p}" for m, p in pre.items()) or "none found")
        )
    return ExperimentMapping(
        user=user, variant=variant, assigned_at=assigned, event_time=event, metrics=metrics, pre=pre
    )


def _spec(raw: RawTable, mapping: ExperimentMapping, sample: bool) -> AnalysisSpec:
    variants = sorted(raw.frame[mapping.variant].dropna().unique().tolist())
    c1, c2, c3 = st.columns([1, 2, 1])
    control = c1.selectbox("Control", variants, key="exp_control")
    ratios = c2.text_input(
        "Ratio metrics (NAME=NUMERATOR/DENOMINATOR, comma-separated)",
        SAMPLE_RATIO if sample else "",
        key="exp_ratios",
    )
    planned = c3.number_input("Planned users (0: not set)", 0, step=1000, key="exp_planned")
    c4, c5 = st.columns([3, 1])
    split = c4.text_input("Planned split (default equal), e.g. A=0.5,B=0.5", "", key="exp_split")
    c5.write("")
    cuped = c5.checkbox(
        "CUPED", True, key="exp_cuped", help="Adjust metrics by their pre-period column."
    )
    return AnalysisSpec(
        control=str(control),
        metrics=mapping.metrics,
        ratios=dict(parse_ratio(r) for r in ratios.split(",") if r.strip()),
        planned_split=parse_split(split) if split.strip() else None,
        planned_users=int(planned) or None,
        cuped=cuped,
    )


def render(result: ExperimentResult, key: str) -> None:
    """SRM first and loudly, then warnings, the lift chart and the tables."""
    if result.srm.flagged:
        st.error(result.srm.message, icon=":material/error:")
    else:
        st.success(result.srm.message, icon=":material/check_circle:")
    for warning in result.warnings:
        if warning != result.srm.message:
            st.warning(warning, icon=":material/warning:")
    st.plotly_chart(charts.lift_chart(result.lifts), width="stretch", key=f"{key}_lifts")
    st.subheader("Lifts")
    st.dataframe(tables.lift_table(result.lifts), hide_index=True, width="stretch")
    c1, c2 = st.columns([3, 2])
    c1.subheader("Per variant")
    c1.dataframe(
        result.variants,
        hide_index=True,
        width="stretch",
        column_config={"users": st.column_config.NumberColumn(format="%d")},
    )
    c2.plotly_chart(charts.srm_chart(result.srm), width="stretch", key=f"{key}_srm")
    if len(result.cuped):
        st.subheader("CUPED")
        cuped = result.cuped.assign(variance_reduction=result.cuped["variance_reduction"] * 100)
        reduction = st.column_config.NumberColumn("variance reduction", format="%.1f%%")
        st.dataframe(cuped, hide_index=True, column_config={"variance_reduction": reduction})


def _save(data: bytes, name: str, mapping: ExperimentMapping, spec: AnalysisSpec) -> None:
    with st.form("exp_save"):
        title = st.text_input("Experiment name", name.rsplit(".", 1)[0], key="exp_name")
        if st.form_submit_button("Save experiment", icon=":material/save:"):
            log = validate_log(_read(data, name), mapping)
            saved = import_experiment(
                get_store(), title, log, spec, source={"mapping": mapping.model_dump()}
            )
            st.success(f"Saved {saved.name!r}: {saved.n_users:,} users.")


def analyse_tab() -> None:
    source = _source()
    if source is None:
        return
    data, name = source
    try:
        raw = _read(data, name)
        mapping = _mapping(raw)
        spec = _spec(raw, mapping, name == SAMPLE_NAME)
        result = _analyse(data, name, mapping.model_dump_json(), spec.model_dump_json())
    except InputError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    render(result, "exp_log")
    try:
        _save(data, name, mapping, spec)
    except InputError as exc:
        st.error(str(exc), icon=":material/error:")


def _links(experiment: Experiment) -> None:
    runs = [r for r in list_runs(get_store()) if r.status == "done"]
    labels = {display_label(r): r.id for r in runs}
    by_id = {v: k for k, v in labels.items()}
    with st.form(f"exp_links_{experiment.id}"):
        st.caption("Link each variant to the offline run that produced it.")
        chosen = {}
        for variant, run_id in experiment.runs.items():
            options = [NONE, *labels]
            current = by_id.get(run_id, NONE) if run_id is not None else NONE
            chosen[variant] = st.selectbox(
                variant, options, options.index(current), key=f"exp_link_{experiment.id}_{variant}"
            )
        if st.form_submit_button("Save links"):
            for variant, label in chosen.items():
                link_run(get_store(), experiment.name, variant, labels.get(label))
            st.success("Links saved.")


def stored_tab() -> None:
    experiments = list_experiments(get_store())
    if not experiments:
        st.info("No stored experiments yet: analyse a log and save it.")
        return
    names = [e.name for e in experiments]
    name = st.selectbox("Experiment", names, key="exp_stored")
    experiment = experiments[names.index(name)]
    _links(experiment)
    render(analyze_stored(get_store(), experiment.name), "exp_stored")


def offline_tab() -> None:
    found = offline_vs_online(get_store())
    for note in found.skipped:
        st.caption(note)
    if found.pairs.empty:
        st.info("Link the control and a variant of a stored experiment to finished runs.")
        return
    st.subheader("Which offline metric predicts the online lift?")
    c1, c2 = st.columns(2)
    onlines = sorted(found.pairs["online_metric"].unique())
    online = c1.selectbox("Online metric", onlines, key="exp_on")
    agreement = found.agreement[found.agreement["online_metric"] == online]
    offline = c2.selectbox("Offline metric", agreement["offline_metric"].tolist(), key="exp_off")
    st.plotly_chart(
        charts.offline_chart(found.pairs, offline, online), width="stretch", key="exp_offline"
    )
    st.caption(
        "Per offline metric, across linked variants: how often its change had the online "
        "lift's sign, and how well it ranks the online lifts (best first)."
    )
    share = st.column_config.NumberColumn("same sign", format="%.0f%%")
    st.dataframe(
        agreement.drop(columns="online_metric").assign(
            sign_agreement=lambda t: t.sign_agreement * 100
        ),
        hide_index=True,
        width="stretch",
        column_config={"offline_metric": "offline metric", "sign_agreement": share},
    )
    pairs = found.pairs[
        (found.pairs["online_metric"] == online) & (found.pairs["offline_metric"] == offline)
    ]
    st.dataframe(tables.pairs_table(pairs), hide_index=True, width="stretch")


def power_tab() -> None:
    c = st.columns(5)
    mean = c[0].number_input("Baseline mean (or rate)", value=0.06, format="%g", key="pw_mean")
    sd = c[1].number_input(
        "Per-user sd (0: a rate's)", value=0.0, min_value=0.0, format="%g", key="pw_sd"
    )
    mde = c[2].number_input("Lift to detect (%)", value=2.0, format="%g", key="pw_mde") / 100
    power = c[3].number_input("Power (%)", 1.0, 99.0, 80.0, key="pw_power") / 100
    variants = c[4].number_input("Variants (with control)", 2, 20, 2, key="pw_k")
    if sd == 0 and 0 < mean < 1:
        sd = (mean * (1 - mean)) ** 0.5  # a conversion rate's per-user sd
    try:
        plan = sample_size(mean, sd, mde, power=power, n_variants=int(variants))
    except InputError as exc:
        st.error(str(exc))
        return
    st.success(plan.message)
    st.plotly_chart(
        charts.power_curve(mean, sd, mde, plan.n_control, plan.alpha_per_comparison),
        width="stretch",
    )


page_header("Experiments")
tabs = st.tabs(["Analyse a log", "Stored experiments", "Offline vs online", "Power calculator"])
with tabs[0]:
    analyse_tab()
with tabs[1]:
    stored_tab()
with tabs[2]:
    offline_tab()
with tabs[3]:
    power_tab()
