"""Reading and validating experiment logs, and the analysis of whole (synthetic) logs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_core.data.io import read_table
from recsys_core.errors import InputError
from recsys_core.experiments import (
    AnalysisSpec,
    ExperimentLog,
    analyze,
    infer_log_mapping,
    parse_ratio,
    parse_split,
    synthetic_log,
    validate_log,
)


def _log(text: str, name: str = "exp.csv") -> ExperimentLog:
    raw = read_table(text.encode(), name)
    return validate_log(raw, infer_log_mapping(raw.frame))


def _from_frame(frame: pd.DataFrame) -> ExperimentLog:
    return _log(frame.to_csv(index=False))


def test_mapping_is_inferred_with_pre_period_columns_paired() -> None:
    raw = read_table(
        b"visitor_id,arm,assigned_at,clicks,views,revenue,pre_revenue\nu1,A,0,1,2,3,4\n"
    )
    mapping = infer_log_mapping(raw.frame)
    assert (mapping.user, mapping.variant, mapping.assigned_at) == (
        "visitor_id",
        "arm",
        "assigned_at",
    )
    assert mapping.metrics == ["clicks", "views", "revenue"]
    assert mapping.pre == {"revenue": "pre_revenue"}


def test_event_rows_are_summed_per_user_and_assignment_is_the_earliest() -> None:
    log = _log(
        "user,variant,assigned_at,event_time,clicks\n"
        "a,A,100,150,1\na,A,100,160,2\nb,B,120,130,5\nc,B,90,,0\n"
    )
    users = log.users.set_index("user_id")
    assert users.loc["a", "clicks"] == 3
    assert users.loc["b", "clicks"] == 5
    assert users.loc["a", "assigned_at"] == 100
    assert log.n_rows == 4


def test_a_user_in_two_variants_is_refused_with_examples() -> None:
    with pytest.raises(
        InputError, match=r"1 user\(s\) appear in more than one variant \(e\.g\. u2: A, B\)"
    ):
        _log("user,variant,clicks\nu1,A,1\nu2,A,0\nu2,B,1\nu3,B,2\n")


def test_outcomes_before_assignment_are_refused_with_line_numbers() -> None:
    text = (
        "user,variant,assigned_at,event_time,clicks\n"
        "u1,A,100,150,1\nu2,B,200,150,1\nu3,B,300,310,1\n"
    )
    with pytest.raises(InputError, match=r"1 outcome row\(s\) happened before .*lines 3\)"):
        _log(text)


def test_a_single_variant_is_refused() -> None:
    with pytest.raises(InputError, match="only the variant"):
        _log("user,variant,clicks\nu1,A,1\nu2,A,0\n")


def test_missing_control_and_planned_variants_are_named() -> None:
    log = _log("user,variant,clicks\nu1,A,1\nu2,B,0\nu3,B,1\n")
    with pytest.raises(
        InputError, match=r"control 'C' is not in the log; its variants are \['A', 'B'\]"
    ):
        analyze(log, AnalysisSpec(control="C"))
    with pytest.raises(InputError, match=r"planned variant\(s\) \['C'\] have no users"):
        analyze(log, AnalysisSpec(control="A", planned_split={"A": 1, "B": 1, "C": 1}))
    with pytest.raises(InputError, match=r"variant\(s\) \['B'\] are not in the planned split"):
        analyze(log, AnalysisSpec(control="A", planned_split={"A": 1}))


def test_bad_numbers_and_unknown_metrics_are_refused() -> None:
    raw = read_table(b"user,variant,clicks\nu1,A,1\nu2,B,x\nu3,B,2\n")
    mapping = infer_log_mapping(raw.frame).model_copy(update={"metrics": ["clicks"]})
    with pytest.raises(InputError, match=r"'clicks' must hold numbers.*lines 3\)"):
        validate_log(raw, mapping)
    log = _log("user,variant,clicks\nu1,A,1\nu2,B,0\nu3,B,1\n")
    with pytest.raises(InputError, match="Unknown metric"):
        analyze(log, AnalysisSpec(control="A", ratios={"CTR": ("clicks", "views")}))


def test_parsers_of_flags() -> None:
    assert parse_ratio("CTR = clicks / exposures") == ("CTR", ("clicks", "exposures"))
    assert parse_split("A=50%, B=50") == {"A": 50.0, "B": 50.0}
    with pytest.raises(InputError):
        parse_ratio("clicks")
    with pytest.raises(InputError):
        parse_split("A:0.5")


# -------------------------------------------------------------------- whole synthetic logs
def test_synthetic_log_recovers_its_planted_lifts_and_finds_no_srm() -> None:
    lifts = {"control": 0.0, "B": 0.05}
    log = _from_frame(synthetic_log(40_000, lifts, seed=11))
    result = analyze(log, AnalysisSpec(control="control", ratios={"CTR": ("clicks", "exposures")}))
    assert not result.srm.flagged
    rows = result.lifts.set_index("metric")
    for metric in ("revenue", "CTR", "clicks"):
        assert rows.loc[metric, "ci_low"] <= 0.05 <= rows.loc[metric, "ci_high"], metric
    assert rows.loc["revenue", "cuped"]
    assert bool(rows.loc["revenue", "significant"])
    assert result.cuped.loc[0, "variance_reduction"] > 0.2


def test_planted_srm_is_flagged_loudly_first() -> None:
    frame = synthetic_log(20_000, {"A": 0.0, "B": 0.0}, split={"A": 0.52, "B": 0.48}, seed=3)
    result = analyze(_from_frame(frame), AnalysisSpec(control="A"))
    assert result.srm.flagged
    assert result.warnings[0].startswith("Sample-ratio mismatch")


def test_reading_before_the_planned_size_warns_about_peeking() -> None:
    log = _from_frame(synthetic_log(2_000, {"A": 0.0, "B": 0.0}, seed=1))
    result = analyze(log, AnalysisSpec(control="A", planned_users=10_000))
    assert any("Read early: 2,000 of the 10,000 planned users (20%)" in w for w in result.warnings)
    full = analyze(log, AnalysisSpec(control="A", planned_users=2_000))
    assert not any("Read early" in w for w in full.warnings)


def test_holm_runs_across_variants_and_metrics() -> None:
    log = _from_frame(synthetic_log(6_000, seed=2))
    result = analyze(log, AnalysisSpec(control="control", metrics=["clicks", "revenue"]))
    assert len(result.lifts) == 4  # 2 metrics x 2 treatments
    p = result.lifts["p_value"].to_numpy()
    assert np.all(result.lifts["p_holm"].to_numpy() >= p)
    assert result.lifts["p_holm"].min() == pytest.approx(min(1.0, 4 * p.min()))
