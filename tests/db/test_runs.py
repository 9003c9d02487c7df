"""Run results on both backends: reading some users' stored lists instead of the whole table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.orm import Session

from db import Store
from db.repositories import DatasetRepository
from db.runs import RECOMMENDATION_COLUMNS, USER_CHUNK, Run, RunRepository

N_USERS = USER_CHUNK * 2 + 37  # three SQLite chunks, the last one partial
TOP_N = 3


def _user_ids(n: int) -> list[str]:
    """Ids whose text order differs from numeric order, plus case and a non-ASCII id."""
    return [f"u{i}" for i in range(n - 3)] + ["U1", "é", "x,y"]


def _recs(users: list[str], rng: np.random.Generator, salt: str) -> pd.DataFrame:
    """TOP_N rows a user, written in shuffled order so the read has to sort them."""
    user = np.repeat(users, TOP_N)
    rank = np.tile(np.arange(1, TOP_N + 1), len(users))
    frame = pd.DataFrame(
        {
            "user_id": user,
            "item_id": [f"{salt}{u}-{r}" for u, r in zip(user, rank, strict=True)],
            "score": rng.random(len(user)),
            "rank": rank,
            "reason": ["because" if r == 1 else None for r in rank],
        }
    )
    return frame.iloc[rng.permutation(len(frame))]


@pytest.fixture
def two_runs(store: Store, rng: np.random.Generator) -> tuple[int, int]:
    """Two runs storing lists for the same users (a query must not mix them up)."""
    users = _user_ids(N_USERS)
    with store.session() as s:
        repo, ids = RunRepository(s), []
        for salt in ("a", "b"):
            run = _new_run(s, salt)
            repo.write_recommendations(run.id, _recs(users, rng, salt))
            ids.append(run.id)
    return ids[0], ids[1]


def _new_run(s: Session, label: str) -> Run:
    """A run on a dataset of its own."""
    datasets = DatasetRepository(s)
    ds = datasets.create(f"d-{label}")
    v = datasets.add_version(
        ds.id, parent_id=None, feedback="implicit", recipe=None, stats={}, n_users=N_USERS,
        n_items=9, n_interactions=0, has_timestamps=False, has_events=False,
    )  # fmt: skip
    return RunRepository(s).create(
        dataset_id=ds.id, version_id=v.id, label=label, model="m", spec={}
    )


def _read(store: Store, run_id: int, users: list[str] | str | None = None) -> pd.DataFrame:
    with store.session() as s:
        return RunRepository(s).recommendations(run_id, users)


def _same_rows(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == RECOMMENDATION_COLUMNS
    got, want = got.reset_index(drop=True), want.reset_index(drop=True)
    for col in ("user_id", "item_id", "rank"):
        assert got[col].tolist() == want[col].tolist(), col
    np.testing.assert_allclose(got["score"].to_numpy(float), want["score"].to_numpy(float))
    assert got["reason"].isna().tolist() == want["reason"].isna().tolist()


def test_users_gives_exactly_their_rows_in_rank_order(
    store: Store, two_runs: tuple[int, int]
) -> None:
    run, other = two_runs
    full = _read(store, run)
    assert len(full) == N_USERS * TOP_N
    asked = ["u10", "u9", "é", "U1", "u10"]  # unordered, with a duplicate
    got = _read(store, run, asked)
    _same_rows(got, full[full["user_id"].isin(asked)])
    assert sorted(set(got["user_id"])) == sorted(set(asked))
    assert got.groupby("user_id", sort=False)["rank"].agg(list).tolist() == [[1, 2, 3]] * 4
    assert got["item_id"].str.startswith("a").all()  # nothing from the other run
    assert _read(store, other, "u9")["item_id"].tolist() == ["bu9-1", "bu9-2", "bu9-3"]


def test_unknown_or_no_users_give_an_empty_frame_with_the_same_columns(
    store: Store, two_runs: tuple[int, int]
) -> None:
    run, _ = two_runs
    for users in (["ghost"], [], ["u1 "]):  # ids match exactly: no trimming
        got = _read(store, run, users)
        assert got.empty and list(got.columns) == RECOMMENDATION_COLUMNS


def test_a_list_longer_than_one_chunk_reads_every_user_once_in_order(
    store: Store, two_runs: tuple[int, int]
) -> None:
    run, _ = two_runs
    full = _read(store, run)
    everyone = [*reversed(_user_ids(N_USERS)), "ghost"]
    assert len(everyone) > 2 * USER_CHUNK
    _same_rows(_read(store, run, everyone), full)
    half = everyone[::2]
    _same_rows(_read(store, run, half), full[full["user_id"].isin(half)])


def test_written_results_read_back_exactly_whatever_the_write_order(
    store: Store, rng: np.random.Generator
) -> None:
    """The writers reorder rows into key order and insert many rows per statement: every
    value, NULL and text must still come back as given (row counts that fill no whole
    statement, NaN metrics, missing reasons, ids whose text order is not their order)."""
    users = _user_ids(N_USERS)
    recs = _recs(users, rng, "z")
    per_user = pd.DataFrame(
        {"user_id": users[::-1], "Recall@10": rng.random(N_USERS), "NDCG@5": rng.random(N_USERS)}
    )
    per_user.loc[per_user.index[::7], "NDCG@5"] = np.nan
    with store.session() as s:
        repo, run = RunRepository(s), _new_run(s, "z")
        repo.write_recommendations(run.id, recs)
        repo.write_user_metrics(run.id, per_user, "user_id")
    with store.session() as s:
        repo = RunRepository(s)
        got = repo.recommendations(run.id)
        got_metrics = repo.user_metrics(run.id, "user_id")
    key = ["user_id", "rank"]
    want = recs.set_index(key).sort_index()
    got = got.set_index(key).sort_index()
    assert got.index.equals(want.index)
    assert got["item_id"].tolist() == want["item_id"].tolist()
    assert got["score"].to_numpy(float).tolist() == want["score"].to_numpy(float).tolist()
    assert got["reason"].where(got["reason"].notna(), None).tolist() == want["reason"].tolist()
    want_m = per_user.set_index("user_id").sort_index()
    got_m = got_metrics.set_index("user_id").sort_index()[list(want_m.columns)]
    pd.testing.assert_frame_equal(got_m, want_m, check_exact=True, check_dtype=False)
