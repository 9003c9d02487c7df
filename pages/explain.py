"""Explain page: why a run recommends what it does, per user, per item and over the catalogue."""

from __future__ import annotations

import pages  # noqa: F401  (first, before heavy imports: see pages/__init__.py)

# isort: split

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from db.runs import Run
from pages._runs import no_runs_note, version_runs
from pages._ui import dataset_picker, get_store, page_header, run_model, run_split
from recsys_core.columns import Columns
from recsys_core.errors import InputError
from recsys_core.explain import (
    Explanation,
    beeswarm_figure,
    dependence_figure,
    explain,
    item_embedding_map,
    item_names,
    permutation_importance,
    shap_importance,
)
from recsys_core.jobs import preview as core
from recsys_core.models.base import Recommender
from recsys_core.splitting import Split

KIND_WORDS = {
    "history": "Each bar is one item from the user's history and how much it adds to the score.",
    "features": "Each bar is one attribute of the item and how much it adds to the score.",
    "modalities": "Each bar is one kind of item data (text, categories, ...) and its share.",
    "components": "Each bar is one part of the model (a blended model or a bias term).",
    "none": "This model gives every user the same kind of reason; there is no breakdown.",
}
#: Test users whose candidates the SHAP section explains (cost grows with candidate rows).
SHAP_USERS = 300
SHAP_MAX_ROWS = 10_000


def _model(url: str, run_id: int) -> Recommender:
    return run_model(run_id)  # kept by the core's run context, shared with the other pages


def _split(url: str, run_id: int) -> Split:
    return run_split(run_id)  # the split training used (predefined splits included)


