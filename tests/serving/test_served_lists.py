"""A served run answers with the lists its export holds, for every exported user."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.columns import Columns
from recsys_core.errors import InputError
from recsys_core.export import export_table
from recsys_core.serving.state import CannotFoldIn, UnknownUser, load_served
from tests.serving.conftest import Workspace

K = 10


@pytest.mark.parametrize("name", ["ease", "als", "bpr", "reranked"])
def test_every_exported_users_list_is_the_served_list(workspace: Workspace, name: str) -> None:
    run = workspace.runs[name]
    served = load_served(workspace.store, run.id)
    table = export_table(workspace.store, [run.id], K)
    assert table[Columns.user].nunique() > 30
    for user, rows in table.groupby(Columns.user, sort=False):
        got = served.for_user(str(user), K)
        assert [r.item_id for r in got] == rows[Columns.item].astype(str).tolist()
        np.testing.assert_allclose(
            [r.score for r in got], rows[Columns.score].to_numpy(), rtol=1e-5, atol=1e-6
        )
        assert [r.rank for r in got] == list(range(1, len(got) + 1))
        assert [r.title for r in got] == rows["title"].tolist()


def test_a_known_users_whole_history_posted_gets_their_list(workspace: Workspace) -> None:
    """Folding in the user's own training row is scoring that user: the same list."""
    for name in ["ease", "reranked"]:
        served = load_served(workspace.store, workspace.runs[name].id)
        train = served.model.train_
        for user in range(0, train.n_users, 17):
            history = train.item_ids[train.matrix[user].indices].astype(str).tolist()
            posted = served.for_history(history, None, K)
            known = served.for_user(str(train.user_ids[user]), K)
            assert [r.item_id for r in posted] == [r.item_id for r in known]
            assert not set(history) & {r.item_id for r in posted}


def test_a_reranked_run_reranks_posted_histories(workspace: Workspace) -> None:
    """The penalty reorders: a posted history's list differs from the base run's list."""
    base = load_served(workspace.store, workspace.runs["item_knn"].id)
    reranked = load_served(workspace.store, workspace.runs["reranked"].id)
    history = [str(i) for i in base.item_ids[:5]]
    plain = [r.item_id for r in base.for_history(history, None, K)]
    moved = [r.item_id for r in reranked.for_history(history, None, K)]
    assert plain != moved
    assert set(moved) <= {r.item_id for r in base.for_history(history, None, 100)}


def test_refusals_name_what_is_wrong(workspace: Workspace) -> None:
    served = load_served(workspace.store, workspace.runs["ease"].id)
    with pytest.raises(UnknownUser, match="'nobody' is not in the training data"):
        served.for_user("nobody", K)
    with pytest.raises(InputError, match=r"2 item id\(s\) are not in run .*'x1', 'x2'"):
        served.for_history([str(served.item_ids[0]), "x1", "x2"], None, K)
    with pytest.raises(InputError, match=r"k must lie in 1\.\.1000"):
        served.for_user(str(served.model.train_.user_ids[0]), 0)
    with pytest.raises(InputError, match="empty"):
        served.for_history([], None, K)
    bpr = load_served(workspace.store, workspace.runs["bpr"].id)
    with pytest.raises(CannotFoldIn, match="bpr model, which cannot score a history"):
        bpr.for_history([str(bpr.item_ids[0])], None, K)


def test_explained_lists_carry_the_reasons_the_run_stored(workspace: Workspace) -> None:
    run = workspace.runs["ease"]
    served = load_served(workspace.store, run.id)
    table = export_table(workspace.store, [run.id], 3, explanations=True)
    user = str(table[Columns.user].iloc[0])
    got = served.for_user(user, 3, explain=True)
    assert [r.reason for r in got] == table[table[Columns.user] == user]["reason"].tolist()
    assert all(r.reason for r in got)


def test_an_altered_model_file_is_refused(workspace: Workspace) -> None:
    run = workspace.runs["als"]
    path = workspace.home / "artifacts" / f"run_{run.id}.npz"
    original = path.read_bytes()
    try:
        path.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        with pytest.raises(InputError, match="does not match its checksum"):
            load_served(workspace.store, run.id)
    finally:
        path.write_bytes(original)
