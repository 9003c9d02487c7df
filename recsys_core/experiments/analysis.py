"""One experiment's read-out: SRM first, then per-variant values and lifts, corrected.

For every metric and every non-control variant: the relative lift over control with its
delta-method interval (CUPED-adjusted when the metric has a pre-period column), the
fixed-horizon p-value, the Holm-adjusted p-value across all variants x metrics, and the
always-valid (mSPRT) p-value and interval that stay valid when the test is read early.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from recsys_core.errors import InputError
from recsys_core.experiments.cuped import cuped
from recsys_core.experiments.log import VARIANT, ExperimentLog
from recsys_core.experiments.sequential import DEFAULT_TAU, msprt
from recsys_core.experiments.srm import SRM_THRESHOLD, SampleRatio, srm_test
from recsys_core.experiments.stats import (
    Estimate,
    mean_estimate,
    moments,
    ratio_estimate,
    relative_lift,
)
from recsys_core.experiments.stats import holm as holm_adjust

__all__ = ["AnalysisSpec", "ExperimentResult", "analyze", "parse_ratio", "parse_split"]

_RATIO = re.compile(r"^\s*(?P<name>[^=]+?)\s*=\s*(?P<num>[^/]+?)\s*/\s*(?P<den>.+?)\s*$")


class AnalysisSpec(BaseModel):
    """What to analyse and how; the CLI flags and the page's widgets fill it."""

    model_config = ConfigDict(extra="forbid")

    control: str = Field(description="The control variant every other is compared with.")
    metrics: list[str] | None = Field(
        default=None, description="Mean metrics (default: all outcomes)."
    )
    ratios: dict[str, tuple[str, str]] = Field(
        default_factory=dict, description="Ratio metrics: name -> (numerator, denominator)."
    )
    planned_split: dict[str, float] | None = Field(default=None, description="Planned shares.")
    planned_users: int | None = Field(
        default=None, gt=0, description="Users the test was sized for."
    )
    alpha: float = Field(default=0.05, gt=0, lt=1, description="Two-sided significance level.")
    srm_threshold: float = Field(default=SRM_THRESHOLD, gt=0, lt=1, description="SRM alarm below.")
    cuped: bool = Field(default=True, description="Adjust metrics that have a pre-period column.")
    tau: float = Field(default=DEFAULT_TAU, gt=0, description="mSPRT mixture scale.")


def parse_ratio(text: str) -> tuple[str, tuple[str, str]]:
    """``"CTR=clicks/exposures"`` -> ``("CTR", ("clicks", "exposures"))``."""
    match = _RATIO.match(text)
    if not match:
        raise InputError(f"A ratio metric is NAME=NUMERATOR/DENOMINATOR; got {text!r}.")
    return match["name"], (match["num"], match["den"])


