"""Synthetic experiment logs with a known lift and, on request, a planted sample-ratio mismatch.

Each user gets an activity level (gamma) that drives both their pre-period revenue and their
outcomes, so CUPED has a real correlation to use. Treatment multiplies the click-through
rate and the expected revenue by (1 + lift): the true relative lift of every metric
(exposures aside, which the variant does not change) is exactly the planted one.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from recsys_core.errors import InputError

__all__ = ["SAMPLE_LIFTS", "sample_log", "synthetic_log"]

#: The sample the Experiments page loads: a clear win, a flat variant and a ratio metric.
SAMPLE_LIFTS: dict[str, float] = {"control": 0.0, "new_ranker": 0.06, "popular_boost": 0.0}
_BASE_CTR = 0.06
_CONVERT = 0.12
_REVENUE_PER_ACTIVITY = 8.0
_START = pd.Timestamp("2026-03-02T00:00:00Z")


def _check(lifts: Mapping[str, float], n_users: int, shares: np.ndarray) -> None:
    if len(lifts) < 2:
        raise InputError("A synthetic experiment needs at least two variants.")
    if n_users < 10 * len(lifts):
        raise InputError(f"Ask for at least {10 * len(lifts)} users ({len(lifts)} variants).")
    if np.any(~np.isfinite(shares)) or np.any(shares <= 0):
        raise InputError("Variant shares must be positive numbers.")


def synthetic_log(
    n_users: int = 40_000,
    lifts: Mapping[str, float] | None = None,
    *,
    split: Mapping[str, float] | None = None,
    seed: int = 0,
    days: int = 14,
) -> pd.DataFrame:
    """One row per user: user_id, variant, assigned_at (ISO), outcomes and pre_revenue.

    Args:
        n_users: users in the experiment.
        lifts: variant -> true relative lift; the first variant is the control (lift 0).
            Default :data:`SAMPLE_LIFTS`.
        split: variant -> share of users actually assigned (default equal). Give shares that
            differ from the plan you analyse with to plant a sample-ratio mismatch.
        seed: random seed; the same seed gives the same log.
        days: the assignment window.
    """
    lifts = dict(lifts or SAMPLE_LIFTS)
    names = list(lifts)
    shares = np.array([float((split or {}).get(v, 1.0)) for v in names])
    _check(lifts, n_users, shares)
    rng = np.random.default_rng(seed)
    arm = rng.choice(len(names), size=n_users, p=shares / shares.sum())
    lift = np.array([lifts[v] for v in names])[arm]
    activity = rng.gamma(shape=1.5, scale=1 / 1.5, size=n_users)
    exposures = rng.poisson(2 + 18 * activity)
    clicks = rng.binomial(exposures, np.clip(_BASE_CTR * (1 + lift), 0, 1))
    conversions = rng.binomial(clicks, _CONVERT)
    revenue = _REVENUE_PER_ACTIVITY * activity * (1 + lift) * rng.gamma(4.0, 0.25, n_users)
    pre_revenue = _REVENUE_PER_ACTIVITY * activity * rng.gamma(4.0, 0.25, n_users)
    assigned = _START + pd.to_timedelta(rng.uniform(0, days * 86_400, n_users), unit="s")
    return pd.DataFrame(
        {
            "user_id": np.char.add("u", np.char.zfill(np.arange(n_users).astype(str), 6)),
            "variant": np.array(names)[arm],
            "assigned_at": assigned.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "exposures": exposures,
            "clicks": clicks,
            "conversions": conversions,
            "revenue": np.round(revenue, 2),
            "pre_revenue": np.round(pre_revenue, 2),
        }
    )


def sample_log() -> pd.DataFrame:
    """The sample the Experiments page loads: 40,000 users, :data:`SAMPLE_LIFTS`, seed 2."""
    return synthetic_log(seed=2)
