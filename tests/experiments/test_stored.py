"""Experiments in the store (SQLite and PostgreSQL): import, re-read, link runs, offline link."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest
from sqlalchemy import text

from db import Store
from recsys_core.data.io import read_table
from recsys_core.data.samples import synthetic
from recsys_core.errors import InputError
from recsys_core.experiments import (
    AnalysisSpec,
    ExperimentLog,
    analyze,
    infer_log_mapping,
    synthetic_log,
    validate_log,
)
from recsys_core.experiments.offline import offline_vs_online
from recsys_core.experiments.stored import (
    analyze_stored,
    import_experiment,
    link_run,
    list_experiments,
)
from recsys_core.jobs.datasets import import_dataset
from recsys_core.jobs.runs import parse_spec, train

SPEC = AnalysisSpec(control="control", ratios={"CTR": ("clicks", "exposures")})


def _log(seed: int = 0, lifts: dict[str, float] | None = None) -> ExperimentLog:
    frame = synthetic_log(3_000, lifts or {"control": 0.0, "B": 0.05, "C": -0.02}, seed=seed)
    raw = read_table(frame.to_csv(index=False).encode(), "exp.csv")
    return validate_log(raw, infer_log_mapping(raw.frame))


def _count(store: Store, table: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def test_import_round_trips_and_reads_the_same(store: Store) -> None:
    log = _log()
    stored = import_experiment(store, "homepage", log, SPEC)
    assert stored.counts == log.users["variant"].value_counts().sort_index().to_dict()
    assert stored.runs == {"B": None, "C": None, "control": None}
    pd.testing.assert_frame_equal(
        analyze_stored(store, "homepage").lifts, analyze(log, SPEC).lifts, rtol=1e-12
    )
    assert [e.name for e in list_experiments(store)] == ["homepage"]
    with pytest.raises(InputError, match="exists already"):
        import_experiment(store, "homepage", log, SPEC)


def test_a_failed_import_writes_nothing(store: Store) -> None:
    log = _log()
    with pytest.raises(InputError, match="not in the log"):
        import_experiment(store, "bad control", log, SPEC.model_copy(update={"control": "Z"}))
    doubled = pd.concat([log.users, log.users.iloc[:1]], ignore_index=True)  # a duplicate key
    # the bulk path's driver error (sqlite3 / psycopg) arrives after rows were written
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        import_experiment(store, "half", replace(log, users=doubled), SPEC)
    for table in ("experiments", "experiment_variants", "experiment_users", "experiment_values"):
        assert _count(store, table) == 0, table


@pytest.mark.slow
def test_linked_runs_give_offline_deltas_beside_online_lifts(store: Store) -> None:
    import_dataset(store, "shop", synthetic(120, 60, 2_500, seed=1))
    base = {"dataset": "shop", "ks": [10], "n_recommendations": 10, "seed": 3}
    runs = {m: train(store, parse_spec({**base, "model": m})) for m in ("most_popular", "item_knn")}
    assert all(r.status == "done" for r in runs.values())
    import_experiment(store, "ranker test", _log(lifts={"control": 0.0, "B": 0.05}), SPEC)
    import_experiment(store, "unlinked", _log(seed=4, lifts={"control": 0.0, "B": 0.0}), SPEC)
    link_run(store, "ranker test", "control", runs["most_popular"].id)
    link_run(store, "ranker test", "B", runs["item_knn"].id)
    with pytest.raises(InputError, match="no variant 'X'"):
        link_run(store, "ranker test", "X", runs["item_knn"].id)
    found = offline_vs_online(store)
    assert found.skipped and found.skipped[0].startswith("unlinked")
    ndcg = found.pairs[
        (found.pairs["offline_metric"] == "NDCG@10") & (found.pairs["online_metric"] == "revenue")
    ]
    assert len(ndcg) == 1
    row = ndcg.iloc[0]
    assert row["offline_delta"] == pytest.approx(
        row["offline_variant"] / row["offline_control"] - 1
    )
    assert row["online_lift"] == pytest.approx(
        analyze_stored(store, "ranker test").lifts.set_index("metric").loc["revenue", "lift"]
    )
    assert bool(row["same_data"])
    assert set(found.agreement["offline_metric"]) >= {"NDCG@10"}
