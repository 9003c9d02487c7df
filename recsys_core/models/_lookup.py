"""Model classes by registry key, and the constructor that turns bad parameters into advice.

The table is filled by :mod:`recsys_core.models.registry` (imported by the package, so it
is full before any model is built). Wrappers that build their parts by name (hybrids,
the two-stage ranker) look them up here, so they need not import the registry, which
imports them.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from recsys_core.errors import InputError
from recsys_core.models.base import Recommender

#: Every model the workbench offers, by its stable key (stored with runs; never rename one).
REGISTRY: dict[str, type[Recommender]] = {}


def make_model(name: str, params: dict[str, Any] | None = None) -> Recommender:
    """An unfitted model from its registry key and parameters (e.g. from a form or a JSON spec).

    Raises:
        InputError: naming the valid models for an unknown ``name``, the valid parameters for
            an unknown one, and the violated bound or expected type for a bad value.
    """
    cls = REGISTRY.get(name)
    if cls is None:
        raise InputError(f"Unknown model {name!r}; choose one of: {', '.join(REGISTRY)}.")
    try:
        return cls(**(params or {}))
    except ValidationError as exc:
        raise InputError(_describe(name, cls, exc)) from exc


def _describe(name: str, cls: type[Recommender], exc: ValidationError) -> str:
    """One readable line per problem, e.g. ``reg: Input should be greater than 0 (got -1)``."""
    fields = cls.config_class.model_fields
    lines = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(
                f"unknown parameter {field!r}; valid parameters: {', '.join(sorted(fields))}"
            )
        else:
            lines.append(f"{field}: {err['msg']} (got {err.get('input')!r})")
    return f"Bad parameters for model {name!r}: " + "; ".join(lines) + "."
