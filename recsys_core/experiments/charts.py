"""Plotly figures of an experiment read-out: SRM, lifts with intervals, offline vs online, power.

Axes are in the analyst's units (users, relative lift in %), every trace is named in the
legend, and hover text carries the exact numbers the tables show.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from recsys_core.experiments.power import achieved_power
from recsys_core.experiments.srm import SampleRatio

__all__ = ["lift_chart", "offline_chart", "power_curve", "srm_chart"]

_BAD, _OK, _GREY, _BLUE = "#d62728", "#2ca02c", "#7f7f7f", "#1f77b4"


def srm_chart(srm: SampleRatio) -> go.Figure:
    """Observed users per variant next to what the planned split expects."""
    variants = list(srm.counts)
    fig = go.Figure(
        [
            go.Bar(name="Observed users", x=variants, y=[srm.counts[v] for v in variants],
                   marker_color=_BAD if srm.flagged else _BLUE),
            go.Bar(name="Expected from the planned split", x=variants,
                   y=[srm.expected[v] for v in variants], marker_color=_GREY),
        ]
    )  # fmt: skip
    fig.update_layout(
        barmode="group",
        height=300,
        title=f"Users per variant (SRM chi-square p = {srm.p_value:.3g})",
        xaxis_title="Variant",
        yaxis_title="Users",
        legend={"orientation": "h", "y": -0.3},
        margin={"t": 50, "b": 10},
    )
    return fig


def lift_chart(lifts: pd.DataFrame) -> go.Figure:
    """Relative lift per metric and variant: fixed-horizon CI (thick) and always-valid (thin)."""
    rows = lifts.iloc[::-1]
    labels = rows["metric"] + " · " + rows["variant"]
    pct = 100.0
    colours = np.where(rows["significant"], np.where(rows["lift"] > 0, _OK, _BAD), _GREY)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            name="Always-valid interval (sequential)",
            x=rows["lift"] * pct, y=labels, mode="markers",
            marker={"symbol": "line-ew-open", "size": 16, "color": _GREY, "line": {"width": 1}},
            error_x={"type": "data", "symmetric": False, "thickness": 1, "width": 0,
                     "array": (rows["seq_ci_high"] - rows["lift"]) * pct,
                     "arrayminus": (rows["lift"] - rows["seq_ci_low"]) * pct, "color": _GREY},
            hoverinfo="skip",
        )
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            name="Lift with its confidence interval",
            x=rows["lift"] * pct, y=labels, mode="markers",
            marker={"size": 10, "color": colours},
            error_x={"type": "data", "symmetric": False, "thickness": 4, "width": 0,
                     "array": (rows["ci_high"] - rows["lift"]) * pct,
                     "arrayminus": (rows["lift"] - rows["ci_low"]) * pct},
            customdata=np.stack([rows["ci_low"] * pct, rows["ci_high"] * pct, rows["p_holm"]], 1),
            hovertemplate="%{y}<br>lift %{x:+.2f}% [%{customdata[0]:+.2f}%, "
            "%{customdata[1]:+.2f}%]<br>Holm p %{customdata[2]:.3g}<extra></extra>",
        )
    )  # fmt: skip
    fig.add_vline(x=0, line_color="black", line_width=1)
    fig.update_layout(
        height=190 + 40 * len(rows),
        title="Relative lift over control (green/red: significant after Holm)",
        xaxis_title="Relative lift (%)",
        yaxis_title=None,
        legend={"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
        margin={"t": 90, "b": 10, "l": 10},
    )
    fig.update_xaxes(ticksuffix="%", zeroline=False)
    return fig


def offline_chart(pairs: pd.DataFrame, offline_metric: str, online_metric: str) -> go.Figure:
    """One point per (experiment, variant): offline delta (x) against online lift (y)."""
    rows = pairs[(pairs["offline_metric"] == offline_metric)
                 & (pairs["online_metric"] == online_metric)]  # fmt: skip
    pct = 100.0
    fig = go.Figure(
        go.Scatter(
            x=rows["offline_delta"] * pct, y=rows["online_lift"] * pct,
            mode="markers+text", text=rows["experiment"] + " · " + rows["variant"],
            textposition="top center", marker={"size": 11, "color": _BLUE},
            name="Experiment variant",
            error_y={"type": "data", "symmetric": False,
                     "array": (rows["online_ci_high"] - rows["online_lift"]) * pct,
                     "arrayminus": (rows["online_lift"] - rows["online_ci_low"]) * pct},
        )
    )  # fmt: skip
    fig.add_hline(y=0, line_color="black", line_width=1)
    fig.add_vline(x=0, line_color="black", line_width=1)
    x = np.append(rows["offline_delta"].to_numpy(float) * pct, 0.0)
    pad = 0.25 * max(float(np.nanmax(x) - np.nanmin(x)), 1.0)  # room for the point labels
    fig.update_xaxes(range=[float(np.nanmin(x)) - pad, float(np.nanmax(x)) + pad])
    fig.update_layout(
        height=420,
        title=f"Offline {offline_metric} change vs online {online_metric} lift",
        xaxis_title=f"Offline {offline_metric}: variant's run vs control's run (%)",
        yaxis_title=f"Online {online_metric} lift (%, 95% CI)",
        margin={"t": 50},
    )
    fig.update_xaxes(ticksuffix="%")
    fig.update_yaxes(ticksuffix="%")
    return fig


def power_curve(mean: float, sd: float, mde: float, n_needed: int, alpha: float) -> go.Figure:
    """Power against control users, with the plan's size marked."""
    n = np.unique(np.linspace(max(10, n_needed // 20), 2.5 * n_needed, 80).astype(int))
    power = [achieved_power(mean, sd, mde, int(k), alpha=alpha) for k in n]
    fig = go.Figure(go.Scatter(x=n, y=np.array(power) * 100, mode="lines", name="Power"))
    fig.add_vline(x=n_needed, line_dash="dash", annotation_text=f"{n_needed:,} per arm")
    fig.update_layout(
        height=320,
        title=f"Power to detect a {mde:+.1%} lift",
        xaxis_title="Users per arm",
        yaxis_title="Power (%)",
        margin={"t": 50},
    )
    fig.update_yaxes(range=[0, 100], ticksuffix="%")
    return fig
