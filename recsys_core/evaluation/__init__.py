"""Evaluation: metrics by family, evaluate(), significance tests and segments."""

from __future__ import annotations

from recsys_core.evaluation.beyond import (
    ARP,
    BeyondContext,
    Coverage,
    GiniExposure,
    IntraListDiversity,
    Novelty,
    item_feature_matrix,
)
from recsys_core.evaluation.evaluate import (
    EvaluationResult,
    evaluate,
    evaluate_table,
    evaluate_topk,
)
from recsys_core.evaluation.ranking import (
    MAP,
    MRR,
    NDCG,
    HitRate,
    Precision,
    RankingData,
    Recall,
    accuracy_metrics,
    ranking_data,
)
from recsys_core.evaluation.rating import evaluate_ratings, mae, rmse
from recsys_core.evaluation.segments import (
    metrics_by_segment,
    recall_by_item_segment,
    segment_items,
    segment_users,
)
from recsys_core.evaluation.significance import bootstrap_ci, holm, paired_tests

__all__ = [
    "ARP",
    "MAP",
    "MRR",
    "NDCG",
    "BeyondContext",
    "Coverage",
    "EvaluationResult",
    "GiniExposure",
    "HitRate",
    "IntraListDiversity",
    "Novelty",
    "Precision",
    "RankingData",
    "Recall",
    "accuracy_metrics",
    "bootstrap_ci",
    "evaluate",
    "evaluate_ratings",
    "evaluate_table",
    "evaluate_topk",
    "holm",
    "item_feature_matrix",
    "mae",
    "metrics_by_segment",
    "paired_tests",
    "ranking_data",
    "recall_by_item_segment",
    "rmse",
    "segment_items",
    "segment_users",
]
