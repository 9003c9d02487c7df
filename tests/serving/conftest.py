"""A real store (SQLite and PostgreSQL) with small finished runs to serve."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from db import Store
from db.runs import Run
from db.schema import Base
from recsys_core.data.samples import synthetic
from recsys_core.jobs.datasets import import_dataset
from recsys_core.jobs.derived import derive_spec
from recsys_core.jobs.runs import parse_spec, train

DATASET = "syn"
#: A re-ranking that moves items (popular ones down), so its lists differ from its base's.
PENALTY = {"steps": [{"kind": "popularity_penalty", "alpha": 0.5}]}


@dataclass(frozen=True)
class Workspace:
    """The store (and its URL), its home folder (model files) and the finished runs by name."""

    url: str
    store: Store
    home: Path
    runs: dict[str, Run]


def build_runs(store: Store) -> dict[str, Run]:
    """EASE, ALS, BPR (cannot fold in) and a popularity-penalised item_knn re-ranking."""
    import_dataset(store, DATASET, synthetic(200, 120, 5000, seed=5))
    base = {"dataset": DATASET, "ks": [5, 10], "n_recommendations": 20, "seed": 7}
    runs: dict[str, Run] = {}
    for name, params in [
        ("ease", {}),
        ("als", {"embedding_size": 8, "reg": 0.1}),
        ("bpr", {"num_threads": 1}),
        ("item_knn", {}),
    ]:
        run = train(store, parse_spec({**base, "model": name, "params": params}))
        assert run.status == "done", run.error
        runs[name] = run
    spec = derive_spec(store, "rerank", [runs["item_knn"].id], rerank=PENALTY)
    runs["reranked"] = train(store, spec)
    assert runs["reranked"].status == "done", runs["reranked"].error
    return runs


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def workspace(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workspace]:
    """Built once per module and backend; model files in a home of their own."""
    home = tmp_path_factory.mktemp("serve_home")
    if request.param == "sqlite":
        url = f"sqlite:///{home / 'workbench.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RECSYS_HOME", str(home))
        store = Store(url)
        runs = build_runs(store)
    yield Workspace(url, store, home, runs)
    if request.param == "postgresql":
        with store.engine.begin() as conn:
            names = ", ".join(t.name for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} CASCADE"))
    store.dispose()
