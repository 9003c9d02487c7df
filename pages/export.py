"""Export page: top-K tables of finished runs as CSV, Parquet or a database table."""

from __future__ import annotations

import pages  # noqa: F401  (first, before heavy imports: see pages/__init__.py)

# isort: split

import pandas as pd
import streamlit as st

from db.runs import Run
from pages._runs import no_runs_note, version_runs
from pages._runs import pick_runs as runs_picker
from pages._ui import dataset_picker, get_store, page_header, run_split
from recsys_core.columns import Columns
from recsys_core.errors import InputError
from recsys_core.export import export_table, to_csv_bytes, to_parquet_bytes, write_db_table
from recsys_core.jobs import selection as core
from recsys_core.models.registry import REGISTRY
from recsys_core.serving.howto import serve_howto

ALL, BUCKET, PASTED = "All test users", "Users by activity", "A list of user ids"
PREVIEW_ROWS = 1_000


@st.cache_data(show_spinner=False, max_entries=4)
def _groups(url: str, run_id: int) -> dict[str, list[str]]:
    return core.activity_groups(run_split(run_id))


@st.cache_data(show_spinner="Collecting the lists…", max_entries=8)
def _table(
    url: str, run_ids: tuple[int, ...], k: int, users: tuple[str, ...] | None, reasons: bool
) -> pd.DataFrame:
    return export_table(get_store(), run_ids, k, users, explanations=reasons)


@st.cache_data(show_spinner=False, max_entries=8)
def _files(table: pd.DataFrame) -> tuple[bytes, bytes]:
    """CSV and Parquet bytes, built once per table for every session (CSV is half a rerun)."""
    return to_csv_bytes(table), to_parquet_bytes(table)


def pick_runs(dataset_id: int, version_id: int) -> list[Run]:
    """Runs to export, the best on the primary metric preselected."""
    options = version_runs(dataset_id, version_id)
    if not options:
        no_runs_note()
        return []
    return runs_picker(options, "export_runs", n_default=1)


def pick_users(runs: list[Run]) -> tuple[str, ...] | None:
    """None for every test user, else the chosen ids (activity bucket or a pasted list)."""
    who = st.radio("Users", [ALL, BUCKET, PASTED], horizontal=True, key="export_who")
    if who == BUCKET:
        groups = _groups(get_store().url, runs[0].id)
        label = st.selectbox(
            "Training interactions per user",
            list(groups),
            format_func=lambda g: f"{g} ({len(groups[g]):,} users)",
            key="export_bucket",
        )
        return tuple(groups[label])
    if who == PASTED:
        text = st.text_area("User ids (comma, space or one per line)", key="export_ids")
        return tuple(core.parse_user_ids(text))
    return None


def downloads(table: pd.DataFrame) -> None:
    csv, parquet = _files(table)
    c1, c2 = st.columns(2)
    c1.download_button(
        "Download CSV",
        csv,
        file_name="recommendations.csv",
        mime="text/csv",
        icon=":material/download:",
        help="Cells a spreadsheet would run as a formula (=, +, -, @) are prefixed with '.",
    )
    c2.download_button(
        "Download Parquet",
        parquet,
        file_name="recommendations.parquet",
        mime="application/vnd.apache.parquet",
        icon=":material/download:",
    )


def to_database(table: pd.DataFrame) -> None:
    with st.form("export_db"):
        name = st.text_input("Table name", value="recommendations", key="export_name")
        pressed = st.form_submit_button("Write to the database", icon=":material/save:")
    if not pressed:
        return
    try:
        n = write_db_table(get_store(), name, table)
    except InputError as exc:
        st.error(str(exc))
        return
    st.success(
        f"Wrote {n:,} rows under the name '{name.strip()}' (table exported_recommendations)."
    )


def export(runs: list[Run]) -> None:
    top_n = core.stored_top_n(runs)
    k = st.number_input(f"K (at most {top_n}, the top-N stored)", 1, top_n, min(10, top_n))
    users = pick_users(runs)
    reasons = st.checkbox(
        "Add the reason for each row",
        key="export_reasons",
        help="A 'reason' column in plain words (as `recsys export --explanations`). Reasons "
        "stored with the runs' lists are reused; the others are computed, which takes longer "
        "for many users.",
    )
    if users is not None and not users:
        st.info("Paste at least one user id.")
        return
    try:
        table = _table(get_store().url, tuple(r.id for r in runs), int(k), users, reasons)
    except InputError as exc:
        st.error(str(exc))
        return
    if users is not None and (missing := core.unmatched_ids(table, users)):
        st.warning(
            f"{len(missing):,} id(s) have no recommendations (unknown, or not test users of "
            f"these runs): {', '.join(missing[:10])}{' …' if len(missing) > 10 else ''}"
        )
    st.caption(
        f"{len(table):,} rows, {table[Columns.user].nunique():,} users"
        + (f"; showing the first {PREVIEW_ROWS:,}" if len(table) > PREVIEW_ROWS else "")
    )
    st.dataframe(table.head(PREVIEW_ROWS), hide_index=True, width="stretch")
    if table.empty:
        return
    downloads(table)
    to_database(table)
    serve_section(runs[0], table)


def serve_section(run: Run, table: pd.DataFrame) -> None:
    """The command that serves the run over HTTP, with curl examples using its own ids."""
    rows = table[table[Columns.run] == run.id]
    if rows.empty:
        return
    family = REGISTRY.get(run.model)
    user = str(rows[Columns.user].iloc[0])
    items = rows.loc[rows[Columns.user] == rows[Columns.user].iloc[0], Columns.item]
    howto = serve_howto(
        run.id,
        run.model,
        bool(family is not None and family.folds_in),
        get_store().url,
        user,
        items.astype(str).tolist(),
    )
    with st.expander(f"Serve run {run.id} over HTTP (a real-time API)", icon=":material/api:"):
        st.caption(howto.note)
        st.code(howto.command, language="bash")
        st.markdown(f"A known user (`{user}`), with reasons:")
        st.code(howto.curl_user, language="bash")
        if howto.curl_history is not None:
            st.markdown("A new user's history, scored on the fly:")
            st.code(howto.curl_history, language="bash")


page_header("Export")
picked = dataset_picker("export")
if picked is not None:
    ds, version = picked
    chosen = pick_runs(ds.id, version.id)
    if chosen:
        export(chosen)
