"""Data page: import with a validation report, sample datasets, cleaning recipes, profile."""

from __future__ import annotations

import pages  # noqa: F401  (first, before heavy imports: see pages/__init__.py)

# isort: split

import zlib
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pages._columns import Upload, column_grid, upload
from pages._media import media_tab
from pages._ui import dataset_picker, get_store, load_version, model_form, page_header
from recsys_core.data import clean
from recsys_core.data.interactions import Interactions
from recsys_core.data.io import RawTable, renamed
from recsys_core.data.layouts import flag_names
from recsys_core.data.mapping import ItemMapping, UserMapping, parse_event_weights
from recsys_core.data.profile import Profile, profile
from recsys_core.data.profile_charts import profile_figures
from recsys_core.data.roles import (
    BEHAVIOUR_ROLES,
    ITEM_ROLES,
    USER_ROLES,
    behaviour_mapping,
    dataset_name,
    propose_behaviour,
    propose_side,
    side_mapping,
    source_of,
)
from recsys_core.data.samples import load_movielens_small, synthetic
from recsys_core.data.validate import ValidatedData, ValidationReport, validate
from recsys_core.errors import InputError
from recsys_core.jobs import datasets as jobs
from recsys_core.models.explanation import catalogue_names

_FEEDBACK: dict[str, Literal["explicit", "implicit"] | None] = {
    "inferred": None,
    "explicit": "explicit",
    "implicit": "implicit",
}
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
            try:  # sizes that cannot hold the request (10 items, 12 categories) are refused
                with st.spinner("Generating…"):
                    data = synthetic(int(n_users), int(n_items), int(n_inter), seed=int(seed))
            except InputError as exc:
                st.error(str(exc))
                return
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
    _changed(
        f"Imported **{name}** (version {result.version.version}): {c['users']:,} users, "
        f"{c['items']:,} items, {c['interactions']:,} interactions."
    )


def _changed(message: str, *details: str) -> None:
    """The store changed: keep the outcome for the next run and rerun, so the datasets table
    and every version picker above this point show the new dataset or version at once."""
    st.session_state["data_changed"] = (message, details)
    st.rerun()


def _show_change() -> None:
    """The outcome of the import or cleaning that caused this run (see ``_changed``)."""
    message, details = st.session_state.pop("data_changed", (None, ()))
    if message is not None:
        st.success(message)
        for line in details:
            st.write(line)


def import_tab() -> None:
    behaviour = upload("Behaviour file (user, item, rating or event, timestamp)", "up_inter")
    items = upload("Item metadata (optional: u.item, movies.dat, ...)", "up_items")
    users = upload("User attributes (optional: u.user, users.dat, ...)", "up_users")
    flags = upload("Names of the items' 0/1 flag columns (optional, e.g. u.genre)", "up_flags")
    if behaviour is None:
        st.info(
            "Upload a CSV, TSV, Parquet or any delimited text file (u.data, ratings.dat, "
            "no extension...) to start, or load the sample above."
        )
        return
    try:
        flag_list = flag_names(flags.raw) if flags is not None else None
        uploads = (behaviour, items, users)
        with st.form("mapping"):
            built = _mapping_form(behaviour, items, users, flag_list)
            name = st.text_input(
                "Dataset name", dataset_name(*(u.raw if u else None for u in uploads))
            )
            pseudo = st.checkbox("Pseudonymise user ids (keyed hash)")
            submitted = st.form_submit_button("Validate")
        if submitted:
            data = validate(**built())
            source = source_of(*(u.raw if u else None for u in uploads))
            st.session_state["validated"] = (data, name, pseudo, source)
    except InputError as exc:
        st.error(str(exc))
        return
    if "validated" in st.session_state:
        data, name, pseudo, source = st.session_state["validated"]
        show_report(data.report)
        if data.report.ok and st.button(
            f"Import {len(data.interactions):,} interactions as '{name}'"
        ):
            del st.session_state["validated"]  # before _import, which reruns the page
            _import(data, name, source, pseudonymise=pseudo)


