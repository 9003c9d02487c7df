"""Runs made from runs: blends and re-rankings share the base split and are evaluated alike."""

from __future__ import annotations

import pytest

from db import Store
from recsys_core.data.samples import synthetic
from recsys_core.errors import InputError
from recsys_core.jobs import runs as jobs
from recsys_core.jobs.datasets import import_dataset
from recsys_core.jobs.derived import derive_spec


@pytest.fixture
def two_runs(sqlite_store: Store) -> tuple[Store, list[int]]:
    import_dataset(sqlite_store, "syn", synthetic(300, 150, 9000, seed=5))
    ids = []
    for model in ("item_knn", "most_popular"):
        spec = jobs.parse_spec({"dataset": "syn", "model": model, "ks": [10], "seed": 4})
        run = jobs.train(sqlite_store, spec)
        assert run.status == "done", run.error
        ids.append(run.id)
    return sqlite_store, ids


def test_blend_of_two_runs_is_a_run_with_its_own_metrics(two_runs) -> None:
    store, (knn, pop) = two_runs
    blend = jobs.train(store, derive_spec(store, "blend", [knn, pop], weights=[0.8, 0.2]))
    assert blend.status == "done", blend.error
    assert blend.label == f"blend of #{knn} + #{pop}"
    assert blend.summary["n_test"] == jobs.get_run(store, knn).summary["n_test"]
    assert 0 < blend.summary["metrics"]["NDCG@10"] <= 1
    assert jobs.load_model(blend).recommend(["0"], 5).shape[0] == 5


def test_rerank_with_popularity_penalty_lowers_average_popularity(two_runs) -> None:
    store, (knn, _) = two_runs
    plan = {"steps": [{"kind": "popularity_penalty", "alpha": 0.5}]}
    rr = jobs.train(store, derive_spec(store, "rerank", [knn], rerank=plan))
    assert rr.status == "done", rr.error
    base = jobs.get_run(store, knn).summary["metrics"]
    assert rr.summary["metrics"]["ARP@10"] < base["ARP@10"]
    assert rr.artifact_path is None  # rebuilt from the base run's model and the plan
    model = jobs.load_model(rr, store)
    assert model.recommend(["0"], 3).shape[0] == 3


def test_combining_runs_of_different_splits_or_unfinished_runs_is_refused(two_runs) -> None:
    store, (knn, pop) = two_runs
    other = jobs.train(
        store, jobs.parse_spec({"dataset": "syn", "model": "ease", "ks": [10], "seed": 99})
    )
    with pytest.raises(InputError, match="different datasets, versions or splits"):
        derive_spec(store, "blend", [knn, other.id])
    queued = jobs.submit(store, jobs.parse_spec({"dataset": "syn", "model": "random", "seed": 4}))
    with pytest.raises(InputError, match="not finished"):
        derive_spec(store, "blend", [knn, queued.id])
    with pytest.raises(InputError, match="one weight per run"):
        derive_spec(store, "blend", [knn, pop], weights=[1.0])
    with pytest.raises(InputError, match="exactly one"):
        derive_spec(store, "rerank", [knn, pop], rerank={"steps": []})
