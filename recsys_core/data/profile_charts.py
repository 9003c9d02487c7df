"""Plotly figures for the Data page, drawn from aggregated profile numbers."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from recsys_core.data.interactions import Interactions
from recsys_core.data.profile import COLD_THRESHOLD, Profile

#: Most points a line chart gets; longer series are thinned (never 1M points to the browser).
MAX_POINTS = 2_000
_HEAD = 200  # the steep head of the popularity curve is always drawn in full
_ACTIVITY_BINS = 30
_DAY = 86_400
_TEMPLATE = "plotly_white"


def profile_figures(inter: Interactions, prof: Profile) -> dict[str, go.Figure]:
    """The Data page charts; keys appear only when the data supports them.

    Keys: "popularity", "user_activity", "cold_start" always; "ratings" for explicit
    feedback; "over_time" with timestamps; "metadata_coverage" with item or user metadata.
    """
    figures = {
        "popularity": popularity_figure(inter, prof),
        "user_activity": user_activity_figure(inter, prof),
    }
    if prof.ratings is not None:
        figures["ratings"] = ratings_figure(prof)
    if inter.timestamps is not None:
        figures["over_time"] = over_time_figure(inter.timestamps)
    figures["cold_start"] = cold_start_figure(prof)
    if prof.item_coverage or prof.user_coverage:
        figures["metadata_coverage"] = coverage_figure(prof)
    return figures


def _layout(fig: go.Figure, title: str, x: str, y: str) -> go.Figure:
    fig.update_layout(
        title=title, xaxis_title=x, yaxis_title=y, template=_TEMPLATE, showlegend=False
    )
    return fig


def popularity_figure(inter: Interactions, prof: Profile) -> go.Figure:
    """Interactions per item, items ranked from most to least popular, log y (the long tail)."""
    counts = np.sort(np.bincount(inter.items, minlength=inter.n_items))[::-1]
    counts = counts[counts > 0]
    ranks = np.unique(
        np.r_[np.arange(min(_HEAD, len(counts))), np.linspace(0, len(counts) - 1, MAX_POINTS)]
        .astype(np.int64)
    )  # fmt: skip
    fig = go.Figure(go.Scatter(x=ranks + 1, y=counts[ranks], mode="lines", fill="tozeroy"))
    fig.update_yaxes(type="log")
    title = (
        f"Item popularity long tail (Gini {prof.gini_items:.2f};"
        f" the top 20% of items get {prof.top20_share:.0%} of interactions)"
    )
    return _layout(fig, title, "Item rank (1 = most popular)", "Interactions per item (log scale)")


def activity_bins(counts: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Log-spaced integer bins of counts >= 1: labels like "8–12" and the number in each."""
    top = int(counts.max())
    edges = np.unique(np.floor(np.geomspace(1, top + 1, _ACTIVITY_BINS + 1)).astype(np.int64))
    if edges[-1] <= top:
        edges = np.r_[edges, top + 1]
    hist, _ = np.histogram(counts, bins=edges)
    labels = [
        str(lo) if hi - lo == 1 else f"{lo}–{hi - 1}"
        for lo, hi in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True)
    ]
    return labels, hist


def user_activity_figure(inter: Interactions, prof: Profile) -> go.Figure:
    """How many users have how many interactions, on log-spaced bins."""
    counts = np.bincount(inter.users, minlength=inter.n_users)
    labels, hist = activity_bins(counts[counts > 0])
    fig = go.Figure(go.Bar(x=labels, y=hist))
    fig.update_xaxes(type="category")
    title = (
        f"User activity: median {prof.user_activity.median:g} interactions per user"
        f" (min {prof.user_activity.min:,}, max {prof.user_activity.max:,})"
    )
    return _layout(fig, title, "Interactions per user (log-spaced bins)", "Number of users")


def ratings_figure(prof: Profile) -> go.Figure:
    """Count of each rating value (explicit feedback only)."""
    assert prof.ratings is not None
    levels = [r for r, _ in prof.ratings.distribution]
    counts = [c for _, c in prof.ratings.distribution]
    fig = go.Figure(go.Bar(x=levels, y=counts))
    title = f"Ratings: mean {prof.ratings.mean:.2f}, median {prof.ratings.median:g}"
    return _layout(fig, title, "Rating", "Number of ratings")


def time_buckets(timestamps: np.ndarray) -> tuple[str, np.ndarray, np.ndarray]:
    """Counts per day (span <= 90 days), week (<= 3 years, weeks start Monday) or month.

    Returns the bucket name, the bucket start dates (datetime64[D]) and the counts, with
    empty buckets included as zeros so that gaps show as dips, not as straight lines.
    """
    days = timestamps.astype(np.int64) // _DAY
    span = int(days.max() - days.min())
    if span > 3 * 365:
        months = days.astype("datetime64[D]").astype("datetime64[M]")
        full = np.arange(months.min(), months.max() + 1)
        counts = np.bincount((months - months.min()).astype(np.int64), minlength=len(full))
        return "month", full.astype("datetime64[D]"), counts
    if span > 90:
        name, step = "week", 7
        days = days - (days - 4) % 7  # 1970-01-05 (day 4) was a Monday
    else:
        name, step = "day", 1
    first = int(days.min())
    counts = np.bincount((days - first) // step)
    starts = (first + step * np.arange(len(counts))).astype("datetime64[D]")
    return name, starts, counts


def over_time_figure(timestamps: np.ndarray) -> go.Figure:
    """Interactions per day, week or month, whichever suits the span of the data."""
    name, starts, counts = time_buckets(timestamps)
    fig = go.Figure(go.Scatter(x=starts.astype(str), y=counts, mode="lines"))
    title = f"Interactions per {name}, {starts[0]} to {starts[-1]}"
    return _layout(fig, title, f"{name.capitalize()} starting", f"Interactions per {name}")


def cold_start_figure(prof: Profile) -> go.Figure:
    """Shares of users and items with little or no history."""
    labels = [
        f"Users with < {COLD_THRESHOLD} interactions",
        f"Items with < {COLD_THRESHOLD} interactions",
        "Catalogue items never interacted with",
    ]
    shares = [prof.cold_user_share, prof.cold_item_share, prof.unused_item_share]
    fig = go.Figure(go.Bar(x=labels, y=[100 * s for s in shares]))
    fig.update_yaxes(range=[0, 100])
    return _layout(fig, "Cold start: who has little history", "", "Share (%)")


def coverage_figure(prof: Profile) -> go.Figure:
    """Share of active items (users) with a value, per metadata attribute."""
    labels = [f"item: {k}" for k in prof.item_coverage] + [f"user: {k}" for k in prof.user_coverage]
    shares = [*prof.item_coverage.values(), *prof.user_coverage.values()]
    fig = go.Figure(go.Bar(x=labels, y=[100 * s for s in shares]))
    fig.update_yaxes(range=[0, 100])
    title = "Metadata coverage: share of active items / users with a value"
    return _layout(fig, title, "Attribute", "Share with a value (%)")