def _mapping_form(
    behaviour: Upload, items: Upload | None, users: Upload | None, flags: list[str] | None
) -> Callable[[], dict[str, Any]]:
    """The form's widgets; returns a function building validate()'s arguments (called on
    submit, so a half-edited form raises nothing)."""
    st.markdown("**Behaviour columns** — rename any column and set its role")
    b_names, b_roles = column_grid(
        behaviour, propose_behaviour(behaviour.raw), BEHAVIOUR_ROLES, "Behaviour"
    )
    if not {"user", "item"} <= set(b_roles):
        st.warning(
            "Could not tell which columns hold the user and the item ids: set their roles "
            "(**user**, **item**) above, and rename the columns if you like."
        )
    c1, c2 = st.columns([1, 2])
    feedback = c1.radio("Feedback", ["inferred", "explicit", "implicit"], horizontal=True)
    weights = c2.text_input(
        "Event weights (implicit feedback)",
        placeholder="view=1, cart=3, buy=5",
        help="Weight per event type when an event column is mapped; unlisted types weigh 1.",
    )
    sides = [
        _side_widgets(items, "item", flags) if items else None,
        _side_widgets(users, "user", None) if users else None,
    ]

    def build() -> dict[str, Any]:
        kind = _FEEDBACK[feedback]
        out: dict[str, Any] = {
            "interactions": renamed(behaviour.raw, b_names),
            "mapping": behaviour_mapping(
                b_names, b_roles, feedback=kind, event_weights=parse_event_weights(weights)
            ),
        }
        for side, (table, key) in zip(sides, (("items", "item"), ("users", "user")), strict=True):
            if side is not None:
                out[table], out[f"{key}_mapping"] = side()
        return out

    return build


def _side_widgets(
    up: Upload, entity: Literal["item", "user"], flags: list[str] | None
) -> Callable[[], tuple[RawTable, ItemMapping | UserMapping]]:
    """Names and roles of an attribute file's columns, the folded flags' name, the title."""
    heading = "Item" if entity == "item" else "User"
    st.markdown(f"**{heading} {'metadata' if entity == 'item' else 'attribute'} columns**")
    proposal = propose_side(up.raw, entity, flag_names=flags)
    if flags:  # new flag names are new defaults: widgets under new keys show them
        up = Upload(up.raw, f"{up.key}_flags{zlib.crc32('|'.join(flags).encode())}")
    roles = ITEM_ROLES if entity == "item" else USER_ROLES
    names, chosen = column_grid(up, proposal, roles, heading)
    fold = proposal.fold
    if "flag" in proposal.roles:
        fold = st.text_input(
            f"{heading} flags fold into the attribute", proposal.fold, key=f"{up.key}_fold",
            help="The 0/1 flag columns become one multi-valued attribute (a list of the names "
            "of the flags set): 19 genre flags become 'genres'.",
        )  # fmt: skip
    if entity == "item" and "title" not in proposal.roles:
        st.warning(
            "No title column was recognised: pick the column holding the items' names "
            "(role **title**) so pages show names instead of ids."
        )

    def build() -> tuple[RawTable, ItemMapping | UserMapping]:
        mapping = side_mapping(names, chosen, entity, fold=fold)
        return renamed(up.raw, names), mapping

    return build


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
    _changed(f"Created version {new.version} of {ds.name}.", *(s.describe() for s in stats))


@st.cache_resource(show_spinner=False, max_entries=4)
def _profile(url: str, dataset_id: int, version: int) -> tuple[Profile, list[go.Figure]]:
    """The profile and its charts, built once per version for every session: rebuilding the
    figures (plotly copies a template into each) was most of a Data view's server time."""
    inter = load_version(url, dataset_id, version)
    prof = profile(inter)
    return prof, list(profile_figures(inter, prof).values())


def profile_tab() -> None:
    picked = dataset_picker("profile")
    if picked is None:
        return
    ds, version = picked
    inter = load_version(get_store().url, ds.id, version.version)
    prof, figures = _profile(get_store().url, ds.id, version.version)
    cols = st.columns(5)
    cols[0].metric("Users", f"{prof.n_users:,}")
    cols[1].metric("Items", f"{prof.n_items:,}")
    cols[2].metric("Interactions", f"{prof.n_interactions:,}")
    cols[3].metric("Density", f"{prof.density:.3%}")
    cols[4].metric("Gini (items)", f"{prof.gini_items:.2f}")
    _top_items(inter)
    for start in range(0, len(figures), 2):
        for col, fig in zip(st.columns(2), figures[start : start + 2], strict=False):
            col.plotly_chart(fig, width="stretch")
    with st.expander("All profile numbers"):
        st.json(prof.to_dict())


def _top_items(inter: Interactions, n: int = 10) -> None:
    """The most interacted items by name (the title column when there is one)."""
    counts = np.bincount(inter.items, minlength=len(inter.item_ids))
    top = np.argsort(-counts, kind="stable")[: min(n, int((counts > 0).sum()))]
    ids = inter.item_ids[top]
    table = pd.DataFrame(
        {"item": ids, "name": catalogue_names(inter, ids), "interactions": counts[top]}
    )
    st.markdown("**Most interacted items**")
    st.dataframe(table, hide_index=True)


page_header("Data")
_show_change()
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
