"""Strict JSON values: what the store's JSON columns and ``--json`` output may hold.

Python's ``json`` writes ``NaN`` and ``Infinity`` by default, which PostgreSQL, ``jq``,
JavaScript and strict parsers reject; here they become ``null``. Kept free of numpy and
pandas imports so the CLI can use it without paying for them at start-up.
"""

from __future__ import annotations

import json
import math
from typing import Any


def json_safe(value: Any) -> Any:
    """Plain JSON values: NaN/inf become None, numpy scalars Python numbers, dates ISO text."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item() if getattr(value, "ndim", 0) == 0 else value.tolist()
        return json_safe(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` that never writes NaN or Infinity (raises instead of emitting them)."""
    return json.dumps(json_safe(value), allow_nan=False, default=str, **kwargs)
