"""How runs and numbers read on every page and in the CLI: run labels, p-values, durations.

A label has to tell two runs of one model apart at a glance ("ease (#2)" vs "ease (#12)" did
not), so it carries the parameters that differ from the model's defaults, the dataset
version and the run id: ``ease reg=250 · v2 · #2``. One function builds it, so Compare,
Preview, Explain, Export, Home and ``recsys runs`` all name a run the same way.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from db.runs import Run

#: Parameters a label shows at most: more would not read at a glance.
MAX_PARAMS = 3
#: Parameters that never go in a label: the seed is part of every run, not of the model.
HIDDEN_PARAMS = frozenset({"random_state"})
#: Short forms of long parameter names (others are shown as they are).
SHORT_NAMES = {
    "n_neighbors": "k",
    "embedding_size": "dim",
    "learning_rate": "lr",
    "n_components": "dim",
    "regularization": "reg",
}
#: Below this, a p-value is reported as a bound: doubles carry no more meaning there.
P_FLOOR = 1e-16


def format_p(p: float | None) -> str:
    """A p-value in 3 significant digits (``0.0312``, ``2.5e-07``), ``< 1e-16`` below that.

    Long decimal strings ("0.000000000000000000000000000000002") widened tables to thousands
    of pixels and said nothing more than "far below any threshold".
    """
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "–"
    p = float(p)
    if p < P_FLOOR:
        return f"< {P_FLOOR:.0e}"
    return f"{p:.3g}"


def format_duration(seconds: float | None) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min``; an en dash when unknown."""
    if seconds is None or math.isnan(seconds) or seconds < 0:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def run_duration_s(run: Run) -> float | None:
    """Wall-clock seconds from start to finish; the phases' sum when a time is missing."""
    if run.started_at is not None and run.finished_at is not None:
        return (run.finished_at - run.started_at).total_seconds()
    phases = [v for k, v in run.timings.items() if k.endswith("_s") and isinstance(v, int | float)]
    return float(sum(phases)) if phases else None


@lru_cache(maxsize=64)
def _defaults(model: str) -> dict[str, Any]:
    """The model's default config. The registry (numpy, scipy, every family) is imported
    here, on the first label with parameters, not with this module: ``recsys runs`` on an
    empty store and p-value formatting stay light (not a cycle: models never import jobs)."""
    from recsys_core.models.registry import REGISTRY

    cls = REGISTRY.get(model)
    if cls is None:
        return {}
    try:
        return cls.config_class.model_validate({}).model_dump(mode="json")
    except ValueError:  # a config with required fields has no defaults to differ from
        return {}


def _short(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "+".join(map(_short, value))
    return str(value)


def key_params(model: str, params: dict[str, Any], limit: int = MAX_PARAMS) -> list[str]:
    """``name=value`` for the scalar parameters that differ from the model's defaults."""
    if not params:  # nothing set: no need to load the registry (`recsys runs` stays light)
        return []
    defaults = _defaults(model)
    out = []
    for name, value in params.items():
        if name in HIDDEN_PARAMS or isinstance(value, dict) or value == defaults.get(name):
            continue
        if name not in defaults and defaults:
            continue  # not a parameter of this model (an old spec's leftover)
        out.append(f"{SHORT_NAMES.get(name, name)}={_short(value)}")
    return out[:limit]


def run_label(run: Run) -> str:
    """``ease reg=250 · v2 · #2``: name, key parameters, dataset version, id."""
    spec = run.spec or {}
    parts = [run.label]
    if spec.get("derived") is None:
        parts += key_params(run.model, dict(spec.get("params") or {}))
    head = " ".join(parts)
    version = spec.get("version")
    return f"{head} · v{version} · #{run.id}" if version else f"{head} · #{run.id}"
