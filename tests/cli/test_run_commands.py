"""CLI run commands: train (sync and queued), runs, evaluate, export, worker."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from db import Store
from db.runs import RunRepository
from recsys_core.cli import main


@pytest.fixture
def db(tmp_path: Path, capsys) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    args = ["synth", "--users", "300", "--items", "150", "--interactions", "9000"]
    assert main([*args, "--seed", "2", "--name", "s", "--db", url]) == 0
    capsys.readouterr()
    return url


def test_train_prints_run_id_and_metrics_then_evaluate_and_export(
    run, capsys, db, tmp_path
) -> None:
    code, out, err = run(
        capsys, "train", "--dataset", "s", "--model", "item_knn", "--param", "n_neighbors=20",
        "--k", "10", "--seed", "1", "--top-n", "20", "--explain-top", "2", "--db", db, "--json",
    )  # fmt: skip
    assert code == 0, err
    assert out["status"] == "done" and 0 < out["metrics"]["NDCG@10"] <= 1
    run_id = str(out["run_id"])
    code, ev, err = run(capsys, "evaluate", "--run", run_id, "--segments", "--db", db, "--json")
    assert code == 0, err
    ndcg = {m["metric"]: m["value"] for m in ev["metrics"]}["NDCG@10"]
    assert ndcg == pytest.approx(out["metrics"]["NDCG@10"])
    assert {s["view"] for s in ev["segments"]} >= {"user activity", "item popularity"}
    target = tmp_path / "top.csv"
    code, ex, err = run(
        capsys, "export", "--run", run_id, "--k", "5", "--out", str(target), "--db", db, "--json"
    )
    assert code == 0, err
    table = pd.read_csv(target)
    assert list(table.columns) == [
        "user_id",
        "item_id",
        "title",  # the synthetic items have titles
        "rank",
        "score",
        "model",
        "run_id",
        "created_at",
    ]
    assert table["rank"].max() == 5 and len(table) == ex["rows"]
    why = tmp_path / "why.csv"
    args = ["export", "--run", run_id, "--k", "5", "--out", str(why), "--explanations"]
    code, _, err = run(capsys, *args, "--db", db, "--json")
    assert code == 0, err
    reasons = pd.read_csv(why)
    assert reasons.drop(columns="reason").equals(table)
    assert reasons["reason"].str.startswith("Because you rated").all()  # stored and computed
    with Store(db).session() as s:
        stored = RunRepository(s).recommendations(int(run_id))
    assert stored["rank"].max() == 20 and stored.groupby("user_id").size().max() == 20
    assert stored.loc[stored["rank"] <= 2, "reason"].notna().all()
    assert stored.loc[stored["rank"] > 2, "reason"].isna().all()


def test_queue_then_worker_once(run, capsys, db) -> None:
    code, out, _ = run(
        capsys,
        "train",
        "--dataset",
        "s",
        "--model",
        "most_popular",
        "--queue",
        "--db",
        db,
        "--json",
    )
    assert code == 0 and out["status"] == "queued"
    code, w, _ = run(capsys, "worker", "--once", "--db", db, "--json")
    assert code == 0 and w["runs_processed"] == 1
    code, listing, _ = run(capsys, "runs", "--db", db, "--json")
    assert [r["status"] for r in listing["runs"]] == ["done"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "--dataset", "s", "--model", "nope"], "Unknown model"),
        (["train", "--dataset", "s", "--model", "ease", "--param", "reg=-3"], "reg"),
        (
            ["train", "--dataset", "s", "--model", "ease", "--param", "colour=red"],
            "unknown parameter",
        ),
        (["train", "--dataset", "s", "--model", "ease", "--k", "0"], "k must be at least 1"),
        (["train", "--dataset", "zzz", "--model", "ease"], "No dataset"),
        (["train", "--dataset", "s", "--model", "ease", "--split", '{"kind": "x"}'], "split"),
        (["evaluate", "--run", "999"], "No run 999"),
        (["export", "--run", "999", "--k", "5", "--out", "x.csv"], "No run 999"),
    ],
)
def test_bad_run_input_exits_2_and_stores_nothing(run, capsys, db, argv, needle) -> None:
    code, _out, err = run(capsys, *argv, "--db", db)
    assert code == 2 and needle in err, err
    code, listing, _ = run(capsys, "runs", "--db", db, "--json")
    assert listing["runs"] == []


def test_blend_and_rerank_commands(run, capsys, db) -> None:
    ids = []
    for model in ("item_knn", "most_popular"):
        code, out, err = run(
            capsys, "train", "--dataset", "s", "--model", model, "--db", db, "--json"
        )
        assert code == 0, err
        ids.append(str(out["run_id"]))
    code, out, err = run(
        capsys, "blend", "--runs", *ids, "--weights", "0.7", "0.3", "--db", db, "--json"
    )
    assert code == 0, err
    assert 0 < out["metrics"]["NDCG@10"] <= 1
    plan = '{"steps": [{"kind": "mmr", "lambda_": 0.5}]}'
    code, out, err = run(capsys, "rerank", "--run", ids[0], "--plan", plan, "--db", db, "--json")
    assert code == 0, err
    code, _, err = run(
        capsys, "rerank", "--run", ids[0], "--plan", '{"steps": [{"kind": "x"}]}', "--db", db
    )
    assert code == 2 and "re-ranking plan" in err
