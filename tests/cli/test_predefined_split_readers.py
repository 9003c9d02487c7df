"""Issue 11 item 4: a run on the analyst's own (predefined) split can be exported with reasons,
explained and previewed: every reader rebuilds the split the way training did."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from db import Store
from recsys_core.jobs.context import explain_run, run_context
from recsys_core.jobs.preview import held_out_users
from recsys_core.jobs.runs import get_run


def _own_split_file(tmp_path: Path) -> Path:
    rows = [
        f"u{u},i{(u * 3 + j) % 40},{j % 5 + 1},{'test' if j >= 8 else 'train'}"
        for u in range(60)
        for j in range(10)
    ]
    path = tmp_path / "own_split.csv"
    path.write_text("user,item,rating,split\n" + "\n".join(rows) + "\n")
    return path


def test_export_explain_and_preview_of_a_predefined_split_run(
    run, capsys, store: Store, tmp_path: Path
) -> None:
    db = store.url
    code, _, err = run(capsys, "import", str(_own_split_file(tmp_path)), "--name", "own",
                       "--db", db, "--json")  # fmt: skip
    assert code == 0, err
    code, out, err = run(
        capsys, "train", "--dataset", "own", "--model", "item_knn", "--split",
        '{"kind": "predefined"}', "--explain-top", "1", "--db", db, "--json",
    )  # fmt: skip
    assert code == 0, err
    target = tmp_path / "top.csv"
    code, _, err = run(
        capsys, "export", "--run", str(out["run_id"]), "--k", "5", "--explanations",
        "--out", str(target), "--db", db, "--json",
    )  # fmt: skip
    assert code == 0, err  # was exit 2: "The predefined split needs ... its is-test column"
    table = pd.read_csv(target)
    assert table["rank"].max() == 5 and table["reason"].notna().all()  # ranks 2-5 explained now
    finished = get_run(store, out["run_id"])
    ctx = run_context(store, finished)
    assert (ctx.train.n_interactions, ctx.split.test.n_interactions) == (480, 120)
    user = held_out_users(ctx.split)[0]
    items = table.loc[table["user_id"].astype(str) == user, "item_id"].astype(str).tolist()
    found = explain_run(store, finished, user, items)
    assert [e.plain_sentence for e in found]