def parse_split(text: str) -> dict[str, float]:
    """``"A=0.5,B=0.5"`` (or percentages ``A=50,B=50``) -> shares."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        try:
            out[name.strip()] = float(value.strip().rstrip("%"))
        except ValueError:
            raise InputError(f"A planned split is VARIANT=SHARE,...; got {part!r}.") from None
        if not sep or not name.strip():
            raise InputError(f"A planned split is VARIANT=SHARE,...; got {part!r}.")
    return out


@dataclass(frozen=True, eq=False)
class ExperimentResult:
    """The read-out. ``lifts`` has one row per metric x non-control variant."""

    spec: AnalysisSpec
    srm: SampleRatio
    variants: pd.DataFrame
    lifts: pd.DataFrame
    cuped: pd.DataFrame
    warnings: tuple[str, ...]
    n_users: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "control": self.spec.control,
            "n_users": self.n_users,
            "srm": self.srm.__dict__,
            "warnings": list(self.warnings),
            "variants": self.variants.to_dict(orient="records"),
            "lifts": self.lifts.to_dict(orient="records"),
            "cuped": self.cuped.to_dict(orient="records"),
        }


def _order(log: ExperimentLog, control: str) -> list[str]:
    variants = log.variants
    if control not in variants:
        raise InputError(f"The control {control!r} is not in the log; its variants are {variants}.")
    return [control, *[v for v in variants if v != control]]


def _metric_names(log: ExperimentLog, spec: AnalysisSpec) -> list[str]:
    names = list(log.metrics) if spec.metrics is None else spec.metrics
    needed = names + [c for pair in spec.ratios.values() for c in pair]
    unknown = sorted({m for m in needed if m not in log.metrics})
    if unknown:
        raise InputError(f"Unknown metric(s) {unknown}; the log's metrics are {list(log.metrics)}.")
    if not names and not spec.ratios:
        raise InputError("Pick at least one metric to analyse.")
    return names


def _estimates(
    log: ExperimentLog, order: list[str], name: str, spec: AnalysisSpec
) -> tuple[dict[str, Estimate], dict[str, Estimate], dict[str, Any] | None]:
    """Raw and (maybe CUPED-adjusted) estimates per variant, and the CUPED report."""
    groups = log.users[VARIANT].to_numpy()
    if name in spec.ratios:
        num, den = spec.ratios[name]
        x, y = log.users[num].to_numpy(float), log.users[den].to_numpy(float)
        raw = {v: ratio_estimate(moments(x[groups == v], y[groups == v])) for v in order}
        return raw, raw, None
    values = log.users[name].to_numpy(float)
    raw = {v: mean_estimate(moments(values[groups == v])) for v in order}
    covariate = log.pre.get(name)
    if not (spec.cuped and covariate):
        return raw, raw, None
    adj = cuped(values, log.users[covariate].to_numpy(float))
    adjusted = {v: mean_estimate(moments(adj.adjusted[groups == v])) for v in order}
    report = {
        "metric": name,
        "covariate": covariate,
        "theta": float(adj.theta),
        "correlation": float(adj.correlation),
        "variance_reduction": float(adj.variance_reduction),
    }
    return raw, adjusted, report


def _variant_rows(
    name: str, kind: str, raw: dict[str, Estimate], counts: dict[str, int], alpha: float
) -> list[dict[str, Any]]:
    rows = []
    for v, est in raw.items():
        low, high = est.interval(alpha)
        rows.append(
            {
                "metric": name,
                "kind": kind,
                "variant": v,
                "users": counts[v],
                "value": float(est.value),
                "ci_low": float(low),
                "ci_high": float(high),
            }
        )
    return rows


def _lift_rows(
    name: str, order: list[str], est: dict[str, Estimate], spec: AnalysisSpec, adjusted: bool
) -> list[dict[str, Any]]:
    control = est[order[0]]
    rows = []
    for v in order[1:]:
        lift = relative_lift(est[v], control, spec.alpha)
        seq = msprt(lift.value, lift.se**2, spec.alpha, spec.tau)
        rows.append(
            {
                "metric": name,
                "variant": v,
                "control": order[0],
                "control_value": float(control.value),
                "variant_value": float(est[v].value),
                "lift": float(lift.value),
                "ci_low": float(lift.ci_low),
                "ci_high": float(lift.ci_high),
                "p_value": float(lift.p_value),
                "seq_p_value": float(seq.p_value),
                "seq_ci_low": float(seq.ci_low),
                "seq_ci_high": float(seq.ci_high),
                "cuped": adjusted,
            }
        )
    return rows


def analyze(log: ExperimentLog, spec: AnalysisSpec) -> ExperimentResult:
    """Analyse a validated log; see the module docstring for what each column means.

    Raises:
        InputError: the control or a metric is not in the log, or the planned split names
            other variants than the log.
    """
    order = _order(log, spec.control)
    names = _metric_names(log, spec)
    sizes = log.users[VARIANT].value_counts()
    counts = {v: int(sizes[v]) for v in order}
    srm = srm_test(counts, spec.planned_split, spec.srm_threshold)
    variant_rows, lift_rows, cuped_rows = [], [], []
    for name in [*names, *spec.ratios]:
        kind = "ratio" if name in spec.ratios else "mean"
        raw, used, report = _estimates(log, order, name, spec)
        variant_rows += _variant_rows(name, kind, raw, counts, spec.alpha)
        lift_rows += _lift_rows(name, order, used, spec, report is not None)
        cuped_rows += [report] if report else []
    lifts = pd.DataFrame(lift_rows)
    p_holm = holm_adjust(lifts["p_value"].to_numpy())
    at = list(lifts.columns).index("p_value") + 1
    lifts.insert(at, "p_holm", p_holm)
    lifts.insert(at + 1, "significant", p_holm < spec.alpha)
    cuped_frame = pd.DataFrame(
        cuped_rows, columns=["metric", "covariate", "theta", "correlation", "variance_reduction"]
    )
    warnings = _warnings(log, spec, srm, lifts)
    return ExperimentResult(
        spec, srm, pd.DataFrame(variant_rows), lifts, cuped_frame, warnings, len(log.users)
    )


def _warnings(
    log: ExperimentLog, spec: AnalysisSpec, srm: SampleRatio, lifts: pd.DataFrame
) -> tuple[str, ...]:
    out = [srm.message] if srm.flagged else []
    n = len(log.users)
    if spec.planned_users and n < spec.planned_users:
        out.append(
            f"Read early: {n:,} of the {spec.planned_users:,} planned users "
            f"({n / spec.planned_users:.0%}). Fixed-horizon p-values and intervals are only "
            "valid at the planned size; stopping now on them inflates false positives. Decide "
            "on the always-valid (sequential) columns, or wait."
        )
    if not lifts.empty and (~np.isfinite(lifts["lift"])).any():
        out.append("Some lifts are undefined: the control's value is 0 for those metrics.")
    return (*out, *log.warnings)
