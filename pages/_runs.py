"""Run pickers shared by Compare, Preview, Explain and Export: best runs first, by one metric.

The primary metric is chosen once, on Compare, and kept in the session under a plain key
(a widget's own key is dropped when another page runs), so the other pages' pickers order
and preselect runs by the same metric.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from db.runs import Run
from pages._ui import get_store
from recsys_core.jobs.analysis import list_runs
from recsys_core.jobs.selection import PRIMARY, run_options

PRIMARY_KEY = "primary_metric"


def primary_metric() -> str:
    """The metric the analyst ranks runs by (NDCG@10 until they pick another on Compare)."""
    return str(st.session_state.get(PRIMARY_KEY, PRIMARY))


def set_primary_metric(metric: str) -> None:
    st.session_state[PRIMARY_KEY] = metric


def version_runs(dataset_id: int, version_id: int) -> dict[str, Run]:
    """Finished runs of one dataset version by label, best on the primary metric first."""
    runs = [r for r in list_runs(get_store(), dataset_id) if r.version_id == version_id]
    return run_options(runs, primary_metric())


def pick_runs(
    options: dict[str, Run], key: str, *, n_default: int, max_selections: int | None = None
) -> list[Run]:
    """A multiselect of ``options`` preselecting the best ``n_default`` runs."""
    label = "Runs" if max_selections is None else f"Runs (up to {max_selections})"
    chosen: Sequence[str] = st.multiselect(
        label,
        list(options),
        default=list(options)[:n_default],
        max_selections=max_selections,
        key=key,
        help=f"Best first by {primary_metric()} (pick the metric on Compare).",
    )
    if not chosen:
        st.info("Pick at least one run.")
    return [options[c] for c in chosen]


def no_runs_note() -> None:
    st.info("No finished runs on this dataset version yet: queue some on the Train page.")
