"""Explanations: per-recommendation reasons and global feature importance."""

from __future__ import annotations

from recsys_core.explain.global_ import item_embedding_map, permutation_importance
from recsys_core.explain.reasons import explain, explain_many, item_names
from recsys_core.explain.shap_ import (
    beeswarm_figure,
    dependence_figure,
    permutation_importance_rows,
    ranker_reasons,
    shap_importance,
)
from recsys_core.explain.types import Explanation, ExplanationKind

__all__ = [
    "Explanation",
    "ExplanationKind",
    "beeswarm_figure",
    "dependence_figure",
    "explain",
    "explain_many",
    "item_embedding_map",
    "item_names",
    "permutation_importance",
    "permutation_importance_rows",
    "ranker_reasons",
    "shap_importance",
]
