"""Cleaning recipes on hand-made fixtures, plan JSON round trips, and MovieLens."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from recsys_core.columns import Columns
from recsys_core.data.clean import (
    CleaningPlan,
    Counts,
    Dedup,
    DropEvents,
    KCore,
    OutlierUsers,
    RatingThreshold,
    Recipe,
    TimeWindow,
    apply_plan,
    apply_recipe,
)
from recsys_core.data.interactions import Feedback, Interactions
from recsys_core.errors import InputError

SAMPLE = Path(__file__).resolve().parents[2] / "recsys_core/data/samples/ml-latest-small"
DAY = 86_400
T0 = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())


def make(
    pairs: list[tuple[str, str]],
    values: list[float] | None = None,
    *,
    ts: list[int] | None = None,
    events: list[str] | None = None,
    feedback: Feedback = "implicit",
) -> Interactions:
    """Tiny dataset over the id spaces of the pairs plus an unused user and item."""
    frame = pd.DataFrame(pairs, columns=[Columns.user, Columns.item])
    if values is not None:
        frame[Columns.rating if feedback == "explicit" else Columns.weight] = values
    if ts is not None:
        frame[Columns.timestamp] = ts
    if events is not None:
        frame[Columns.event] = events
    user_ids = np.array(sorted({u for u, _ in pairs} | {"zz_user"}))
    item_ids = np.array(sorted({i for _, i in pairs} | {"zz_item"}))
    return Interactions.from_frame(
        frame,
        feedback=feedback,
        user_ids=user_ids,
        item_ids=item_ids,
    )


def rows(inter: Interactions) -> list[tuple[str, str, float]]:
    f = inter.to_frame()
    value = Columns.rating if inter.feedback == "explicit" else Columns.weight
    return list(zip(f[Columns.user], f[Columns.item], f[value].astype(float), strict=True))


# ----------------------------------------------------------------------------- dedup
@pytest.fixture
def repeats() -> Interactions:
    # (a, x) three times, out of time order; (b, y) twice with equal values; (a, y) once
    return make(
        [("a", "x"), ("a", "x"), ("b", "y"), ("a", "x"), ("a", "y"), ("b", "y")],
        [2.0, 5.0, 1.0, 3.0, 4.0, 1.0],
        ts=[T0 + 30, T0 + 10, T0 + 5, T0 + 20, T0 + 1, T0 + 7],
    )


@pytest.mark.parametrize(
    ("keep", "expected"),
    [
        ("first", [("a", "x", 5.0), ("b", "y", 1.0), ("a", "y", 4.0)]),  # ts 10, 5, 1
        ("last", [("a", "x", 2.0), ("a", "y", 4.0), ("b", "y", 1.0)]),  # ts 30, 1, 7
        ("sum", [("a", "x", 10.0), ("a", "y", 4.0), ("b", "y", 2.0)]),
        ("max", [("a", "x", 5.0), ("a", "y", 4.0), ("b", "y", 1.0)]),
    ],
)
def test_dedup_keep_variants_by_timestamp(
    repeats: Interactions, keep: str, expected: list[tuple[str, str, float]]
) -> None:
    out, stats = apply_recipe(repeats, Dedup(keep=keep))  # type: ignore[arg-type]
    assert rows(out) == expected  # rows stay in input order
    assert stats.before.n_interactions == 6 and stats.after.n_interactions == 3


def test_dedup_last_keeps_the_latest_timestamp_and_event(repeats: Interactions) -> None:
    out, _ = apply_recipe(repeats, Dedup(keep="last"))
    assert out.timestamps is not None
    assert out.timestamps.tolist() == [T0 + 30, T0 + 1, T0 + 7]


def test_dedup_sum_and_max_keep_the_latest_row_among_ties(repeats: Interactions) -> None:
    summed, _ = apply_recipe(repeats, Dedup(keep="sum"))
    maxed, _ = apply_recipe(repeats, Dedup(keep="max"))
    assert summed.timestamps is not None and maxed.timestamps is not None
    assert summed.timestamps.tolist() == [T0 + 30, T0 + 1, T0 + 7]
    # (b, y): equal values 1.0 at t+5 and t+7 -> the later one
    assert maxed.timestamps.tolist() == [T0 + 10, T0 + 1, T0 + 7]


def test_dedup_without_timestamps_uses_input_order() -> None:
    inter = make([("a", "x"), ("a", "x"), ("a", "x")], [1.0, 2.0, 3.0])
    first, _ = apply_recipe(inter, Dedup(keep="first"))
    last, _ = apply_recipe(inter, Dedup(keep="last"))
    assert rows(first) == [("a", "x", 1.0)]
    assert rows(last) == [("a", "x", 3.0)]


def test_dedup_sum_on_explicit_ratings_is_refused() -> None:
    inter = make([("a", "x"), ("a", "x")], [4.0, 4.0], feedback="explicit")
    with pytest.raises(InputError, match="keep='last' or 'max'"):
        apply_recipe(inter, Dedup(keep="sum"))


def test_dedup_keeps_the_id_spaces(repeats: Interactions) -> None:
    out, _ = apply_recipe(repeats, Dedup())
    assert out.user_ids is repeats.user_ids and out.item_ids is repeats.item_ids
    assert out.n_items == 3  # x, y and the unused zz_item


# ------------------------------------------------------------------------- threshold
def test_threshold_keeps_high_ratings_as_implicit_ones() -> None:
    inter = make([("a", "x"), ("a", "y"), ("b", "x")], [4.0, 3.5, 5.0], feedback="explicit")
    out, stats = apply_recipe(inter, RatingThreshold(min_rating=4))
    assert rows(out) == [("a", "x", 1.0), ("b", "x", 1.0)]
    assert out.feedback == "implicit"
    assert stats.after == Counts(n_users=2, n_items=1, n_interactions=2, density=1.0)


def test_threshold_on_implicit_data_raises() -> None:
    with pytest.raises(InputError, match="explicit ratings"):
        apply_recipe(make([("a", "x")], [1.0]), RatingThreshold(min_rating=1))


def test_threshold_above_every_rating_raises_instead_of_emptying() -> None:
    inter = make([("a", "x"), ("b", "x")], [3.0, 5.0], feedback="explicit")
    with pytest.raises(InputError, match=r"remove every interaction.*highest rating .* is 5"):
        apply_recipe(inter, RatingThreshold(min_rating=6))


# ----------------------------------------------------------------------------- k-core
def test_kcore_cascades_to_the_fixpoint() -> None:
    # w has 1 -> drop D-w; D now has 1 -> drop D-z; z now has 1 -> drop C-z;
    # C now has 1 -> drop C-y; y keeps 2. Four rounds, each enabled by the one before.
    inter = make(
        [
            ("A", "x"),
            ("A", "y"),
            ("B", "x"),
            ("B", "y"),
            ("C", "y"),
            ("C", "z"),
            ("D", "z"),
            ("D", "w"),
        ]
    )
    out, stats = apply_recipe(inter, KCore(min_user=2, min_item=2))
    assert rows(out) == [("A", "x", 1.0), ("A", "y", 1.0), ("B", "x", 1.0), ("B", "y", 1.0)]
    assert stats.describe() == ("k-core (2, 2): 8 → 4 interactions, 4 → 2 users, 4 → 2 items")


def test_kcore_different_user_and_item_minimums() -> None:
    # min_user=1 keeps every user with one item; min_item=2 drops the single-use item
    inter = make([("a", "x"), ("b", "x"), ("c", "y")])
    out, _ = apply_recipe(inter, KCore(min_user=1, min_item=2))
    assert rows(out) == [("a", "x", 1.0), ("b", "x", 1.0)]


def _kcore_reference(pairs: set[tuple[int, int]], k_u: int, k_i: int) -> set[tuple[int, int]]:
    """The obvious loop, one removal at a time; only for tiny test data."""
    pairs = set(pairs)
    changed = True
    while changed:
        changed = False
        for u, i in sorted(pairs):
            n_u = sum(1 for p in pairs if p[0] == u)
            n_i = sum(1 for p in pairs if p[1] == i)
            if n_u < k_u or n_i < k_i:
                pairs.discard((u, i))
                changed = True
    return pairs


@pytest.mark.parametrize("seed", range(5))
def test_kcore_matches_a_one_at_a_time_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    u = rng.integers(12, size=80)
    i = np.minimum(rng.zipf(1.6, size=80) - 1, 14)
    pairs = sorted(set(zip(u.tolist(), i.tolist(), strict=True)))
    inter = make([(f"u{a:02d}", f"i{b:02d}") for a, b in pairs])
    expected = _kcore_reference(set(pairs), 3, 3)
    if not expected:
        with pytest.raises(InputError, match="remove every interaction"):
            apply_recipe(inter, KCore(min_user=3, min_item=3))
        return
    out, _ = apply_recipe(inter, KCore(min_user=3, min_item=3))
    got = {(int(a[1:]), int(b[1:])) for a, b, _ in rows(out)}
    assert got == expected


def test_kcore_that_removes_everything_raises() -> None:
    with pytest.raises(InputError, match=r"k-core \(5, 5\) would remove every interaction"):
        apply_recipe(make([("a", "x"), ("b", "y")]), KCore())


def test_kcore_minimum_below_one_is_rejected() -> None:
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        KCore(min_user=0)


# ---------------------------------------------------------------------- outlier users
def test_outlier_users_drops_activity_above_the_quantile() -> None:
    # activity a=1, b=1, c=1, d=10: 0.75-quantile = 1 + 0.25 * 9 = 3.25 -> d goes
    pairs = [("a", "i0"), ("b", "i0"), ("c", "i0")] + [("d", f"i{k}") for k in range(10)]
    out, stats = apply_recipe(make(pairs), OutlierUsers(quantile=0.75))
    assert sorted({u for u, _, _ in rows(out)}) == ["a", "b", "c"]
    assert stats.after.n_users == 3
    kept, _ = apply_recipe(make(pairs), OutlierUsers(quantile=1.0))
    assert kept.n_interactions == 13


@pytest.mark.parametrize("quantile", [0.0, -0.1, 1.5])
def test_outlier_quantile_outside_zero_one_is_rejected(quantile: float) -> None:
    with pytest.raises(ValidationError):
        OutlierUsers(quantile=quantile)


# ------------------------------------------------------------------------ time window
@pytest.fixture
def timed() -> Interactions:
    return make(
        [("a", "x"), ("a", "y"), ("b", "x"), ("b", "y")],
        ts=[T0, T0 + 5 * DAY, T0 + 9 * DAY, T0 + 10 * DAY],
    )


def test_time_window_start_is_inclusive_and_end_exclusive(timed: Interactions) -> None:
    recipe = TimeWindow(start=datetime(2024, 1, 6), end=datetime(2024, 1, 11))
    out, _ = apply_recipe(timed, recipe)
    assert out.timestamps is not None
    assert out.timestamps.tolist() == [T0 + 5 * DAY, T0 + 9 * DAY]
    assert "time window (2024-01-06 → 2024-01-11)" in _describe(timed, recipe)


def test_time_window_aware_and_naive_times_agree(timed: Interactions) -> None:
    naive, _ = apply_recipe(timed, TimeWindow(start=datetime(2024, 1, 6)))
    aware, _ = apply_recipe(timed, TimeWindow(start=datetime(2024, 1, 6, tzinfo=UTC)))
    assert naive.n_interactions == aware.n_interactions == 3


def test_time_window_last_days_counts_back_from_the_latest(timed: Interactions) -> None:
    out, _ = apply_recipe(timed, TimeWindow(last_days=5))  # (T0+5d, T0+10d]
    assert out.timestamps is not None
    assert out.timestamps.tolist() == [T0 + 9 * DAY, T0 + 10 * DAY]


def test_time_window_without_timestamps_raises() -> None:
    with pytest.raises(InputError, match="needs timestamps"):
        apply_recipe(make([("a", "x")]), TimeWindow(last_days=3))


def test_time_window_outside_the_data_names_the_data_range(timed: Interactions) -> None:
    with pytest.raises(InputError, match="runs from 2024-01-01 to 2024-01-11"):
        apply_recipe(timed, TimeWindow(start=datetime(2025, 1, 1)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": datetime(2024, 2, 1), "end": datetime(2024, 1, 1)}, "must be before end"),
        ({"start": datetime(2024, 1, 1), "last_days": 3}, "not both"),
        ({}, "or last_days"),
        ({"last_days": 0}, "greater than or equal to 1"),
    ],
)
def test_time_window_parameters_are_checked(kwargs: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TimeWindow(**kwargs)


# ------------------------------------------------------------------------ drop events
@pytest.fixture
def evented() -> Interactions:
    return make([("a", "x"), ("a", "y"), ("b", "x")], events=["view", "purchase", "view"])


def test_drop_events_removes_the_named_types(evented: Interactions) -> None:
    out, stats = apply_recipe(evented, DropEvents(events=["view"]))
    assert rows(out) == [("a", "y", 1.0)]
    assert out.events is not None and out.events.tolist() == ["purchase"]
    assert stats.after.n_users == 1


def test_drop_events_with_an_unknown_type_lists_the_known_ones(evented: Interactions) -> None:
    with pytest.raises(InputError, match=r"\['veiw'\].*\['purchase', 'view'\]"):
        apply_recipe(evented, DropEvents(events=["veiw"]))


def test_drop_every_event_type_raises(evented: Interactions) -> None:
    with pytest.raises(InputError, match="remove every interaction"):
        apply_recipe(evented, DropEvents(events=["view", "purchase"]))


def test_drop_events_without_event_column_raises() -> None:
    with pytest.raises(InputError, match="event type column"):
        apply_recipe(make([("a", "x")]), DropEvents(events=["view"]))


def test_drop_events_needs_at_least_one_name() -> None:
    with pytest.raises(ValidationError):
        DropEvents(events=[])


# ------------------------------------------------------------------------ plans
ALL_STEPS: list[Recipe] = [
    Dedup(keep="max"),
    RatingThreshold(min_rating=3.5),
    KCore(min_user=2, min_item=3),
    OutlierUsers(quantile=0.95),
    TimeWindow(start=datetime(2024, 1, 1), end=datetime(2024, 6, 1, 12, 30, tzinfo=UTC)),
    TimeWindow(last_days=30),
    DropEvents(events=["view", "cart"]),
]


def test_plan_round_trips_through_json_exactly() -> None:
    plan = CleaningPlan(steps=ALL_STEPS)
    text = plan.to_json()
    back = CleaningPlan.from_json(text)
    assert back == plan
    assert back.to_json() == text
    assert [type(s) for s in back.steps] == [type(s) for s in ALL_STEPS]


@pytest.mark.parametrize(
    "text",
    [
        '{"steps": [{"kind": "shuffle"}]}',
        '{"steps": [{"kind": "kcore", "min_users": 5}]}',  # typo: extra field is forbidden
        '{"steps": [], "note": "x"}',
    ],
)
def test_plan_from_bad_json_is_rejected(text: str) -> None:
    with pytest.raises(ValidationError):
        CleaningPlan.from_json(text)


def test_apply_plan_chains_steps_and_reports_progress() -> None:
    inter = make(
        [("A", "x"), ("A", "x"), ("A", "y"), ("B", "x"), ("B", "y"), ("C", "z")],
        [4.0, 2.0, 5.0, 4.0, 4.0, 5.0],
        ts=[T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4, T0 + 5],
        feedback="explicit",
    )
    plan = CleaningPlan(
        steps=[Dedup(keep="last"), RatingThreshold(min_rating=4), KCore(min_user=1, min_item=2)]
    )
    calls: list[tuple[int, int, str]] = []
    out, stats = apply_plan(inter, plan, progress=lambda d, t, m="": calls.append((d, t, m)))
    # dedup keeps the later A-x (2.0), the threshold drops it, then x and z have one user
    assert rows(out) == [("A", "y", 1.0), ("B", "y", 1.0)]
    assert [s.after.n_interactions for s in stats] == [5, 4, 2]
    assert all(a.after == b.before for a, b in itertools.pairwise(stats))
    assert stats[0].recipe == {"kind": "dedup", "keep": "last"}
    assert [c[:2] for c in calls] == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert out.user_ids is inter.user_ids


def test_counts_use_active_users_and_items_only() -> None:
    inter = make([("a", "x"), ("a", "y"), ("b", "x")])  # plus unused zz_user / zz_item
    assert Counts.of(inter) == Counts(2, 2, 3, 0.75)


def _describe(inter: Interactions, recipe: TimeWindow) -> str:
    return apply_recipe(inter, recipe)[1].describe()


@pytest.mark.realdata
def test_movielens_kcore_then_threshold() -> None:
    frame = pd.read_csv(SAMPLE / "ratings.csv").rename(
        columns={"userId": Columns.user, "movieId": Columns.item}
    )
    inter = Interactions.from_frame(frame)
    plan = CleaningPlan(steps=[KCore(min_user=5, min_item=5), RatingThreshold(min_rating=4)])
    out, stats = apply_plan(inter, plan)
    assert stats[0].before == Counts.of(inter)
    assert stats[0].describe().startswith("k-core (5, 5): 100,836 → ")
    core, _ = apply_recipe(inter, plan.steps[0])
    user_counts, item_counts = np.bincount(core.users), np.bincount(core.items)
    assert user_counts[user_counts > 0].min() >= 5
    assert item_counts[item_counts > 0].min() >= 5
    assert core.n_interactions == stats[0].after.n_interactions < 100_836
    assert out.feedback == "implicit" and set(np.unique(out.values)) == {1.0}
    assert out.n_items == inter.n_items  # same catalogue, nothing re-indexed
