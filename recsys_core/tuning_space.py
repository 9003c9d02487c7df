"""Hyper-parameter search spaces derived from each model's pydantic config schema."""

from __future__ import annotations

import json
from typing import Annotated, Any

import numpy as np
import pandas as pd
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from recsys_core.errors import InputError
from recsys_core.models.priors import PRIOR_KEY
from recsys_core.models.registry import REGISTRY

#: Fields never searched by default: seeds and threads do not change what a model learns.
SKIPPED = ("random_state", "num_threads")
#: A bounded range spanning more than this ratio (two decades) is searched on a log scale.
LOG_SPAN = 100.0
#: Lower end of a log range whose schema bound is 0, relative to the field's default.
LOG_FLOOR = 1e-3

_IMPOSSIBLE = "Impossible search space"


class RangeOverride(BaseModel):
    """A numeric range that narrows or replaces the one taken from the config schema."""

    model_config = ConfigDict(extra="forbid")

    low: float = Field(description="Smallest value tried (inclusive).")
    high: float = Field(description="Largest value tried (inclusive).")
    log: bool = Field(default=False, description="Sample on a log scale (low must be > 0).")


class ChoicesOverride(BaseModel):
    """An explicit list of values to try, for any field (numbers, strings or booleans)."""

    model_config = ConfigDict(extra="forbid")

    choices: list[Any] = Field(description="The values tried; at least one.")


Override = RangeOverride | ChoicesOverride
_OVERRIDE: TypeAdapter[Override] = TypeAdapter(Override)


def search_space(
    model_name: str,
    overrides: dict[str, Override] | dict[str, dict[str, Any]] | None = None,
    fixed: dict[str, Any] | None = None,
) -> dict[str, BaseDistribution]:
    """The distributions searched for a model: schema bounds, then the analyst's overrides.

    A field's declared prior (:mod:`recsys_core.models.priors`) comes first. Otherwise
    bounded int/float fields become int/float ranges (log scale beyond two decades), Literal
    and boolean fields categorical; unbounded fields, lists, dicts, seeds, threads and
    ``validation_*`` fields are left out unless ``overrides`` names them. ``fixed`` params
    are not searched. No per-model code: a new config field is searched by itself.

    Raises:
        InputError: unknown model or parameter, low > high, empty choices, a value the
            config refuses, or nothing left to search ("impossible search space").
    """
    props = _properties(model_name)
    space = {n: d for n, s in props.items() if (d := _default_distribution(n, s)) is not None}
    for name, override in (overrides or {}).items():
        if name not in props:
            raise InputError(
                f"{_IMPOSSIBLE}: {model_name!r} has no parameter {name!r}; "
                f"valid parameters: {', '.join(sorted(props))}."
            )
        space[name] = _override_distribution(model_name, name, props[name], _parse(override))
    for name in fixed or {}:
        space.pop(name, None)
    if not space:
        raise InputError(
            f"{_IMPOSSIBLE}: model {model_name!r} has no bounded parameter left to search. "
            "Give a range (e.g. --range NAME=LOW:HIGH) or choices for one of its parameters: "
            f"{', '.join(sorted(props))}."
        )
    return space


def _parse(override: Override | dict[str, Any]) -> Override:
    """An override from its JSON shape, ``{"low", "high", "log"}`` or ``{"choices"}``."""
    if isinstance(override, RangeOverride | ChoicesOverride):
        return override
    try:
        return _OVERRIDE.validate_python(override)
    except ValidationError:
        raise InputError(
            f"An override is {{'low': .., 'high': .., 'log': ..}} or {{'choices': [..]}}; "
            f"got {override!r}."
        ) from None


def _properties(model_name: str) -> dict[str, dict[str, Any]]:
    cls = REGISTRY.get(model_name)
    if cls is None:
        raise InputError(f"Unknown model {model_name!r}; choose one of: {', '.join(REGISTRY)}.")
    props: dict[str, dict[str, Any]] = cls.config_class.model_json_schema().get("properties", {})
    return props


def _flat(spec: dict[str, Any]) -> dict[str, Any]:
    """A nullable field's schema (``anyOf: [X, null]``) as X, keeping the outer default."""
    for option in spec.get("anyOf", []):
        if option.get("type") not in (None, "null"):
            return {**option, "default": spec.get("default")}
    return spec


def _default_distribution(name: str, spec: dict[str, Any]) -> BaseDistribution | None:
    if name in SKIPPED or name.startswith("validation_"):
        return None
    flat = _flat(spec)
    if PRIOR_KEY in spec:
        return _prior_distribution(flat, spec[PRIOR_KEY])
    options = flat.get("enum") or ([flat["const"]] if "const" in flat else None)
    if options:
        return CategoricalDistribution(options) if len(options) > 1 else None
    if flat.get("type") == "boolean":
        return CategoricalDistribution([False, True])
    if flat.get("type") not in ("integer", "number"):
        return None
    lo = flat.get("minimum", flat.get("exclusiveMinimum"))
    hi = flat.get("maximum", flat.get("exclusiveMaximum"))
    if lo is None or hi is None:
        return None
    if flat["type"] == "integer":
        low = int(lo) + ("exclusiveMinimum" in flat)
        high = int(hi) - ("exclusiveMaximum" in flat)
        return IntDistribution(low, high, log=low >= 1 and high / low > LOG_SPAN)
    return _float_distribution(flat, float(lo), float(hi))


