"""A run's context: the split training used, one cached split per (version, config, seed)."""

from __future__ import annotations

import numpy as np
import pytest

from db import Store
from recsys_core.data.samples import synthetic
from recsys_core.errors import InputError
from recsys_core.jobs import runs as jobs
from recsys_core.jobs.context import run_context, run_model, run_split, split_key
from recsys_core.jobs.datasets import import_dataset, load_interactions


@pytest.fixture
def two_runs(store: Store) -> tuple[Store, list]:
    import_dataset(store, "syn", synthetic(120, 60, 3000, seed=3))
    spec = {"dataset": "syn", "ks": [5]}
    runs = [
        jobs.train(store, jobs.parse_spec({**spec, "model": "most_popular"})),
        jobs.train(store, jobs.parse_spec({**spec, "model": "item_knn"})),
        jobs.train(store, jobs.parse_spec({**spec, "model": "most_popular", "seed": 7})),
    ]
    assert all(r.status == "done" for r in runs)
    return store, runs


def test_runs_sharing_a_split_share_one_cached_object(two_runs) -> None:
    store, (a, b, other_seed) = two_runs
    assert split_key(a) == split_key(b) != split_key(other_seed)
    assert run_split(store, a) is run_split(store, b)
    assert run_split(store, other_seed) is not run_split(store, a)
    # the split is the one training used: same test side as a fresh split of the version
    fresh = jobs.split_for(load_interactions(store, "syn"), jobs.RunSpec(**a.spec).split, 42)
    np.testing.assert_array_equal(run_split(store, a).test.users, fresh.test.users)
    assert run_split(store, a).test.n_interactions == a.summary["n_test"]


def test_another_store_object_does_not_see_the_cache(two_runs) -> None:
    store, (a, *_) = two_runs
    again = Store(store.url)
    try:
        assert run_split(again, a) is not run_split(store, a)
    finally:
        again.dispose()


def test_context_loads_the_model_once_and_checks_it(two_runs) -> None:
    store, (_, knn, _) = two_runs
    ctx = run_context(store, knn)
    assert ctx.model is run_model(store, knn) and ctx.train is ctx.split.train
    assert ctx.spec.model == "item_knn"
    unfinished = jobs.submit(store, jobs.parse_spec({"dataset": "syn", "model": "ease"}))
    with pytest.raises(InputError, match="no saved model"):
        run_model(store, unfinished)