@st.cache_data(show_spinner=False, max_entries=4)
def _shap(url: str, run_id: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Mean |SHAP| per feature, per-row SHAP values and the rows, for the first test users."""
    model, parts = _model(url, run_id), _split(url, run_id)
    users = model.train_.user_index(core.held_out_users(parts)[:SHAP_USERS])
    feats = model.feature_rows(np.unique(users[users >= 0]))
    importance, values = shap_importance(model, feats, max_rows=SHAP_MAX_ROWS)
    return importance, values, feats.loc[values.index]


def pick_run(dataset_id: int, version_id: int) -> Run | None:
    """One run, the best on the primary metric preselected."""
    options = version_runs(dataset_id, version_id)
    if not options:
        no_runs_note()
        return None
    return options[st.selectbox("Run", list(options), key="explain_run")]


def pick_user(parts: Split) -> str:
    users = core.held_out_users(parts)
    c1, c2 = st.columns([1, 2])
    query = c1.text_input("Find a user", placeholder="user id or part of it", key="explain_q")
    matches = core.find_users(users, query)
    if not matches:
        return query.strip()
    return str(c2.selectbox(f"User ({len(matches):,} shown)", matches, key="explain_user"))


def contributions_chart(expl: Explanation, key: str, n: int = 10) -> None:
    if expl.contributions.empty:
        st.caption(KIND_WORDS["none"])
        return
    top = expl.contributions.head(n).iloc[::-1]
    names = top["name"].astype(str).tolist()
    # graph objects, not plotly express: several charts per rerun, a quarter of the cost
    fig = go.Figure(go.Bar(x=top["value"].to_numpy(), y=names, orientation="h"))
    # numeric ids or years must not become a continuous axis (bars turn into hairlines)
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=names)
    fig.update_layout(
        height=60 + 28 * len(top), margin={"t": 10, "b": 10}, xaxis_title="adds to the score"
    )
    st.plotly_chart(fig, width="stretch", key=key)
    note = KIND_WORDS[expl.kind]
    if abs(expl.residual) > 1e-6 * max(1.0, abs(expl.score)):
        note += f" A further {expl.residual:+.4f} belongs to no single reason (e.g. a shift)."
    st.caption(note)


def user_view(model: Recommender, parts: Split, user: str, k: int) -> pd.DataFrame:
    """The user's top-k, each with its sentence and, folded away, its contributions."""
    recs = model.recommend([user], k)
    names = item_names(parts.train, recs[Columns.item].tolist())
    st.subheader(f"Top {len(recs)} for user {user} and why")
    for row, name in zip(recs.itertuples(index=False), names, strict=True):
        item = getattr(row, Columns.item)
        expl = explain(model, parts.train, user, item)
        st.markdown(
            f"**{getattr(row, Columns.rank)}. {name}** (score {expl.score:.4f})  \n{expl.sentence}"
        )
        with st.expander("What the score is made of"):
            contributions_chart(expl, key=f"explain_chart_{item}")
    return recs


def item_view(model: Recommender, parts: Split, user: str, recs: pd.DataFrame) -> None:
    st.subheader("One item in detail")
    st.caption("Pick any catalogue item, recommended or not, to see what drives its score.")
    ids = [str(i) for i in model.train_.item_ids]
    names = dict(zip(ids, item_names(parts.train, ids), strict=True))
    first = ids.index(str(recs[Columns.item].iloc[0])) if len(recs) else 0
    item = st.selectbox(
        "Item",
        ids,
        index=first,
        key="explain_item",
        format_func=lambda i: names[i] if names[i] == i else f"{names[i]} ({i})",
    )
    expl = explain(model, parts.train, user, item, n=10)
    st.markdown(
        f"**{item_names(parts.train, [item])[0]}**: score {expl.score:.4f}. {expl.sentence}"
    )
    contributions_chart(expl, key="explain_item_chart", n=15)
    if model.capabilities.feature_reasons:
        u, i = model.train_.user_index([user])[0], model.train_.item_index([item])[0]
        feats = pd.DataFrame(model.explain_features(u, i, n=10), columns=["feature", "adds"])
        st.markdown("**Item attributes shared with the user's history**")
        st.dataframe(feats, hide_index=True, width="stretch")


def global_importance(model: Recommender, parts: Split) -> None:
    st.subheader("Which item data matters (permutation importance)")
    if not model.capabilities.feature_groups:
        st.info(
            f"The {model.name} model does not use item features, so there is nothing to "
            "shuffle. Train a content, two_tower or fusion model to see this."
        )
        return
    st.caption(
        "Each group of item data (text, categories, numbers, images) is shuffled across items "
        "and the test NDCG@10 measured again. A big drop means the model relies on that "
        "group; a drop near 0 (interval crossing 0) means it could do without it."
    )
    repeats = int(st.number_input("Shuffles per group", 2, 20, 5, key="explain_repeats"))
    if not st.button("Compute importance", key="explain_importance"):
        return
    bar = st.progress(0.0, text="Shuffling…")

    def progress(done: int, total: int, message: str = "") -> None:
        bar.progress(done / max(total, 1), text=message)

    table = permutation_importance(model, parts, n_repeats=repeats, progress=progress)
    bar.empty()
    plot = table.assign(
        above=table["ci_high"] - table["mean_drop"], below=table["mean_drop"] - table["ci_low"]
    )
    fig = px.bar(plot, x="group", y="mean_drop", error_y="above", error_y_minus="below")
    fig.update_layout(yaxis_title="drop in NDCG@10 when shuffled")
    st.plotly_chart(fig, width="stretch")
    st.dataframe(table, hide_index=True, width="stretch")


def shap_section(model: Recommender, run: Run) -> None:
    """Which engineered features move the ranker's score, over many users' candidates."""
    st.subheader("What drives the ranker (SHAP)")
    st.caption(
        f"SHAP splits each candidate's ranker score into one push per feature. Computed on "
        f"the candidates of up to {SHAP_USERS} test users ({SHAP_MAX_ROWS:,} rows at most)."
    )
    flag = f"explain_shap_on_{run.id}"
    if st.button("Compute SHAP values", key="explain_shap"):
        st.session_state[flag] = True
    if not st.session_state.get(flag):
        return
    with st.spinner("Computing SHAP values of the candidates…"):
        try:
            importance, values, feats = _shap(get_store().url, run.id)
        except InputError as exc:
            st.error(str(exc))
            return
    shap_charts(importance, values, feats)
    feature_table(model, importance)


def shap_charts(importance: pd.DataFrame, values: pd.DataFrame, feats: pd.DataFrame) -> None:
    top = importance.iloc[0]
    st.markdown(
        f"**{top['feature']}** moves the ranker's score the most: on average it shifts a "
        f"candidate's score by {top['mean_abs_shap']:.3f} either way."
    )
    fig = px.bar(
        importance.iloc[::-1],
        x="mean_abs_shap",
        y="feature",
        orientation="h",
        labels={"mean_abs_shap": "mean |SHAP| (average push on the score)", "feature": ""},
    )
    fig.update_layout(height=60 + 24 * len(importance), margin={"t": 10, "b": 10})
    st.plotly_chart(fig, width="stretch", key="explain_shap_bar")
    st.caption(
        "Each dot is one candidate: right of 0 the feature raised its score, left lowered it; "
        "red means a high feature value, blue a low one."
    )
    st.plotly_chart(beeswarm_figure(values, feats), width="stretch", key="explain_shap_swarm")
    name = st.selectbox("Feature in detail", importance["feature"].tolist(), key="explain_dep")
    st.caption("How the feature's push on the score changes with its value.")
    fig = dependence_figure(values, feats, str(name))
    st.plotly_chart(fig, width="stretch", key="explain_shap_dependence")


def feature_table(model: Recommender, importance: pd.DataFrame) -> None:
    words = model.feature_descriptions()
    table = importance.assign(meaning=importance["feature"].map(words).fillna(""))
    with st.expander("What each feature means"):
        st.dataframe(table, hide_index=True, width="stretch")


def embedding_map(model: Recommender, parts: Split) -> None:
    st.subheader("Map of the items as the model sees them")
    if not model.capabilities.item_vectors:
        st.info(f"The {model.name} model keeps no item vectors, so there is no map to draw.")
        return
    st.caption(
        "Each dot is an item, placed by its learned vector (2-D PCA). Items close together "
        "are treated alike; if colours cluster, the model has learned that category."
    )
    columns = colour_columns(parts.train.item_features)
    color = st.selectbox("Colour by", ["(none)", *columns], key="explain_color")
    points = item_embedding_map(model, parts.train, None if color == "(none)" else color)
    points["name"] = item_names(parts.train, points[Columns.item].tolist())
    fig = px.scatter(points, x="x", y="y", color="label", hover_name="name", opacity=0.7)
    st.plotly_chart(fig, width="stretch")


def colour_columns(table: pd.DataFrame | None) -> list[str]:
    """Item attributes worth colouring by: categories and lists, not the title or ids."""
    if table is None or table.empty:
        return []
    name = core.name_column(table)
    out = []
    for col in table.columns:
        values = table[col].dropna()
        if str(col) == name or values.empty:
            continue
        first = values.map(lambda v: v[0] if isinstance(v, list | tuple | np.ndarray) and len(v)
                           else v)  # fmt: skip
        if first.astype(str).nunique() <= max(30, len(table) // 20):
            out.append(str(col))
    return out


def explain_page(run: Run) -> None:
    url = get_store().url
    try:
        model, parts = _model(url, run.id), _split(url, run.id)
    except InputError as exc:
        st.error(str(exc))
        return
    user = pick_user(parts)
    if not user:
        st.info("Type a user id above or pick one from the list.")
        return
    k = int(st.number_input("Recommendations", 1, 20, 5, key="explain_k"))
    try:
        recs = user_view(model, parts, user, k)
        item_view(model, parts, user, recs)
    except InputError as exc:
        st.error(str(exc))
        return
    if model.capabilities.shap_features:
        shap_section(model, run)
    global_importance(model, parts)
    embedding_map(model, parts)


page_header("Explain")
st.caption("Why a run recommends what it does: in words, in numbers and across the catalogue.")
picked = dataset_picker("explain")
if picked is not None:
    ds, version = picked
    chosen = pick_run(ds.id, version.id)
    if chosen is not None:
        explain_page(chosen)
