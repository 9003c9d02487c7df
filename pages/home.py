"""Home page: the workflow as steps, what the store holds, and the one next step to take."""

from __future__ import annotations

import pages  # noqa: F401  (first, before heavy imports: see pages/__init__.py)

# isort: split

import streamlit as st

from db.runs import Run
from pages._ui import get_store, page_header
from recsys_core.data.samples import load_movielens_small
from recsys_core.errors import InputError
from recsys_core.jobs import datasets as jobs
from recsys_core.jobs.analysis import display_label, list_runs
from recsys_core.jobs.summary import run_summary

PRIMARY = "NDCG@10"
SAMPLE = "movielens-small"
STEPS = [  # (column, page, label, icon, what the analyst does there)
    (0, "pages/data.py", "1 · Data", "database", "Import a file, map its columns, clean it."),
    (1, "pages/train.py", "2 · Train", "model_training", "Pick a split and models; runs train "
     "in the background."),
    (2, "pages/compare.py", "3 · Compare", "leaderboard", "A leaderboard with intervals and "
     "significance."),
    (3, "pages/explain.py", "4 · Explain", "psychology", "Why a model recommends an item."),
    (3, "pages/preview.py", "4 · Preview", "person_search", "One user's history beside each "
     "run's list."),
    (4, "pages/export.py", "5 · Export", "download", "Top-N lists with reasons: CSV, Parquet "
     "or a table."),
]  # fmt: skip


def workflow() -> None:
    """The loop from file to export, each step a link to its page."""
    cols = st.columns(5, border=True)
    for col, path, label, icon, about in STEPS:
        with cols[col]:
            st.page_link(path, label=f"**{label}**", icon=f":material/{icon}:")
            st.caption(about)


def best_run(runs: list[Run], metric: str = PRIMARY) -> tuple[Run, float] | None:
    """The finished full-ranking run with the highest ``metric``; sampled runs are left out
    (their metrics are not comparable with full ranking)."""
    scored = [
        (r, value)
        for r in runs
        if r.status == "done" and r.spec.get("protocol", "full") == "full"
        for value in [run_summary(r).metric(metric)]
        if value is not None
    ]
    return max(scored, key=lambda rv: rv[1]) if scored else None


def holdings(n_datasets: int, n_versions: int, runs: list[Run]) -> None:
    """What the store holds, in four numbers."""
    done = sum(r.status == "done" for r in runs)
    c1, c2, c3, c4 = st.columns([1, 1, 1, 2])
    c1.metric("Datasets", n_datasets)
    c2.metric("Versions", n_versions)
    c3.metric("Runs finished", done, help=f"{len(runs)} runs in all, queued and failed included.")
    best = best_run(runs)
    if best is None:
        c4.metric(f"Best run by {PRIMARY}", "—")
    else:
        c4.metric(f"Best run by {PRIMARY}", f"{best[1]:.4f}", help=display_label(best[0]))
        c4.caption(f"{display_label(best[0])} (full ranking, test side)")


def next_step(n_datasets: int, runs: list[Run]) -> None:
    """One suggestion, from where the analyst stands."""
    if not n_datasets:
        st.info("No data yet. Bring your own file on the Data page, or start with MovieLens.")
        if st.button("Load the MovieLens latest-small sample", type="primary", key="home_sample"):
            load_sample()
        st.page_link("pages/data.py", label="Import a file", icon=":material/upload_file:")
    elif not any(r.status == "done" for r in runs):
        st.info("Data is in. Next: train a few models and see how they rank.")
        st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
    else:
        st.info("Runs are in. Next: compare them, then look at why they recommend what they do.")
        st.page_link("pages/compare.py", label="Go to Compare", icon=":material/leaderboard:")


def load_sample() -> None:
    """Import the bundled MovieLens sample, then rerun so every number above is current."""
    bar = st.progress(0.0, "Importing MovieLens latest-small…")
    try:
        jobs.import_dataset(
            get_store(),
            SAMPLE,
            load_movielens_small(),
            source={"sample": SAMPLE},
            progress=lambda done, total, msg="": bar.progress(done / max(total, 1), msg or None),
        )
    except InputError as exc:
        bar.empty()
        st.error(str(exc))
        return
    st.rerun()


page_header("Recsys Workbench")
INTRO = (
    "Bring interactions and item data, train and compare recommenders, see why they "
    "recommend what they do, and export the lists. Everything stays on this machine."
)
st.caption(INTRO)
st.subheader("The workflow")
workflow()
listing = jobs.list_datasets(get_store())
all_runs = list_runs(get_store())
st.subheader("In the store")
holdings(len(listing), sum(len(vs) for _, vs in listing), all_runs)
st.subheader("Next step")
next_step(len(listing), all_runs)
