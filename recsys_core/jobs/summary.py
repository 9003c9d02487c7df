"""Typed run results: what a run hands to the store (RunResult) and reads back (RunSummary).

The summary is stored as JSON in the runs table. Every field has a default, so summaries
written by older versions (fewer keys) still load; keys this version does not know are kept
in the model report and ignored elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from recsys_core.json_values import json_safe

if TYPE_CHECKING:  # `recsys runs` reads summaries without loading pandas
    import pandas as pd

    from db.runs import Run


class SegmentRow(BaseModel):
    """One metric of one segment of a view (user activity, item popularity...)."""

    model_config = ConfigDict(extra="ignore")

    view: str = Field(description="The segmentation, e.g. 'user activity'.")
    segment: str = Field(description="The segment's label, e.g. '5-19'.")
    metric: str = Field(description="Metric label, e.g. 'NDCG@10'.")
    n_users: int = Field(default=0, description="Evaluated users in the segment.")
    mean: float | None = Field(default=None, description="Mean of the per-user values.")
    ci_low: float | None = Field(default=None, description="Bootstrap 95% interval, low end.")
    ci_high: float | None = Field(default=None, description="Bootstrap 95% interval, high end.")


class ModelReport(BaseModel):
    """What the model family itself reported at the end of the run (all optional)."""

    model_config = ConfigDict(extra="allow")

    supports_cold_items: bool | None = Field(
        default=None, description="Whether the model ranks items without training data."
    )
    candidates: dict[str, dict[str, float | None]] = Field(
        default_factory=dict, description="Two-stage rankers: candidate model -> its metrics."
    )
    modality_weights: dict[str, float | None] = Field(
        default_factory=dict, description="Fusion models: learned gate weight per modality."
    )
    ablation: list[dict[str, Any]] = Field(
        default_factory=list, description="Fusion models: metric drop without each modality."
    )
    encoders: dict[str, Any] = Field(
        default_factory=dict, description="Content models: the encoder used per attribute."
    )
    warnings: list[str] = Field(
        default_factory=list, description="Modality coverage warnings of content models."
    )


class RunSummary(BaseModel):
    """The JSON summary kept with a finished run (read side of Compare, Preview, the CLI)."""

    model_config = ConfigDict(extra="ignore")

    metrics: dict[str, float | None] = Field(
        default_factory=dict, description="Metric label -> value (rounded to 6 digits)."
    )
    checks: list[dict[str, Any]] = Field(
        default_factory=list, description="The split's leak and size checks."
    )
    n_train: int | None = Field(default=None, description="Training interactions.")
    n_test: int | None = Field(default=None, description="Test interactions.")
    segments: list[SegmentRow] = Field(default_factory=list, description="Segment views.")
    model: ModelReport = Field(default_factory=ModelReport, description="The model's report.")

    def metric(self, label: str) -> float | None:
        """One metric's value, None when the run did not compute it."""
        return self.metrics.get(label)

    def segment_frame(self) -> pd.DataFrame:
        """The segment rows as a table (empty without segments)."""
        import pandas as pd

        return pd.DataFrame([s.model_dump() for s in self.segments])

    def to_json(self) -> dict[str, Any]:
        """Strict JSON for the store: only the keys that were set, NaN/inf as null."""
        return json_safe(self.model_dump(mode="json", exclude_unset=True))


def run_summary(run: Run) -> RunSummary:
    """The typed summary of a run (empty for runs that have not finished)."""
    return RunSummary.model_validate(run.summary or {})


@dataclass(frozen=True)
class RunResult:
    """Everything a run computed, written to the store in one transaction.

    Attributes:
        metrics: index metric label; columns value, ci_low, ci_high.
        per_user: one row per evaluated user (user column plus one column per metric).
        recommendations: user_id, item_id, score, rank, reason (top-N of every test user).
        artifact_path: the saved model file, None for runs that keep no file.
        artifact_sha256: its checksum.
        timings: seconds per phase.
        summary: the JSON summary kept in the runs table.
    """

    metrics: pd.DataFrame
    per_user: pd.DataFrame
    recommendations: pd.DataFrame
    artifact_path: str | None
    artifact_sha256: str | None
    timings: dict[str, float]
    summary: RunSummary