def _prior_distribution(flat: dict[str, Any], prior: Any) -> BaseDistribution | None:
    """The distribution a field's declared prior names ("fixed": not searched by default)."""
    if prior == "fixed":
        return None
    if "choices" in prior:
        return CategoricalDistribution(prior["choices"])
    if flat.get("type") == "integer":
        return IntDistribution(int(prior["low"]), int(prior["high"]), log=prior["log"])
    return FloatDistribution(float(prior["low"]), float(prior["high"]), log=prior["log"])


def _float_distribution(flat: dict[str, Any], lo: float, hi: float) -> FloatDistribution:
    """Log scale for wide positive ranges; a zero bound is replaced by a floor under the default.

    A strictly positive field (``gt=0``) is a scale parameter (reg, learning rate), so it is
    searched on a log scale; so is a ``ge=0`` field reaching past 100. Zero itself is then left
    out: an analyst who wants it gives a linear range.
    """
    high = float(np.nextafter(hi, lo)) if "exclusiveMaximum" in flat else hi
    if lo > 0:
        low = float(np.nextafter(lo, hi)) if "exclusiveMinimum" in flat else lo
        return FloatDistribution(low, high, log=high / low > LOG_SPAN)
    if lo == 0 and ("exclusiveMinimum" in flat or high > LOG_SPAN):
        default = flat.get("default")
        floor = default * LOG_FLOOR if isinstance(default, int | float) and default > 0 else 0.0
        floor = floor or high * LOG_FLOOR**2
        return FloatDistribution(min(floor, high), high, log=True)
    return FloatDistribution(lo, high)


def _override_distribution(
    model_name: str, name: str, spec: dict[str, Any], override: Override
) -> BaseDistribution:
    check = _field_checker(model_name, name)
    if isinstance(override, ChoicesOverride):
        if not override.choices:
            raise InputError(f"{_IMPOSSIBLE}: the choices for {name!r} are empty.")
        return CategoricalDistribution([check(c) for c in override.choices])
    if override.low > override.high:
        raise InputError(
            f"{_IMPOSSIBLE}: the range for {name!r} has low {override.low} > high {override.high}."
        )
    if override.log and override.low <= 0:
        raise InputError(f"A log range for {name!r} needs low > 0; got {override.low}.")
    kind = _flat(spec).get("type")
    if kind == "integer":
        if not (float(override.low).is_integer() and float(override.high).is_integer()):
            raise InputError(f"{name!r} takes whole numbers; got {override.low}:{override.high}.")
        low, high = check(int(override.low)), check(int(override.high))
        return IntDistribution(low, high, log=override.log)
    if kind == "number":
        low, high = check(float(override.low)), check(float(override.high))
        return FloatDistribution(low, high, log=override.log)
    raise InputError(f"{name!r} is not numeric: give choices instead of a range.")


def _field_checker(model_name: str, name: str) -> Any:
    """A function validating one value against the field's type and bounds, as the config would."""
    field = REGISTRY[model_name].config_class.model_fields[name]
    # the field's own annotation and constraints, so bounds are checked exactly as the config does
    annotated: Any = Annotated[field.annotation, field]
    adapter: TypeAdapter[Any] = TypeAdapter(annotated)

    def check(value: Any) -> Any:
        try:
            return adapter.validate_python(value)
        except ValidationError as exc:
            msg = exc.errors()[0]["msg"]
            raise InputError(f"{_IMPOSSIBLE}: {name}={value!r} is refused: {msg}.") from None

    return check


# ---------------------------------------------------------------------- the page's table
def space_table(model_name: str) -> pd.DataFrame:
    """The default space as an editable table: param, search, low, high, log, choices."""
    rows = []
    for name, dist in search_space(model_name).items():
        row: dict[str, Any] = {"param": name, "search": True, "low": None, "high": None}
        row["log"], row["choices"] = False, ""
        if isinstance(dist, CategoricalDistribution):
            row["choices"] = ", ".join(json.dumps(c) if isinstance(c, bool) else str(c)
                                       for c in dist.choices)  # fmt: skip
        else:
            assert isinstance(dist, IntDistribution | FloatDistribution)
            row.update(low=float(dist.low), high=float(dist.high), log=dist.log)
        rows.append(row)
    return pd.DataFrame(rows, columns=["param", "search", "low", "high", "log", "choices"])


def table_overrides(
    model_name: str, table: pd.DataFrame
) -> tuple[dict[str, Override], dict[str, Any]]:
    """Overrides and fixed params from an edited :func:`space_table`.

    A row unticked in ``search`` is fixed at the field's default; a row with choices becomes a
    categorical, any other a range. Rows with an empty ``param`` are ignored.
    """
    props = _properties(model_name)
    overrides: dict[str, Override] = {}
    fixed: dict[str, Any] = {}
    for row in table.to_dict(orient="records"):
        name = str(row.get("param") or "").strip()
        if not name or name == "nan":
            continue
        if not row.get("search", True):
            fixed[name] = props.get(name, {}).get("default")
            continue
        choices = str(row.get("choices") or "").strip()
        if choices and choices != "nan":
            overrides[name] = ChoicesOverride(choices=[_value(t) for t in choices.split(",")])
        elif pd.isna(row.get("low")) or pd.isna(row.get("high")):
            raise InputError(f"Give both low and high (or choices) for {name!r}.")
        else:
            log = bool(row.get("log")) if not pd.isna(row.get("log")) else False
            overrides[name] = RangeOverride(low=row["low"], high=row["high"], log=log)
    return overrides, fixed


def _value(text: str) -> Any:
    """A typed choice: JSON when it parses (numbers, true/false), else the bare string."""
    try:
        return json.loads(text.strip())
    except json.JSONDecodeError:
        return text.strip()
