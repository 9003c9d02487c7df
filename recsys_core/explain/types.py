"""The Explanation record: a score, what it is made of, and the reason in one sentence.

It lives with the models (:mod:`recsys_core.models.explanation`), which build it; this
module keeps the name where callers have always found it.
"""

from __future__ import annotations

from recsys_core.models.explanation import CONTRIBUTION_COLUMNS, Explanation, ExplanationKind

__all__ = ["CONTRIBUTION_COLUMNS", "Explanation", "ExplanationKind"]
