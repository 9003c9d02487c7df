"""Splitting: train/test(/validation) protocols as pure functions of interactions and a seed.

A floor below models and evaluation (like ``lenskit.splitting``): models that carve a
validation side (deep models, the ranker) and evaluation both use it, neither owns it.
"""

from __future__ import annotations

from recsys_core.splitting.configs import ItemHoldout
from recsys_core.splitting.splits import (
    KFold,
    LeaveLastN,
    Predefined,
    RandomHoldout,
    Split,
    SplitChecks,
    SplitConfig,
    TemporalCutoff,
    UserHoldout,
    parse_split_config,
    split,
    split_config_json,
    timeline,
)

__all__ = [
    "ItemHoldout",
    "KFold",
    "LeaveLastN",
    "Predefined",
    "RandomHoldout",
    "Split",
    "SplitChecks",
    "SplitConfig",
    "TemporalCutoff",
    "UserHoldout",
    "parse_split_config",
    "split",
    "split_config_json",
    "timeline",
]
