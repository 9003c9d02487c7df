"""What a model offers beyond its scores, as one record callers read instead of probing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Capabilities:
    """What a model offers beyond scores, read in one place (:attr:`Recommender.capabilities`).

    Families declare these as class flags (an instance may refine one from its config, see
    ``InstanceFlag``); callers above the models ask here instead of probing attributes.

    Attributes:
        history_reasons: reasons name history items (:meth:`Recommender.explain_parts`).
        feature_reasons: item attributes shared with the history (:meth:`explain_features`).
        item_vectors: learned item vectors to draw a map of (:meth:`item_vectors`).
        feature_groups: item feature groups permutation importance can shuffle
            (:meth:`permutable`).
        shap_features: a feature table per candidate row, explained by SHAP
            (:meth:`feature_rows`).
        candidate_models: models whose lists it reorders (:meth:`candidate_models`).
        cold_items: ranks items without training interactions.
        history_scoring: scores a history it was not trained on, a new user folded in
            (:meth:`score_history`); what a served run needs for posted histories.
    """

    history_reasons: bool
    feature_reasons: bool
    item_vectors: bool
    feature_groups: bool
    shap_features: bool
    candidate_models: bool
    cold_items: bool
    history_scoring: bool
