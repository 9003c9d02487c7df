"""Dataset import, cleaning and loading: validated frames in, Interactions out, via the store."""

from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from db import Store
from db.engine import default_home
from db.repositories import Dataset, DatasetRepository, DatasetVersion, InteractionArrays
from recsys_core.columns import Columns
from recsys_core.data.clean import CleaningPlan, StepStats, apply_plan
from recsys_core.data.interactions import Interactions
from recsys_core.data.pseudonym import pseudonym_key, pseudonymise
from recsys_core.data.validate import ValidatedData
from recsys_core.errors import InputError
from recsys_core.progress import Progress, report

#: Longest dataset name.
MAX_NAME_CHARS: Final = 200
# Unicode categories refused in names: control, format, surrogate, private use, unassigned,
# line and paragraph separators.
_UNPRINTABLE: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


@dataclass(frozen=True)
class ImportResult:
    """What an import created; ``counts`` is what the CLI and page print."""

    dataset: Dataset
    version: DatasetVersion

    @property
    def counts(self) -> dict[str, int]:
        v = self.version
        return {"users": v.n_users, "items": v.n_items, "interactions": v.n_interactions}


def import_dataset(
    store: Store,
    name: str,
    data: ValidatedData,
    *,
    description: str = "",
    source: dict[str, Any] | None = None,
    pseudonymise_users: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Write a validated import as version 1 of a new dataset, in one transaction.

    Raises:
        InputError: the report has errors, the name is empty or taken, or nothing is left.
    """
    data.report.raise_if_errors()
    name = check_dataset_name(name)
    _storable(source or {}, "import's source description")
    _storable(description, "description")
    frame = data.interactions
    if frame.empty:
        raise InputError("No valid interactions to import.")
    users, user_attrs = _entity_table(frame[Columns.user], data.users)
    if pseudonymise_users:
        key = pseudonym_key(default_home())
        frame = frame.assign(**{Columns.user: pseudonymise(frame[Columns.user].to_numpy(), key)})
        users = pd.Index(pseudonymise(users.to_numpy(), key))
    items, item_attrs = _entity_table(frame[Columns.item], data.items)
    arrays = InteractionArrays(
        user_code=users.get_indexer(pd.Index(frame[Columns.user].astype(str))).astype(np.int32),
        item_code=items.get_indexer(pd.Index(frame[Columns.item].astype(str))).astype(np.int32),
        value=_values(frame),
        ts=frame[Columns.timestamp].to_numpy(np.int64) if Columns.timestamp in frame else None,
        event=frame[Columns.event].to_numpy(object) if Columns.event in frame else None,
        is_test=frame[Columns.split].to_numpy(bool) if Columns.split in frame else None,
    )
    meta = dict(source or {}, pseudonymised=pseudonymise_users, n_interacted_items=_n_used(arrays))
    report(progress, 1, 3, "writing users and items")
    with store.session(purpose=f"the import of {name!r}") as s:
        repo = DatasetRepository(s)
        if repo.by_name(name) is not None:
            raise InputError(f"A dataset named {name!r} exists already; choose another name.")
        ds = repo.create(name, description, meta)
        repo.write_entities(ds.id, "user", users.tolist(), user_attrs)
        repo.write_entities(ds.id, "item", items.tolist(), item_attrs)
        report(progress, 2, 3, f"writing {len(frame):,} interactions")
        version = _write_version(
            repo, ds.id, arrays, data.feedback, parent=None, recipe=None, stats={}
        )
    report(progress, 3, 3, "done")
    return ImportResult(ds, version)


def check_dataset_name(name: str) -> str:
    """The name stripped of surrounding spaces, or InputError when it breaks the rule.

    Names are printed in terminals, tables and page titles: control and formatting
    characters (escape codes, NUL, tabs, line breaks, bidirectional overrides) could rewrite
    a terminal or hide text, and NUL cannot be stored by PostgreSQL, so they are refused.
    """
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME_CHARS:
        raise InputError(f"A dataset needs a name of 1 to {MAX_NAME_CHARS} characters.")
    odd = next((ch for ch in name if unicodedata.category(ch) in _UNPRINTABLE), None)
    if odd is not None:
        raise InputError(
            f"The dataset name {name!r} holds the control character {odd!r} (U+{ord(odd):04X}). "
            "Names may use letters, digits, spaces and punctuation, but no control or "
            "formatting characters (escape codes, tabs, line breaks); choose another name."
        )
    return name


def printable_name(name: str) -> str:
    """The name as it is, or quoted with escapes when it holds control characters (a store
    written before names were checked): never raw escape codes in a terminal."""
    if any(unicodedata.category(ch) in _UNPRINTABLE for ch in name):
        return repr(name)
    return name


def _storable(value: Any, what: str) -> None:
    """Refuse JSON the store cannot keep: NaN/Infinity (not JSON) or NUL (not in PostgreSQL)."""
    try:
        text = json.dumps(value, allow_nan=False, default=str)
    except ValueError:
        raise InputError(
            f"The {what} holds a number that is not finite; JSON cannot store it."
        ) from None
    if "\\u0000" in text.replace("\\\\", ""):  # an escaped backslash is not a NUL
        raise InputError(f"The {what} holds a NUL character, which the store cannot keep.")


def _values(frame: pd.DataFrame) -> np.ndarray:
    for col in (Columns.rating, Columns.weight):
        if col in frame:
            return frame[col].to_numpy(np.float32)
    return np.ones(len(frame), dtype=np.float32)


def _entity_table(
    ids: pd.Series, table: pd.DataFrame | None
) -> tuple[pd.Index, list[dict[str, Any] | None] | None]:
    """Codes for an entity kind: ids with interactions first (in first-seen order), then the
    metadata-only ones, so ``n_interacted_items`` splits the catalogue from cold items."""
    used = pd.Index(pd.unique(ids.astype(str).to_numpy()))
    if table is None:
        return used, None
    meta_ids = table.index.astype(str)
    extra = meta_ids[~meta_ids.isin(used)]
    index = used.append(extra)
    records = table.set_axis(meta_ids).reindex(index)
    return index, [
        _attrs({str(k): v for k, v in r.items()}) for r in records.to_dict(orient="records")
    ]


def _attrs(record: dict[str, Any]) -> dict[str, Any] | None:
    """Drop missing values so JSON keeps only what the analyst gave."""
    out = {k: v for k, v in record.items() if not _missing(v)}
    return out or None


def _missing(v: Any) -> bool:
    if isinstance(v, list | tuple | np.ndarray):
        return len(v) == 0
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def _n_used(arrays: InteractionArrays) -> int:
    return int(arrays.item_code.max()) + 1 if len(arrays.item_code) else 0


def _write_version(
    repo: DatasetRepository,
    dataset_id: int,
    arrays: InteractionArrays,
    feedback: str,
    *,
    parent: int | None,
    recipe: dict[str, Any] | None,
    stats: dict[str, Any],
) -> DatasetVersion:
    version = repo.add_version(
        dataset_id,
        parent_id=parent,
        feedback=feedback,
        recipe=recipe,
        stats=stats,
        n_users=len(np.unique(arrays.user_code)),
        n_items=len(np.unique(arrays.item_code)),
        n_interactions=len(arrays.user_code),
        has_timestamps=arrays.ts is not None,
        has_events=arrays.event is not None,
        has_split=arrays.is_test is not None,
    )
    repo.write_interactions(version.id, arrays)
    return version


# --------------------------------------------------------------------------- lookup and loading
def resolve(
    store: Store, dataset: str | int, version: int | None = None
) -> tuple[Dataset, DatasetVersion]:
    """Find a dataset by name (or id) and one of its versions (default: the latest)."""
    with store.session() as s:
        repo = DatasetRepository(s)
        ds = repo.by_id(dataset) if isinstance(dataset, int) else repo.by_name(dataset)
        if ds is None:
            names = ", ".join(printable_name(d.name) for d in repo.all()) or "none yet"
            raise InputError(f"No dataset {dataset!r}. Datasets: {names}.")
        versions = repo.versions(ds.id)
    if version is None:
        return ds, versions[-1]
    for v in versions:
        if v.version == version:
            return ds, v
    raise InputError(f"Dataset {ds.name!r} has versions 1..{len(versions)}, not {version}.")


def list_datasets(store: Store) -> list[tuple[Dataset, list[DatasetVersion]]]:
    """Every dataset with its versions, oldest version first."""
    with store.session() as s:
        repo = DatasetRepository(s)
        return [(d, repo.versions(d.id)) for d in repo.all()]


def load_interactions(store: Store, dataset: str | int, version: int | None = None) -> Interactions:
    """Load a stored version as Interactions.

    Users are those with interactions in the version; items are those with interactions plus
    the catalogue items that never had any (metadata only: the cold items content models need).
    """
    ds, v = resolve(store, dataset, version)
    with store.session() as s:
        repo = DatasetRepository(s)
        arrays = repo.read_interactions(v.id)
        users = repo.read_entities(ds.id, "user")
        items = repo.read_entities(ds.id, "item")
    n_used = int(ds.source.get("n_interacted_items", len(items)))
    user_codes, user_idx = np.unique(arrays.user_code, return_inverse=True)
    item_codes = np.union1d(np.unique(arrays.item_code), np.arange(n_used, len(items)))
    return Interactions(
        users=user_idx.astype(np.int32),
        items=np.searchsorted(item_codes, arrays.item_code).astype(np.int32),
        values=arrays.value,
        user_ids=users["external_id"].to_numpy(object)[user_codes],
        item_ids=items["external_id"].to_numpy(object)[item_codes],
        timestamps=arrays.ts,
        events=arrays.event,
        item_features=_features(items.iloc[item_codes], Columns.item),
        user_features=_features(users.iloc[user_codes], Columns.user),
        feedback="explicit" if v.feedback == "explicit" else "implicit",
        is_test=arrays.is_test,
    )


def _features(entities: pd.DataFrame, index_name: str) -> pd.DataFrame | None:
    has = entities["attributes"].notna().to_numpy()
    if not has.any():
        return None
    frame = pd.DataFrame.from_records(entities["attributes"][has].tolist())
    frame.index = pd.Index(entities["external_id"][has].astype(str).to_numpy(), name=index_name)
    return frame


# --------------------------------------------------------------------------- cleaning
def clean_dataset(
    store: Store,
    dataset: str | int,
    plan: CleaningPlan,
    *,
    version: int | None = None,
    progress: Progress | None = None,
) -> tuple[DatasetVersion, list[StepStats]]:
    """Apply a cleaning plan to a version (default: the latest) and store the result as a new one.

    The version keeps the plan's JSON and each step's before/after counts; the source version
    stays as it was.
    """
    if not plan.steps:
        raise InputError("The cleaning plan has no steps; add at least one recipe.")
    ds, base = resolve(store, dataset, version)
    inter = load_interactions(store, ds.id, base.version)
    cleaned, stats = apply_plan(inter, plan, progress=progress)
    if not np.isfinite(cleaned.values).all():
        raise InputError("The cleaning plan produced values that are not finite numbers.")
    recipe = {"base_version": base.version, **plan.model_dump(mode="json")}
    steps = {"steps": [st.to_dict() for st in stats]}
    _storable(recipe, "cleaning plan")
    _storable(steps, "cleaning statistics")
    with store.session(purpose=f"the cleaning of {ds.name!r}") as s:
        repo = DatasetRepository(s)
        user_codes = pd.Index(repo.read_entities(ds.id, "user")["external_id"])
        item_codes = pd.Index(repo.read_entities(ds.id, "item")["external_id"])
        arrays = InteractionArrays(
            user_code=user_codes.get_indexer(cleaned.user_ids[cleaned.users]).astype(np.int32),
            item_code=item_codes.get_indexer(cleaned.item_ids[cleaned.items]).astype(np.int32),
            value=cleaned.values,
            ts=cleaned.timestamps,
            event=cleaned.events,
            is_test=cleaned.is_test,
        )
        new = _write_version(
            repo,
            ds.id,
            arrays,
            cleaned.feedback,
            parent=base.id,
            recipe=recipe,
            stats=steps,
        )
    return new, stats


# --------------------------------------------------------------------------- item vectors
def store_item_vectors(
    store: Store, dataset: str | int, vectors: pd.Series, *, encoder: str, column: str = "image"
) -> dict[str, int]:
    """Store per-item vectors (e.g. image embeddings) as an item attribute of every version.

    Items not in the dataset are counted and ignored; the encoder used is kept in the
    dataset's source, so pages can say which one produced the vectors.
    """
    ds, _ = resolve(store, dataset)
    if vectors.empty:
        raise InputError("No vectors to attach.")
    with np.errstate(over="ignore"):
        finite = [bool(np.isfinite(np.asarray(v, dtype=np.float32)).all()) for v in vectors]
    if not all(finite):  # one check per item (not per value): vectors come one per item
        first = vectors.index[finite.index(False)]
        raise InputError(
            f"The vector of item {first!r} holds values that are not finite as 32-bit floats "
            "(NaN, infinity, or beyond ±3.4e38); fix the vectors and attach them again."
        )
    with store.session() as s:
        repo = DatasetRepository(s)
        items = repo.read_entities(ds.id, "item")
        codes = pd.Index(items["external_id"]).get_indexer(pd.Index(vectors.index.astype(str)))
        known = codes >= 0
        old = items["attributes"].to_numpy(object)[codes[known]]
        new = [
            {**(a or {}), column: np.asarray(v, dtype=float).tolist()}
            for a, v in zip(old, vectors.to_numpy(object)[known], strict=True)
        ]
        repo.update_attributes(ds.id, "item", codes[known].tolist(), new)
        repo.set_source(ds.id, {**ds.source, f"{column}_encoder": encoder})
    return {"attached": int(known.sum()), "unknown_items": int((~known).sum())}
