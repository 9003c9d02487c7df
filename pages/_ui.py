"""Widgets shared by the pages: the cached store, dataset pickers, forms from pydantic models."""

from __future__ import annotations

import math
from typing import Any, TypeVar

import streamlit as st
from pydantic import BaseModel, ValidationError

from db import Store
from db.repositories import Dataset, DatasetVersion
from recsys_core.data.interactions import Interactions
from recsys_core.jobs import context
from recsys_core.jobs import datasets as jobs
from recsys_core.jobs.runs import get_run
from recsys_core.models.base import Recommender
from recsys_core.splitting import Split

M = TypeVar("M", bound=BaseModel)
GRID_FROM = 5  # plain fields from which a form lays them out in two columns


@st.cache_resource(show_spinner=False)
def get_store() -> Store:
    """One store (engine, migrations applied) per app process, from RECSYS_DATABASE_URL."""
    return Store()


def page_header(title: str) -> None:
    """The page's title, once the page is sure to run inside app.py's frame.

    With a pages/ folder beside app.py, a fresh server serves a sub-page URL opened before
    anyone opened / in Streamlit's legacy multipage mode: the page script alone, without
    app.py's navigation, page config and store line (Streamlit leaves that mode only after a
    run of app.py). Leaving it here and rerunning once sends this run, and every later one,
    through app.py, which routes back to the same page.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
    st.title(title)


def sidebar_status() -> None:
    store = get_store()
    st.sidebar.caption(f"Store: {store.backend} — `{store.url}`")


@st.cache_resource(show_spinner="Loading the dataset…", max_entries=4)
def load_version(url: str, dataset_id: int, version: int) -> Interactions:
    """Interactions of a stored version; versions never change, so caching by id is safe."""
    return jobs.load_interactions(get_store(), dataset_id, version)


def run_split(run_id: int) -> Split:
    """A finished run's split, shared by every page: the core keeps one per (version, split
    config, seed), so Compare, Preview, Explain and Export never rebuild it each."""
    store = get_store()
    with st.spinner("Recomputing the run's split…"):
        return context.run_split(store, get_run(store, run_id))


def run_model(run_id: int) -> Recommender:
    """A finished run's model, checksum-checked and kept by the core for the next page."""
    store = get_store()
    with st.spinner("Loading the run's model…"):
        return context.run_model(store, get_run(store, run_id))


def dataset_picker(key: str, label: str = "Dataset") -> tuple[Dataset, DatasetVersion] | None:
    """A dataset and version select pair; None (with a hint) when there are no datasets."""
    listing = jobs.list_datasets(get_store())
    if not listing:
        st.info("No datasets yet: import a file or load the MovieLens sample on the Data page.")
        return None
    names = [d.name for d, _ in listing]
    col1, col2 = st.columns([3, 1])
    name = col1.selectbox(label, names, key=f"{key}_dataset")
    ds, versions = listing[names.index(name)]
    labels = [_version_label(v) for v in versions]
    chosen = col2.selectbox("Version", labels, index=len(labels) - 1, key=f"{key}_version")
    return ds, versions[labels.index(chosen)]


def _version_label(v: DatasetVersion) -> str:
    kind = "import" if v.recipe is None else "cleaned"
    return f"v{v.version} ({kind}, {v.n_interactions:,} rows)"


def config_widgets(
    model: type[BaseModel], key: str, *, skip: tuple[str, ...] = ("kind",)
) -> dict[str, Any]:
    """Widgets for every field of a pydantic model, from its JSON schema; returns raw values.

    Pages never hand-write parameter widgets: a new config field appears here by itself.
    """
    schema = model.model_json_schema()
    for name, field in model.model_fields.items():  # factory defaults are not in the schema
        prop = schema.get("properties", {}).get(name)
        if prop is not None and "default" not in prop and not field.is_required():
            text = _list_text(field.get_default(call_default_factory=True))
            if text is not None:
                prop["default_text"] = text
    return _object_widgets(schema, schema.get("$defs", {}), key, skip)


def _list_text(value: Any) -> str | None:
    """A list default as the comma-separated text its field accepts ("item_knn:0.8, ..."),
    or None when it cannot be written that way (e.g. a component with its own params)."""
    if not isinstance(value, list):
        return None
    parts = []
    for item in value:
        if isinstance(item, BaseModel):
            data = item.model_dump()
            if data.get("params") or "model" not in data:
                return None
            weight = data.get("weight")
            parts.append(data["model"] if weight in (None, 1.0) else f"{data['model']}:{weight:g}")
        else:
            parts.append(str(item))
    return ", ".join(parts)


def _object_widgets(
    schema: dict[str, Any], defs: dict[str, Any], key: str, skip: tuple[str, ...]
) -> dict[str, Any]:
    """Each field's widget; plain fields of a long form in two columns, nested configs below
    at full width (a deep model has a dozen fields: one column reads as a long scroll)."""
    props = {n: spec for n, spec in schema.get("properties", {}).items() if n not in skip}
    plain = [n for n, spec in props.items() if _nested_target(spec, defs) is None]
    cells = st.columns(2) if len(plain) >= GRID_FROM else None
    values = {}
    for n, spec in props.items():
        if cells is not None and n in plain:
            with cells[plain.index(n) % 2]:
                values[n] = _field_widget(n, spec, key, defs)
        else:
            values[n] = _field_widget(n, spec, key, defs)
    return {k: v for k, v in values.items() if v is not None and v != ""}


