"""Sample-ratio mismatch: are the users split across variants as planned?

A chi-square goodness-of-fit test of the user counts against the planned split. A mismatch
means the assignment or the logging is broken (bots filtered in one arm, a redirect losing
users), and then no lift in the experiment can be trusted. The default threshold p < 0.001
(GrowthBook's and Eppo's) flags a healthy experiment once in a thousand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

from recsys_core.errors import InputError

__all__ = ["SRM_THRESHOLD", "SampleRatio", "planned_proportions", "srm_pvalues", "srm_test"]

SRM_THRESHOLD = 0.001


def srm_pvalues(counts: np.ndarray, proportions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chi-square statistic and p-value of counts (..., k) against proportions (k,)."""
    counts = np.asarray(counts, dtype=np.float64)
    expected = counts.sum(axis=-1, keepdims=True) * np.asarray(proportions, dtype=np.float64)
    chi2 = ((counts - expected) ** 2 / expected).sum(axis=-1)
    return chi2, stats.chi2.sf(chi2, df=counts.shape[-1] - 1)


@dataclass(frozen=True)
class SampleRatio:
    """The SRM check of one experiment, ready to show first."""

    counts: dict[str, int]
    expected: dict[str, float]
    planned: dict[str, float]
    chi2: float
    p_value: float
    threshold: float
    flagged: bool
    message: str


def planned_proportions(variants: list[str], planned: Mapping[str, float] | None) -> np.ndarray:
    """The planned share per variant (equal when no plan is given), normalised to sum to 1.

    Raises:
        InputError: the plan and the log name different variants, or a share is not positive.
    """
    if not planned:
        return np.full(len(variants), 1 / len(variants))
    missing = [v for v in planned if v not in variants]
    unplanned = [v for v in variants if v not in planned]
    if missing or unplanned:
        parts = []
        if missing:
            parts.append(f"planned variant(s) {missing} have no users in the log")
        if unplanned:
            parts.append(f"the log's variant(s) {unplanned} are not in the planned split")
        raise InputError(f"The planned split does not match the log: {'; '.join(parts)}.")
    shares = np.array([float(planned[v]) for v in variants])
    if not np.all(np.isfinite(shares)) or np.any(shares <= 0):
        raise InputError(f"Planned shares must be positive numbers; got {dict(planned)}.")
    return shares / shares.sum()


def srm_test(
    counts: Mapping[str, int],
    planned: Mapping[str, float] | None = None,
    threshold: float = SRM_THRESHOLD,
) -> SampleRatio:
    """Test the user counts per variant against the planned split (equal shares by default)."""
    variants = list(counts)
    shares = planned_proportions(variants, planned)
    observed = np.array([counts[v] for v in variants], dtype=np.float64)
    chi2, p = srm_pvalues(observed, shares)
    total = observed.sum()
    expected = {v: float(total * s) for v, s in zip(variants, shares, strict=True)}
    flagged = bool(p < threshold)
    split = ", ".join(f"{v} {c / total:.1%}" for v, c in zip(variants, observed, strict=True))
    plan = ", ".join(f"{v} {s:.1%}" for v, s in zip(variants, shares, strict=True))
    if flagged:
        message = (
            f"Sample-ratio mismatch: users split {split} against a planned {plan} "
            f"(chi-square p = {float(p):.2g} < {threshold:g}). The assignment or the logging "
            "is broken; do not trust the lifts below until the cause is found."
        )
    else:
        message = (
            f"No sample-ratio mismatch: {split} against a planned {plan} (p = {float(p):.3g})."
        )
    return SampleRatio(
        counts={v: int(c) for v, c in zip(variants, observed, strict=True)},
        expected=expected,
        planned=dict(zip(variants, map(float, shares), strict=True)),
        chi2=float(chi2),
        p_value=float(p),
        threshold=threshold,
        flagged=flagged,
        message=message,
    )
