"""A finished run's context (spec, split, model, train side), rebuilt one way for every reader.

Compare, Preview, Explain, Export and the CLI all ask here, and get the split training used
(:func:`recsys_core.jobs.spec.split_for`, so predefined splits take their is-test column).
Splits are pure functions of (dataset version, split config, seed): runs sharing those share
one cached split. The caches live on the store object, so two stores (or a test database
emptied and refilled) never see each other's entries.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from db import Store
from db.runs import Run
from recsys_core.data.interactions import Interactions
from recsys_core.explain import Explanation, explain
from recsys_core.jobs.datasets import load_interactions, resolve
from recsys_core.jobs.runs import load_model
from recsys_core.jobs.spec import RunSpec, split_for
from recsys_core.models.base import Recommender
from recsys_core.splitting import Split

#: Splits kept per store (each a few arrays of the dataset's size).
MAX_SPLITS = 4
#: Loaded models kept per store (an EASE model is n_items² floats).
MAX_MODELS = 2

T = TypeVar("T")


class _Lru:
    """A small thread-safe least-recently-used cache (Streamlit serves sessions in threads)."""

    def __init__(self, size: int) -> None:
        self.size, self.items, self.lock = size, OrderedDict[Hashable, Any](), threading.Lock()

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value = build()  # outside the lock: a slow split must not block other pages
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return value


_caches: weakref.WeakKeyDictionary[Store, tuple[_Lru, _Lru]] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _store_caches(store: Store) -> tuple[_Lru, _Lru]:
    with _caches_lock:
        if store not in _caches:
            _caches[store] = (_Lru(MAX_SPLITS), _Lru(MAX_MODELS))
        return _caches[store]


def run_spec(run: Run) -> RunSpec:
    return RunSpec.model_validate(run.spec)


def split_key(run: Run) -> tuple[int, str, int, str]:
    """What determines a run's split: runs with equal keys share train and test sides."""
    spec = run_spec(run)
    # Spark draws a random split by hash, not numpy's stream: another split than local's
    drawn = "spark" if spec.engine == "spark" and spec.split.kind == "random" else "local"
    return run.version_id, spec.split.model_dump_json(), spec.seed, drawn


def run_split(store: Store, run: Run) -> Split:
    """The run's train/test split, recomputed from its stored spec the way training made it.

    Splits are pure functions of data, config and seed, so nothing but the spec is stored.
    """
    spec = run_spec(run)
    _, version = resolve(store, run.dataset_id, spec.version)  # one small read per call

    def build() -> Split:
        inter = load_interactions(store, run.dataset_id, spec.version)
        return split_for(inter, spec.split, spec.seed, spec.engine)

    # the version's creation time guards against an id reused after a dataset was deleted
    key = (*split_key(run), version.id, version.created_at)
    return _store_caches(store)[0].get(key, build)


def run_model(store: Store, run: Run) -> Recommender:
    """The run's fitted model, checked against its checksum (kept for the next reader)."""
    key = (run.id, run.created_at, run.artifact_sha256, run.status)
    return _store_caches(store)[1].get(key, lambda: load_model(run, store))


@dataclass(frozen=True)
class RunContext:
    """Everything a reader needs to look at one finished run again.

    Attributes:
        run: the stored run.
        spec: its validated spec.
        split: the split it was trained and evaluated on.
    """

    run: Run
    spec: RunSpec
    split: Split
    store: Store

    @property
    def train(self) -> Interactions:
        return self.split.train

    @property
    def model(self) -> Recommender:
        """Loaded on first use (many readers need only the split)."""
        return run_model(self.store, self.run)


def run_context(store: Store, run: Run) -> RunContext:
    return RunContext(run, run_spec(run), run_split(store, run), store)


def explain_run(
    store: Store, run: Run, user_id: Any, items: Sequence[Any], n: int = 5
) -> list[Explanation]:
    """Explanations of ``items`` for ``user_id`` by a stored run's model, on its own split."""
    ctx = run_context(store, run)
    return [explain(ctx.model, ctx.train, user_id, item, n) for item in items]
