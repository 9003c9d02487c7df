"""Two-stage recommendation: candidates from generator models, reordered by a learned ranker.

The model lives in :mod:`recsys_core.models.ranker` (the registry imports it from there);
this module is the public face: the model, its candidate step and the honest comparison.
"""

from __future__ import annotations

from recsys_core.models.ranker import (
    Candidates,
    GeneratorSpec,
    TwoStageConfig,
    TwoStageRanker,
    candidates,
    generator_keys,
)

__all__ = [
    "Candidates",
    "GeneratorSpec",
    "TwoStageConfig",
    "TwoStageRanker",
    "candidates",
    "comparison_note",
    "generator_keys",
]


def comparison_note(
    ranker_metrics: dict[str, float], candidate_metrics: dict[str, dict[str, float]]
) -> str | None:
    """A plain warning when the ranker does not beat its best candidate model, else None.

    Args:
        ranker_metrics: metric label -> the ranker's value (higher is better).
        candidate_metrics: generator name -> its metric label -> value.
    """
    notes = []
    for label, value in ranker_metrics.items():
        rivals = {n: m[label] for n, m in candidate_metrics.items() if label in m}
        if not rivals:
            continue
        best = max(rivals, key=lambda name: rivals[name])
        if not value > rivals[best]:
            notes.append(
                f"{label}: the ranker ({value:.4f}) does not beat its best candidate model "
                f"{best} ({rivals[best]:.4f})"
            )
    if not notes:
        return None
    return (
        "; ".join(notes) + ". The second stage adds no accuracy here: use the candidate model "
        "alone, or give the ranker more validation data or features."
    )
