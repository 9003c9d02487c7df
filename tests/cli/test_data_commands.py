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


# ------------------------------------------------------------------ any file in (issue 10)
def _ml100k(tmp_path: Path) -> dict[str, Path]:
    from tests.data.layout_files import write_ml100k

    return write_ml100k(tmp_path)


def test_import_raw_movielens_100k_files_names_dataset_and_columns(run, capsys, store, tmp_path):
    """On SQLite and PostgreSQL: titles, folded genre lists and years round-trip the store."""
    from recsys_core.jobs.datasets import list_datasets, load_interactions

    f = _ml100k(tmp_path)
    code, out, err = run(capsys, "import", str(f["u.data"]), "--items", str(f["u.item"]),
                         "--users", str(f["u.user"]), "--db", store.url, "--json")  # fmt: skip
    assert code == 0, err
    assert out["name"] == "ml-100k"
    inter = load_interactions(store, "ml-100k")
    items, users = inter.item_features, inter.user_features
    # PostgreSQL's JSONB orders attribute keys its own way: compare the sets
    assert items is not None and set(items.columns) == {"title", "release_date", "genres"}
    assert items.loc["5", "genres"] == ["Crime", "Drama", "Thriller"]
    assert items.loc["6", "title"] == "Misérables, Les (1995)"  # Latin-1 read right
    assert items.loc["1", "release_date"] == 1995.0
    assert users is not None and set(users.columns) == {"age", "gender", "occupation"}
    ((ds, _),) = list_datasets(store)
    assert ds.source["items_format"].endswith("(MovieLens 100k u.item (movies))")
    assert ds.source["file"] == "u.data" and "Latin-1" in ds.source["items_format"]


def test_import_renames_picks_title_and_sets_roles(run, capsys, db, tmp_path):
    from db import Store
    from recsys_core.jobs.datasets import load_interactions

    f = _ml100k(tmp_path)
    plain = tmp_path / "movies.txt"  # an unrecognised 4-column layout: names from --item-names
    plain.write_text("".join(f"{i}|Film {i}|{1990 + i}|x{i}\n" for i in range(1, 7)))
    code, _, err = run(capsys, "import", str(f["u.data"]), "--name", "renamed",
                       "--names", "who,what,stars,when", "--map", "user=who", "--map", "item=what",
                       "--items", str(plain), "--item-names", "film,label,year,code",
                       "--map", "title=label", "--role", "code=ignore", "--role", "year=number",
                       "--db", db)  # fmt: skip
    assert code == 0, err
    items = load_interactions(Store(db), "renamed").item_features
    assert items is not None and list(items.columns) == ["title", "year"]
    assert items.loc["3", "title"] == "Film 3" and items.loc["3", "year"] == 1993.0


def test_import_names_flags_from_u_genre_and_refuses_unknown_role_columns(
    run, capsys, db, tmp_path
):
    f = _ml100k(tmp_path)
    code, _, err = run(capsys, "import", str(f["u.data"]), "--items", str(f["u.item"]),
                       "--flag-names", str(f["u.genre"]), "--role", "zip=ignore",
                       "--db", db)  # fmt: skip
    assert code == 2 and "--role zip=...: no item or user column" in err
    code, _, err = run(capsys, "import", str(f["u.data"]), "--names", "a,b", "--db", db)
    assert code == 2 and "has 4 columns but 2 names" in err


def test_import_refusal_says_which_formats_work(run, capsys, db, tmp_path):
    f = tmp_path / "u.item"
    f.write_bytes(b"\x00\x01\x02" * 100)
    code, _, err = run(capsys, "import", str(f), "--name", "x", "--db", db)
    assert code == 2 and "NUL bytes" in err and "any one-character delimiter" in err
