"""Preview page: one user's history, held-out items and several runs' lists side by side."""

from __future__ import annotations

import pages  # noqa: F401  (first, before heavy imports: see pages/__init__.py)

# isort: split

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from db.runs import Run
from pages._runs import no_runs_note, version_runs
from pages._runs import pick_runs as runs_picker
from pages._ui import dataset_picker, get_store, page_header, run_model, run_split
from recsys_core.columns import Columns
from recsys_core.errors import InputError
from recsys_core.explain import explain_many, item_names
from recsys_core.jobs import preview as core
from recsys_core.jobs.analysis import display_label
from recsys_core.jobs.context import split_key
from recsys_core.jobs.selection import stored_top_n

MAX_RUNS = 4
#: A soft green that reads on light and dark themes.
HIT_STYLE = "background-color: rgba(33, 195, 84, 0.25)"


@st.cache_data(show_spinner=False, max_entries=4)
def _test_users(url: str, run_id: int) -> list[str]:
    return core.held_out_users(run_split(run_id))


@st.cache_data(show_spinner=False, max_entries=32)
def _user_recommendations(url: str, run_id: int, user: str) -> pd.DataFrame:
    """One run's stored list for one user: a primary-key read of top-N rows per user switch.

    The page never needs other users' lists (the overlap compares this user's lists), so the
    whole table is neither loaded nor cached; 32 entries cover a few recent users of 4 runs.
    """
    return core.run_recommendations(get_store(), run_id, users=[user])


def pick_runs(dataset_id: int, version_id: int) -> list[Run]:
    """Up to four runs, the best two preselected."""
    options = version_runs(dataset_id, version_id)
    if not options:
        no_runs_note()
        return []
    return runs_picker(options, "preview_runs", n_default=2, max_selections=MAX_RUNS)


def pick_user(users: list[str]) -> str:
    """A search box over the test users and a select of the matches (the typed id if none)."""
    c1, c2 = st.columns([1, 2])
    query = c1.text_input("Find a user", placeholder="user id or part of it", key="preview_q")
    matches = core.find_users(users, query)
    if not matches:
        return query.strip()
    label = f"User ({len(users):,} test users)" if not query else f"User ({len(matches)} found)"
    return str(c2.selectbox(label, matches, key="preview_user"))


def show_user(view: core.UserView) -> None:
    c1, c2 = st.columns(2)
    c1.markdown(f"**Training history** of user `{view.user}`: {len(view.history):,} interactions")
    c1.dataframe(view.history, hide_index=True, height=320, width="stretch")
    c2.markdown(f"**Held-out test items**: {len(view.held_out):,} (recommending these is a hit)")
    c2.dataframe(view.held_out, hide_index=True, height=320, width="stretch")


def show_lists(lists: dict[str, pd.DataFrame], k: int) -> None:
    st.subheader(f"Top {k} of each run")
    for col, (label, frame) in zip(st.columns(len(lists)), lists.items(), strict=True):
        n_hits = int((frame["hit"] == core.HIT).sum())
        col.markdown(f"**{label}**: {n_hits} hit(s) in the top {k}")
        if frame.empty:
            col.caption("This run stored no list for the user.")
            continue
        styled = frame.style.apply(_highlight_hits, axis=1).format(precision=4)
        col.dataframe(styled, hide_index=True, width="stretch")


def _highlight_hits(row: pd.Series) -> list[str]:
    return [HIT_STYLE if row["hit"] == core.HIT else ""] * len(row)


def show_reasons(runs: list[Run], lists: dict[str, pd.DataFrame], user: str) -> None:
    """Each listed item with its reason in words (the Explain page has the details), each
    run's model on its own split."""
    if not st.toggle("Explain each recommendation", key="preview_explain"):
        return
    for col, run in zip(st.columns(len(runs)), runs, strict=True):
        items = lists[display_label(run)][Columns.item].tolist()
        try:
            model, train = run_model(run.id), run_split(run.id).train
            found = explain_many(model, train, [user] * len(items), items)
        except InputError as exc:
            col.caption(f"{display_label(run)}: no reasons ({exc})")
            continue
        reasons = ["" if e is None else e.plain_sentence for e in found]
        names = item_names(train, items)
        col.dataframe(pd.DataFrame({"item": names, "why": reasons}), hide_index=True)


def show_overlap(lists: dict[str, pd.DataFrame]) -> None:
    if len(lists) < 2:
        return
    overlap = core.list_overlap({label: f[Columns.item].tolist() for label, f in lists.items()})
    st.subheader("How much the lists agree")
    c1, c2 = st.columns(2)
    c1.plotly_chart(_jaccard_heatmap(overlap.jaccard), width="stretch")
    c2.markdown("**Items shared by each pair of lists**")
    c2.dataframe(overlap.shared, width="stretch")


def _jaccard_heatmap(jaccard: pd.DataFrame) -> go.Figure:
    """Graph objects, not ``px.imshow`` (which builds a subplot grid for one heatmap): the
    same picture, a fifth less server time per Preview rerun."""
    labels = [str(c) for c in jaccard.columns]
    cells = go.Heatmap(
        z=jaccard.to_numpy(), x=labels, y=[str(i) for i in jaccard.index], zmin=0, zmax=1,
        texttemplate="%{z:.2f}", colorscale="Plasma",
    )  # fmt: skip
    fig = go.Figure(cells)
    fig.update_yaxes(autorange="reversed")  # first run on top, as in a matrix
    fig.update_layout(title="Jaccard overlap (shared / all distinct items)")
    return fig


def preview(runs: list[Run]) -> None:
    url = get_store().url
    ref = runs[0]
    if len({split_key(r) for r in runs}) > 1:
        st.warning(
            f"These runs used different splits: test users, held-out items and hits come from "
            f"the split of {display_label(ref)}."
        )
    parts = run_split(ref.id)
    user = pick_user(_test_users(url, ref.id))
    if not user:
        st.info("Type a user id above or pick one from the list.")
        return
    try:
        view = core.user_view(parts, user)
    except InputError as exc:
        st.error(str(exc))
        return
    show_user(view)
    top_n = stored_top_n(runs)
    k = st.slider("List length K", 1, top_n, min(10, top_n), key="preview_k") if top_n > 1 else 1
    recs = {display_label(r): _user_recommendations(url, r.id, view.user) for r in runs}
    lists = core.user_lists(recs, view, k, parts.train.item_features)
    show_lists(lists, k)
    show_reasons(runs, lists, view.user)
    show_overlap(lists)


page_header("Preview")
picked = dataset_picker("preview")
if picked is not None:
    ds, version = picked
    chosen = pick_runs(ds.id, version.id)
    if chosen:
        preview(chosen)
