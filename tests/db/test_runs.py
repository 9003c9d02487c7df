"""Run results on both backends: reading some users' stored lists instead of the whole table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from db import Store
from db.repositories import DatasetRepository
from db.runs import RECOMMENDATION_COLUMNS, USER_CHUNK, RunRepository

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
        datasets = DatasetRepository(s)
        ds = datasets.create("d")
        v = datasets.add_version(
            ds.id, parent_id=None, feedback="implicit", recipe=None, stats={}, n_users=N_USERS,
            n_items=9, n_interactions=0, has_timestamps=False, has_events=False,
        )  # fmt: skip
        repo = RunRepository(s)
        ids = []
        for salt in ("a", "b"):
            run = repo.create(dataset_id=ds.id, version_id=v.id, label=salt, model="m", spec={})
            repo.write_recommendations(run.id, _recs(users, rng, salt))
            ids.append(run.id)
    return ids[0], ids[1]


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
