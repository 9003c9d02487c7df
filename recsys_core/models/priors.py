"""Search priors declared on config fields: where a tuner looks, apart from what a config accepts.

A field's bounds say which values are valid (``n_neighbors`` up to 10,000); its prior says
which values are worth trying in a search (``n_neighbors`` 5..1000 on a log scale). The
prior goes into the field's JSON schema, so :mod:`recsys_core.tuning_space` reads it with the
rest of the schema and no per-model code.
"""

from __future__ import annotations

from typing import Any

__all__ = ["NOT_SEARCHED", "PRIOR_KEY", "prior", "prior_choices"]

#: Key of the prior in a field's JSON schema.
PRIOR_KEY = "prior"
#: A field a search leaves at its default unless the analyst gives a range (sizes, patience).
NOT_SEARCHED: dict[str, Any] = {PRIOR_KEY: "fixed"}


def prior(low: float, high: float, *, log: bool = False) -> dict[str, Any]:
    """``json_schema_extra`` for a numeric field: search ``low..high`` (log-uniform if ``log``)."""
    if not low <= high or (log and low <= 0):
        raise ValueError(f"bad prior {low}..{high} (log={log})")
    return {PRIOR_KEY: {"low": low, "high": high, "log": log}}


def prior_choices(*values: Any) -> dict[str, Any]:
    """``json_schema_extra`` for a field searched over a few values only."""
    if not values:
        raise ValueError("a prior needs at least one choice")
    return {PRIOR_KEY: {"choices": list(values)}}
