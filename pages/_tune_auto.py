"""The Tune page's "Find the best model": settings, the tables as they fill, the outcome."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from recsys_core.errors import InputError
from recsys_core.evaluation.ranking import accuracy_metrics
from recsys_core.tuning_auto import AutoResult, AutoSpec, families_for, parse_auto_spec

METRICS = [m.label for m in accuracy_metrics([5, 10, 20])]

AUTO_NOTE = (
    "Every family is searched on a validation share carved out of the training data, starting "
    "at its defaults (a tuned setting is kept only when it beats them beyond the noise of that "
    "share); families are ranked by validation. The best ones are then trained on all of train "
    "as ordinary runs and scored on the test side, with a blend of them (weights picked on "
    "validation) and a two-stage ranker over the best six. The one to use is chosen on "
    "validation, never on test. Compare them on the Compare page."
)

#: Metric values to 4 decimals, seconds to 1: the raw floats crowd out the params column.
_FORMAT = {
    "validation": st.column_config.NumberColumn(format="%.4f"),
    "test": st.column_config.NumberColumn(format="%.4f"),
    "seconds": st.column_config.NumberColumn(format="%.1f"),
}


def auto_settings(dataset: str, version: int) -> AutoSpec | None:
    """Budget, metric, seed and how many families become runs."""
    c1, c2, c3, c4 = st.columns(4)
    budget = c1.number_input("Budget (minutes)", 0.5, 24 * 60.0, 10.0, 0.5, key="auto_budget")
    metric = c2.selectbox("Metric (maximised)", METRICS, index=METRICS.index("NDCG@10"),
                          key="auto_metric")  # fmt: skip
    top_n = c3.number_input("Best families run", 1, 5, 3, key="auto_top")
    seed = c4.number_input("Seed", 0, 2**31 - 1, 42, key="auto_seed")
    try:
        spec = parse_auto_spec(
            {"dataset": dataset, "version": version, "budget_minutes": budget, "metric": metric,
             "top_n": top_n, "seed": seed}
        )  # fmt: skip
    except InputError as exc:
        st.error(str(exc))
        return None
    st.caption(
        f"Families, in this order: {', '.join(families_for(spec))}. About "
        f"{spec.search_share:.0%} of the budget goes to the search, the rest to the final runs. "
        + AUTO_NOTE
    )
    return spec


def auto_tables(families: pd.DataFrame | None, runs: pd.DataFrame | None, metric: str) -> None:
    """The families ranked so far and the runs trained so far."""
    st.subheader(f"Families by validation {metric}")
    if families is None or families.empty:
        st.caption("The first family is being searched.")
    else:
        st.dataframe(
            families, hide_index=True, width="stretch", key="auto_families", column_config=_FORMAT
        )
    if runs is not None and not runs.empty:
        st.subheader(f"Runs on the test side ({metric})")
        st.dataframe(runs, hide_index=True, width="stretch", key="auto_runs", column_config=_FORMAT)


def show_auto(spec: AutoSpec, result: AutoResult) -> None:
    """The outcome: the run chosen on validation (with its test value), then both tables."""
    if result.cancelled:
        st.info("Cancelled: the tables cover the families and runs that finished.")
    chosen = result.runs[result.runs["chosen"]]
    if not chosen.empty:
        best = chosen.iloc[0]
        st.success(
            f"Chosen on validation: {best['label']} (run #{best['run_id']}), {result.metric} "
            f"{best['validation']:.4f} on validation, {best['test']:.4f} on the test side. "
            f"Searched {len(result.families)} families in {result.seconds / 60:.1f} min on "
            f"{result.n_fit:,} fit and {result.n_validation:,} validation interactions."
        )
    auto_tables(result.families, result.runs, result.metric)
