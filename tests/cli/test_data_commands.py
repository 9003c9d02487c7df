"""The CLI contract: --db, --json (one object on stdout), exit codes 0 / 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_import_prints_id_version_counts_as_json(run, capsys, db: str, tmp_path: Path) -> None:
    f = tmp_path / "events.csv"
    f.write_text(
        "customer,sku,stars\n"
        + "".join(f"c{u},s{u % 7 + i},{i + 1}\n" for u in range(30) for i in range(4))
    )
    code, out, err = run(
        capsys,
        "import",
        str(f),
        "--name",
        "shop",
        "--map",
        "user=customer",
        "--map",
        "item=sku",
        "--map",
        "rating=stars",
        "--db",
        db,
        "--json",
    )
    assert code == 0, err
    assert out["name"] == "shop" and out["version"] == 1
    assert (out["users"], out["items"], out["interactions"]) == (30, 10, 120)
    code, listing, _ = run(capsys, "datasets", "--db", db, "--json")
    assert code == 0 and [d["name"] for d in listing["datasets"]] == ["shop"]


def test_bad_input_exits_2_with_message_on_stderr(run, capsys, db: str, tmp_path: Path) -> None:
    f = tmp_path / "empty.csv"
    f.write_text("")
    code, out, err = run(capsys, "import", str(f), "--name", "x", "--db", db, "--json")
    assert code == 2 and out == "" and "empty" in err.lower()
    code, _, err = run(capsys, "import", str(tmp_path / "nope.csv"), "--name", "x", "--db", db)
    assert code == 2 and "no such file" in err
    code, _, err = run(
        capsys,
        "synth",
        "--users",
        "0",
        "--items",
        "5",
        "--interactions",
        "9",
        "--name",
        "s",
        "--db",
        db,
    )
    assert code == 2 and "--users" in err
    code, _, err = run(capsys, "profile", "missing", "--db", db)
    assert code == 2 and "No dataset 'missing'" in err
    code, _, err = run(capsys, "import", str(f), "--name", "x", "--map", "colour", "--db", db)
    assert code == 2 and "KEY=VALUE" in err


def test_synth_profile_clean_round(run, capsys, db: str) -> None:
    code, out, err = run(
        capsys,
        "synth",
        "--users",
        "300",
        "--items",
        "120",
        "--interactions",
        "6000",
        "--seed",
        "7",
        "--name",
        "s",
        "--db",
        db,
        "--json",
    )
    assert code == 0, err
    assert out["interactions"] == 6000
    code, prof, err = run(capsys, "profile", "s", "--db", db, "--json")
    assert code == 0, err
    assert prof["n_interactions"] == 6000 and 0 <= prof["gini_items"] <= 1
    plan = '{"steps": [{"kind": "kcore", "min_user": 10, "min_item": 10}]}'
    code, cleaned, err = run(capsys, "clean", "s", "--plan", plan, "--db", db, "--json")
    assert code == 0, err
    assert cleaned["version"] == 2 and cleaned["interactions"] <= 6000
    code, _, err = run(capsys, "clean", "s", "--plan", '{"steps": [{"kind": "nope"}]}', "--db", db)
    assert code == 2 and "cleaning plan" in err


@pytest.mark.realdata
def test_console_script_loads_the_sample(db: str) -> None:
    exe = Path(sys.executable).with_name("recsys")
    done = subprocess.run(
        [str(exe), "sample", "movielens-small", "--db", db, "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["interactions"] == 100_836


def test_import_events_with_weights_becomes_implicit_feedback(
    run, capsys, db: str, tmp_path
) -> None:
    from db import Store
    from recsys_core.jobs.datasets import load_interactions

    f = tmp_path / "clicks.csv"
    rows = [
        f"u{u},i{(u + j) % 9},{'buy' if j == 0 else 'view'}" for u in range(40) for j in range(3)
    ]
    f.write_text("user,item,action\n" + "\n".join(rows) + "\n")
    code, _out, err = run(
        capsys, "import", str(f), "--name", "clicks", "--event-weights", "view=1, buy=5",
        "--db", db, "--json",
    )  # fmt: skip
    assert code == 0, err
    inter = load_interactions(Store(db), "clicks")
    assert inter.feedback == "implicit"
    by_event = dict(zip(inter.events, inter.values, strict=True))
    assert by_event == {"buy": 5.0, "view": 1.0}
    code, _, err = run(
        capsys, "import", str(f), "--name", "c2", "--event-weights", "buy", "--db", db
    )
    assert code == 2 and "TYPE=WEIGHT" in err
