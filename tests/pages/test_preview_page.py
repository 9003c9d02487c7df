"""AppTest of the Preview page: a user's history, held-out items, lists with hits, overlap."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from recsys_core.columns import Columns
from recsys_core.jobs.analysis import display_label
from recsys_core.jobs.context import run_split
from recsys_core.jobs.preview import held_out_users, run_recommendations

if TYPE_CHECKING:
    from tests.pages.conftest import Workspace


@pytest.fixture(scope="module")
def known_hit(workspace: Workspace) -> tuple[str, str, set[str]]:
    """A user, a held-out item most_popular put in their top 10, and all their test items."""
    run = workspace.runs["most_popular"]
    store = workspace.store()
    parts = run_split(store, run)
    test = parts.test.to_frame()
    recs = run_recommendations(store, run.id)
    top = recs[recs[Columns.rank] <= 10].merge(test, on=[Columns.user, Columns.item])
    user, item = top[Columns.user].iloc[0], top[Columns.item].iloc[0]
    store.dispose()
    return user, item, set(test.loc[test[Columns.user] == user, Columns.item])


def _open_for(open_page: Callable[[str], AppTest], workspace: Workspace, user: str) -> AppTest:
    at = open_page("preview")
    runs = [display_label(workspace.runs[n]) for n in ("most_popular", "item_knn")]
    at.multiselect(key="preview_runs").set_value(runs)
    at.text_input(key="preview_q").set_value(user)
    return at.run()


def _lists(at: AppTest) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe if "hit" in d.value.columns]


def test_known_hit_is_marked_and_only_held_out_items_are(
    open_page: Callable[[str], AppTest], workspace: Workspace, known_hit: tuple
) -> None:
    user, item, held_out = known_hit
    at = _open_for(open_page, workspace, user)
    assert not at.exception
    assert at.selectbox(key="preview_user").value == user
    popular, knn = _lists(at)
    assert popular.loc[popular[Columns.item] == item, "hit"].item() == "✓"
    for frame in (popular, knn):
        assert len(frame) == 10 and frame[Columns.rank].tolist() == list(range(1, 11))
        marked = set(frame.loc[frame["hit"] == "✓", Columns.item])
        assert marked == set(frame[Columns.item]) & held_out
    n_hits = (popular["hit"] == "✓").sum()
    label = display_label(workspace.runs["most_popular"])
    assert any(f"{label}**: {n_hits} hit(s)" in m.value for m in at.markdown)


def test_history_and_held_out_items_carry_item_metadata(
    open_page: Callable[[str], AppTest], workspace: Workspace, known_hit: tuple
) -> None:
    user, _, held_out = known_hit
    at = _open_for(open_page, workspace, user)
    history, test_side = (d.value for d in at.dataframe[:2])
    assert set(test_side[Columns.item]) == held_out
    assert not set(history[Columns.item]) & held_out  # a random holdout never repeats a pair
    assert {"title", "category"} <= set(history.columns)
    assert history["title"].notna().all()


def test_overlap_counts_are_symmetric_with_list_lengths_on_the_diagonal(
    open_page: Callable[[str], AppTest], workspace: Workspace, known_hit: tuple
) -> None:
    at = _open_for(open_page, workspace, known_hit[0])
    popular, knn = _lists(at)
    shared = at.dataframe[-1].value
    labels = [display_label(workspace.runs[n]) for n in ("most_popular", "item_knn")]
    assert shared.loc[labels[0], labels[0]] == 10
    both = len(set(popular[Columns.item]) & set(knn[Columns.item]))
    assert shared.loc[labels[0], labels[1]] == shared.loc[labels[1], labels[0]] == both


def test_switching_user_shows_that_users_stored_lists(
    open_page: Callable[[str], AppTest], workspace: Workspace, known_hit: tuple
) -> None:
    """Lists are read per user, so the second user must not see the first user's (cached) rows."""
    first = known_hit[0]
    store = workspace.store()
    names = ("most_popular", "item_knn")
    users = [u for u in held_out_users(run_split(store, workspace.runs[names[0]])) if u != first]
    at = _open_for(open_page, workspace, first)
    at.text_input(key="preview_q").set_value(users[0]).run()
    assert not at.exception and at.selectbox(key="preview_user").value == users[0]
    for name, shown in zip(names, _lists(at), strict=True):
        stored = run_recommendations(store, workspace.runs[name].id, users=[users[0]])
        top = stored[stored[Columns.rank] <= 10]
        assert shown[Columns.item].tolist() == top[Columns.item].tolist()
        assert shown[Columns.rank].tolist() == list(range(1, 11))
    store.dispose()


def test_unknown_user_gets_a_clear_message(
    open_page: Callable[[str], AppTest], workspace: Workspace
) -> None:
    at = _open_for(open_page, workspace, "no-such-user")
    assert not at.exception
    assert [e.value for e in at.error] == [
        "No user 'no-such-user' in this dataset. Ids are matched exactly (case matters); "
        "pick one from the list of test users."
    ]
    assert not _lists(at)
