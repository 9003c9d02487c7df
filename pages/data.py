"""Data page: import with a validation report, sample datasets, cleaning recipes, profile."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages._media import media_tab
from pages._ui import dataset_picker, get_store, load_version, model_form, page_header
from recsys_core.data import clean
from recsys_core.data.io import RawTable, read_table
from recsys_core.data.mapping import (
    ColumnMapping,
    ItemMapping,
    UserMapping,
    infer_item_mapping,
    infer_mapping,
    infer_user_mapping,
    parse_event_weights,
)
from recsys_core.data.profile import profile
from recsys_core.data.profile_charts import profile_figures
from recsys_core.data.samples import load_movielens_small, synthetic
from recsys_core.data.validate import ValidatedData, ValidationReport, validate
from recsys_core.errors import InputError
from recsys_core.jobs import datasets as jobs

NONE = "(none)"
RECIPES = {
    "Deduplicate pairs": clean.Dedup,
    "Rating threshold → implicit": clean.RatingThreshold,
    "k-core": clean.KCore,
    "Drop outlier users": clean.OutlierUsers,
    "Time window": clean.TimeWindow,
    "Drop event types": clean.DropEvents,
}


def datasets_overview() -> None:
    rows = [
        {
            "dataset": d.name,
            "versions": len(vs),
            "users": vs[-1].n_users,
            "items": vs[-1].n_items,
            "interactions": vs[-1].n_interactions,
            "feedback": vs[-1].feedback,
            "created": d.created_at.strftime("%Y-%m-%d %H:%M"),
        }
        for d, vs in jobs.list_datasets(get_store())
    ]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    col1, col2 = st.columns(2)
    if col1.button("Load the MovieLens latest-small sample", icon=":material/movie:"):
        _import(load_movielens_small(), "movielens-small", {"sample": "movielens-small"})
    with col2.popover("Generate a synthetic dataset", icon=":material/science:"), st.form("synth"):
        n_users = st.number_input("Users", 10, 10_000_000, 2_000)
        n_items = st.number_input("Items", 10, 1_000_000, 1_000)
        n_inter = st.number_input("Interactions", 100, 100_000_000, 50_000)
        seed = st.number_input("Seed", 0, 2**31 - 1, 0)
        name = st.text_input("Name", "synthetic")
        if st.form_submit_button("Generate"):
            with st.spinner("Generating…"):
                data = synthetic(int(n_users), int(n_items), int(n_inter), seed=int(seed))
            _import(data, name, {"synthetic": {"users": n_users, "items": n_items}})


def _import(data: ValidatedData, name: str, source: dict, *, pseudonymise: bool = False) -> None:
    bar = st.progress(0.0, "Importing…")
    try:
        result = jobs.import_dataset(
            get_store(),
            name,
            data,
            source=source,
            pseudonymise_users=pseudonymise,
            progress=lambda done, total, msg="": bar.progress(done / max(total, 1), msg),
        )
    except InputError as exc:
        bar.empty()
        st.error(str(exc))
        return
    c = result.counts
    st.success(
        f"Imported **{name}** (version {result.version.version}): {c['users']:,} users, "
        f"{c['items']:,} items, {c['interactions']:,} interactions."
    )


@st.cache_data(show_spinner="Reading the file…", max_entries=6)
def _read(data: bytes, name: str) -> RawTable:
    return read_table(data, name)


def _upload(label: str, key: str) -> RawTable | None:
    file = st.file_uploader(label, type=["csv", "tsv", "txt", "dat", "data", "parquet"], key=key)
    if file is None:
        return None
    try:
        raw = _read(file.getvalue(), file.name)
    except InputError as exc:
        st.error(str(exc))
        return None
    st.caption(f"Detected: {raw.fmt.describe()} — {len(raw.frame):,} rows")
    st.dataframe(raw.frame.head(5), hide_index=True)
    return raw


def import_tab() -> None:
    behaviour = _upload("Behaviour file (user, item, rating or event, timestamp)", "up_inter")
    items = _upload("Item metadata (optional)", "up_items")
    users = _upload("User attributes (optional)", "up_users")
    if behaviour is None:
        st.info("Upload a CSV, TSV or Parquet file to start, or load the sample above.")
        return
    try:
        guess = infer_mapping(behaviour.frame)
    except InputError as exc:
        st.warning(str(exc))
        guess = None
    with st.form("mapping"):
        mapping = _mapping_widgets(list(behaviour.frame.columns), guess)
        item_mapping = _item_mapping_widgets(items) if items is not None else None
        user_mapping = _user_mapping_widgets(users) if users is not None else None
        name = st.text_input("Dataset name", value=behaviour.source.rsplit(".", 1)[0])
        pseudo = st.checkbox("Pseudonymise user ids (keyed hash)")
        submitted = st.form_submit_button("Validate")
    if submitted and mapping is not None:
        try:
            data = validate(
                behaviour,
                mapping,
                items=items,
                item_mapping=item_mapping,
                users=users,
                user_mapping=user_mapping,
            )
        except InputError as exc:
            st.error(str(exc))
            return
        st.session_state["validated"] = (data, name, pseudo, behaviour.source)
    if "validated" in st.session_state:
        data, name, pseudo, source = st.session_state["validated"]
        show_report(data.report)
        if data.report.ok and st.button(
            f"Import {len(data.interactions):,} interactions as '{name}'"
        ):
            _import(data, name, {"file": source}, pseudonymise=pseudo)
            del st.session_state["validated"]


def _mapping_widgets(columns: list[str], guess: ColumnMapping | None) -> ColumnMapping | None:
    options = [NONE, *columns]

    def pick(label: str, role: str) -> str | None:
        value = getattr(guess, role) if guess else None
        idx = options.index(value) if value in options else 0
        chosen = st.selectbox(label, options, index=idx, key=f"map_{role}")
        return None if chosen == NONE else chosen

    labels = {
        "user": "User column",
        "item": "Item column",
        "rating": "Rating / weight",
        "timestamp": "Timestamp",
        "event": "Event type",
        "split": "Train/test column",
    }
    roles = {}
    for col, (role, label) in zip(st.columns(len(labels)), labels.items(), strict=True):
        with col:
            roles[role] = pick(label, role)
    c1, c2 = st.columns([1, 2])
    feedback = c1.radio("Feedback", ["inferred", "explicit", "implicit"], horizontal=True)
    weights = c2.text_input(
        "Event weights (implicit feedback)",
        placeholder="view=1, cart=3, buy=5",
        help="Weight per event type when an event column is mapped; unlisted types weigh 1.",
    )
    try:
        event_weights = parse_event_weights(weights)
    except InputError as exc:
        st.error(str(exc))
        return None
    return ColumnMapping(
        **{**roles, "user": roles["user"] or "", "item": roles["item"] or ""},
        event_weights=event_weights,
        feedback=None if feedback == "inferred" else feedback,
    )


def _item_mapping_widgets(items: RawTable) -> ItemMapping:
    cols = list(items.frame.columns)
    guess = infer_item_mapping(items.frame)
    st.markdown("**Item metadata columns**")
    c1, c2, c3, c4, c5 = st.columns(5)
    return ItemMapping(
        id=c1.selectbox("Item id", cols, index=cols.index(guess.id)),
        text=c2.multiselect("Text", cols, default=guess.text),
        categorical=c3.multiselect("Categorical", cols, default=guess.categorical),
        multi_valued=c4.multiselect("Multi-valued (A|B|C)", cols, default=guess.multi_valued),
        numeric=c5.multiselect("Numeric", cols, default=guess.numeric),
    )


def _user_mapping_widgets(users: RawTable) -> UserMapping:
    cols = list(users.frame.columns)
    guess = infer_user_mapping(users.frame)
    st.markdown("**User attribute columns**")
    c1, c2, c3, c4 = st.columns(4)
    return UserMapping(
        id=c1.selectbox("User id", cols, index=cols.index(guess.id)),
        categorical=c2.multiselect("Categorical ", cols, default=guess.categorical),
        numeric=c3.multiselect("Numeric ", cols, default=guess.numeric),
        text=c4.multiselect("Text ", cols, default=guess.text),
    )


def show_report(report: ValidationReport) -> None:
    if report.ok and not report.warnings:
        st.success("Validation passed: no problems found.")
    elif report.ok:
        st.warning(f"Validation passed with {len(report.warnings)} warning(s); you can import.")
    else:
        st.error(f"{len(report.errors)} error(s) block the import. Fix the file and upload again.")
    for p in report.problems:
        box = st.error if p.severity == "error" else st.warning
        box(f"**{p.code}** ({p.count:,} rows): {p.message}")
        if not p.examples.empty:
            st.dataframe(p.examples, hide_index=True)


def clean_tab() -> None:
    picked = dataset_picker("clean")
    if picked is None:
        return
    ds, version = picked
    label = st.selectbox("Recipe", list(RECIPES))
    recipe = model_form(RECIPES[label], key=f"recipe_{label}", submit="Apply as a new version")
    if recipe is None:
        return
    try:
        with st.spinner("Cleaning…"):
            new, stats = jobs.clean_dataset(
                get_store(), ds.id, clean.CleaningPlan(steps=[recipe]), version=version.version
            )
    except InputError as exc:
        st.error(str(exc))
        return
    st.success(f"Created version {new.version} of {ds.name}.")
    for s in stats:
        st.write(s.describe())


def profile_tab() -> None:
    picked = dataset_picker("profile")
    if picked is None:
        return
    ds, version = picked
    inter = load_version(get_store().url, ds.id, version.version)
    prof = profile(inter)
    cols = st.columns(5)
    cols[0].metric("Users", f"{prof.n_users:,}")
    cols[1].metric("Items", f"{prof.n_items:,}")
    cols[2].metric("Interactions", f"{prof.n_interactions:,}")
    cols[3].metric("Density", f"{prof.density:.3%}")
    cols[4].metric("Gini (items)", f"{prof.gini_items:.2f}")
    figures = list(profile_figures(inter, prof).values())
    for start in range(0, len(figures), 2):
        for col, fig in zip(st.columns(2), figures[start : start + 2], strict=False):
            col.plotly_chart(fig, width="stretch")
    with st.expander("All profile numbers"):
        st.json(prof.to_dict())


page_header("Data")
datasets_overview()
tab_import, tab_clean, tab_profile, tab_media = st.tabs(
    ["Import", "Clean", "Profile", "Item modalities"]
)
with tab_import:
    import_tab()
with tab_clean:
    clean_tab()
with tab_profile:
    profile_tab()
with tab_media:
    media_tab()