def _nested_target(spec: dict[str, Any], defs: dict[str, Any]) -> str | None:
    """The name of the nested config a field holds, None for a plain field."""
    refs = [spec, *spec.get("anyOf", [])]
    target = next((r["$ref"].rsplit("/", 1)[-1] for r in refs if "$ref" in r), None)
    return target if target in defs else None


def _nested_widgets(name: str, spec: dict[str, Any], key: str, defs: dict[str, Any]) -> Any:
    """A nested config (e.g. a hybrid's switching rule): its own fields, behind a checkbox
    when the field is optional. Returns ``...`` when ``spec`` is not a nested model."""
    target = _nested_target(spec, defs)
    if target is None:
        return ...
    nested = defs[target]
    label = field_label(name, spec)
    optional = any(r.get("type") == "null" for r in spec.get("anyOf", []))
    about = spec.get("description") or nested.get("description")
    if optional and not st.checkbox(f"Set {label.lower()}", help=about, key=f"{key}_{name}_on"):
        return None
    with st.container(border=True):
        st.caption(f"**{label}**: {about}" if about else f"**{label}**")
        return _object_widgets(nested, defs, f"{key}_{name}", ())


def validated(model: type[M], values: dict[str, Any]) -> M | None:
    """The model built from ``values``, or None after showing what to fix."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        st.error(_validation_message(exc))
        return None


def model_form(model: type[M], key: str, *, submit: str = "Apply") -> M | None:
    """A form for a pydantic model; returns the validated model when submitted."""
    with st.form(key):
        values = config_widgets(model, key)
        pressed = st.form_submit_button(submit)
    return validated(model, values) if pressed else None


def _field_widget(name: str, spec: dict[str, Any], key: str, defs: dict[str, Any]) -> Any:
    nested = _nested_widgets(name, spec, key, defs)
    if nested is not ...:
        return nested
    label = field_label(name, spec)
    help_ = spec.get("description")
    default = spec.get("default")
    options = spec.get("enum") or _literal_options(spec)
    kind = _json_type(spec)
    wkey = f"{key}_{name}"
    if options:
        idx = options.index(default) if default in options else 0
        return st.selectbox(label, options, index=idx, help=help_, key=wkey)
    if kind == "boolean":
        return st.checkbox(label, value=bool(default), help=help_, key=wkey)
    if kind in ("integer", "number"):
        return _number_widget(label, spec, default, kind == "integer", help_, wkey)
    if kind == "array":
        default_text = spec.get("default_text")
        if default_text is None and isinstance(default, list):
            default_text = ", ".join(str(v) for v in default)
        text = st.text_input(
            label + " (comma-separated)", value=default_text or "", help=help_, key=wkey
        )
        values = [t.strip() for t in text.split(",") if t.strip()]
        return values if values or default_text is not None else None
    return st.text_input(label, value="" if default is None else str(default), help=help_, key=wkey)


ACRONYMS = {"als", "bpr", "gb", "id", "ids", "idf", "knn", "mlp", "mmr", "ndcg", "svd", "tf", "url"}


def field_label(name: str, spec: dict[str, Any]) -> str:
    """A field's label in sentence case with acronyms kept ("MLP layers", "ID dropout",
    "Log Q correction"); pydantic's automatic Title Case ("Mlp Layers") reads as shouting.
    A title the config sets itself is kept as written."""
    title = spec.get("title")
    auto = " ".join(w.capitalize() for w in name.split("_") if w)
    if title is not None and title != auto:
        return str(title)
    words = [w for w in name.split("_") if w]
    out = [w.upper() if w in ACRONYMS or len(w) == 1 else w for w in words]
    return " ".join([out[0][:1].upper() + out[0][1:], *out[1:]]) if out else name


def _number_widget(
    label: str, spec: dict[str, Any], default: Any, integer: bool, help_: str | None, wkey: str
) -> Any:
    """A number input that shows its default as written: Streamlit's own float format
    ("%0.2f", step 0.01) turns a learning rate of 0.001 into "0.00" and 0.005 into "0.01"."""
    lo = spec.get("minimum", spec.get("exclusiveMinimum"))
    hi = spec.get("maximum", spec.get("exclusiveMaximum"))
    cast = int if integer else float
    value = cast(default) if default is not None else (cast(lo) if lo is not None else None)
    return st.number_input(
        label,
        min_value=None if lo is None else cast(lo),
        max_value=None if hi is None else cast(hi),
        value=value,
        step=1 if integer else number_step(value, lo, hi),
        format=None if integer else "%g",  # shortest form: 0.001, 0.0005, 250, 1e-05
        help=help_,
        key=wkey,
    )


def number_step(value: float | None, lo: float | None, hi: float | None) -> float:
    """The +/- step of a float field: the default's leading decimal place (0.001 -> 0.001,
    0.005 -> 0.001, 0.7 -> 0.1, 250 -> 100); without a default, a hundredth of the range."""
    if value:
        return float(10.0 ** math.floor(math.log10(abs(value))))
    if lo is not None and hi is not None and hi > lo:
        return float(10.0 ** math.floor(math.log10((hi - lo) / 100)))
    return 0.01


def _json_type(spec: dict[str, Any]) -> str | None:
    if "type" in spec:
        return str(spec["type"])
    for option in spec.get("anyOf", []):
        if option.get("type") not in (None, "null"):
            return str(option["type"])
    return None


def _literal_options(spec: dict[str, Any]) -> list[Any] | None:
    if "const" in spec:
        return [spec["const"]]
    for option in spec.get("anyOf", []):
        if "enum" in option:
            return list(option["enum"])
    return None


def _validation_message(exc: ValidationError) -> str:
    parts = [f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors()]
    return "Please fix: " + "; ".join(parts)
