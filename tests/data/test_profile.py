"""Profile numbers and Data page charts, checked against a hand-computed fixture."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.data.profile import Summary, coverage, gini, profile, top_share
from recsys_core.data.profile_charts import (
    MAX_POINTS,
    activity_bins,
    profile_figures,
    time_buckets,
)
from recsys_core.errors import InputError

SAMPLE = Path(__file__).resolve().parents[2] / "recsys_core/data/samples/ml-latest-small"
DAY = 86_400
T0 = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())


@pytest.fixture
def rich() -> Interactions:
    """4 active users (a: 5 incl. a repeat, b: 2, c: 1, d: 1), items i1..i6 (i5, i6 unused).

    Item counts over the catalogue: i1 5, i2 2, i3 1, i4 1, i5 0, i6 0.
    """
    rows = [
        ("a", "i1", 5.0, 0, "view"),
        ("a", "i2", 4.0, 1, "view"),
        ("a", "i3", 3.0, 2, "buy"),
        ("a", "i4", 2.0, 3, "view"),
        ("a", "i1", 4.0, 4, "buy"),
        ("b", "i1", 4.0, 5, "view"),
        ("b", "i2", 5.0, 6, "buy"),
        ("c", "i1", 1.0, 7, "view"),
        ("d", "i1", 4.5, 30.5, "view"),
    ]
    cols = [Columns.user, Columns.item, Columns.rating, Columns.timestamp, Columns.event]
    frame = pd.DataFrame(rows, columns=cols)
    frame[Columns.timestamp] = (T0 + frame[Columns.timestamp] * DAY).astype(np.int64)
    items = pd.DataFrame(
        {
            "title": ["A", "  ", "C", "D", "E", "F"],  # i2 blank
            "genres": [["Drama"], [], ["Comedy", "Drama"], np.nan, ["X"], ["Y"]],
            "price": [1.0, np.nan, 3.0, np.nan, 5.0, 6.0],
        },
        index=pd.Index([f"i{k}" for k in range(1, 7)]),
    )
    users = pd.DataFrame(
        {"age_group": ["25-34", None, "35-44", "", "55+"]}, index=pd.Index(list("abcde"))
    )
    return Interactions.from_frame(frame, item_features=items, user_features=users)


def test_gini_hand_computed_examples() -> None:
    assert gini(np.array([1, 1, 1, 1])) == 0.0
    assert gini(np.array([0, 0, 0, 4])) == pytest.approx(3 / 4)  # (n - 1) / n
    assert gini(np.array([0] * 9 + [7])) == pytest.approx(9 / 10)
    # sorted [1, 2, 3, 4]: (-3*1 - 1*2 + 1*3 + 3*4) / (4 * 10) = 10 / 40
    assert gini(np.array([4, 1, 3, 2])) == pytest.approx(0.25)


def test_gini_of_empty_or_all_zero_counts_is_zero() -> None:
    assert gini(np.array([])) == 0.0
    assert gini(np.zeros(5)) == 0.0


def test_top_share_rounds_the_top_fraction_up() -> None:
    counts = np.array([10, 0, 0, 0, 0, 5, 5, 0, 0, 0])  # top 20% = 2 items: (10 + 5) / 20
    assert top_share(counts) == pytest.approx(0.75)
    assert top_share(np.array([3, 1, 1])) == pytest.approx(3 / 5)  # ceil(0.6) = 1 item


def test_profile_counts_on_the_hand_fixture(rich: Interactions) -> None:
    p = profile(rich)
    assert (p.n_users, p.n_items, p.n_catalogue_items, p.n_interactions) == (4, 4, 6, 9)
    assert p.n_repeated_pairs == 1
    assert p.density == pytest.approx(9 / 16)
    assert p.user_activity == Summary(mean=2.25, median=1.5, min=1, max=5)
    assert p.item_popularity == Summary(mean=2.25, median=1.5, min=1, max=5)
    # catalogue counts sorted [0, 0, 1, 1, 2, 5]: (-1 + 1 + 3*2 + 5*5) / (6 * 9)
    assert p.gini_items == pytest.approx(31 / 54)
    assert p.top20_share == pytest.approx(7 / 9)  # ceil(1.2) = 2 items: 5 + 2 of 9
    assert p.cold_user_share == pytest.approx(3 / 4)  # b, c, d have < 5
    assert p.cold_item_share == pytest.approx(3 / 4)  # i2, i3, i4 have < 5
    assert p.unused_item_share == pytest.approx(2 / 6)
    assert p.event_counts == {"view": 6, "buy": 3}


def test_profile_ratings_and_time_span(rich: Interactions) -> None:
    p = profile(rich)
    assert p.ratings is not None
    assert p.ratings.mean == pytest.approx(32.5 / 9)
    assert (p.ratings.median, p.ratings.min, p.ratings.max) == (4.0, 1.0, 5.0)
    assert p.ratings.distribution == ((1, 1), (2, 1), (3, 1), (4, 3), (4.5, 1), (5, 2))
    assert p.time_span is not None
    assert (p.time_span.first, p.time_span.last) == ("2024-01-01", "2024-01-31")
    assert p.time_span.days == pytest.approx(30.5)


def test_profile_metadata_coverage_counts_active_ids_only(rich: Interactions) -> None:
    p = profile(rich)
    # active items i1..i4: title blank on i2; genres empty list on i2, NaN on i4
    assert p.item_coverage == {"title": 0.75, "genres": 0.5, "price": 0.5}
    # active users a..d: b None, d blank; e is inactive and not counted
    assert p.user_coverage == {"age_group": 0.5}


def test_coverage_counts_ids_missing_from_the_table_as_empty() -> None:
    table = pd.DataFrame({"tags": [["x"], ["y"]]}, index=pd.Index(["1", "2"]))
    assert coverage(table, np.array(["1", "2", "3", "4"])) == {"tags": 0.5}
    assert coverage(None, np.array(["1"])) == {}


def test_profile_implicit_without_timestamps_has_no_ratings_or_span() -> None:
    frame = pd.DataFrame({Columns.user: ["a", "b"], Columns.item: ["x", "x"]})
    p = profile(Interactions.from_frame(frame))
    assert p.ratings is None and p.time_span is None and p.event_counts is None
    assert p.item_coverage == {} and p.user_coverage == {}


def test_profile_continuous_ratings_become_a_binned_histogram(rng: np.random.Generator) -> None:
    frame = pd.DataFrame(
        {
            Columns.user: rng.integers(50, size=500),
            Columns.item: rng.integers(40, size=500),
            Columns.rating: rng.random(500) * 5,
        }
    )
    p = profile(Interactions.from_frame(frame))
    assert p.ratings is not None
    assert len(p.ratings.distribution) == 20
    assert sum(c for _, c in p.ratings.distribution) == 500


def test_profile_of_empty_data_raises() -> None:
    frame = pd.DataFrame({Columns.user: ["a"], Columns.item: ["x"]})
    empty = Interactions.from_frame(frame).subset(np.array([], dtype=np.int64))
    with pytest.raises(InputError, match="no interactions"):
        profile(empty)


def test_to_dict_is_strict_json(rich: Interactions) -> None:
    d = profile(rich).to_dict()
    back = json.loads(json.dumps(d, allow_nan=False))
    assert back["ratings"]["distribution"][3] == {"rating": 4.0, "count": 3}
    assert back["user_activity"] == {"mean": 2.25, "median": 1.5, "min": 1, "max": 5}
    assert back["time_span"]["first"] == "2024-01-01"


# --------------------------------------------------------------------------- charts
def test_figure_keys_with_everything(rich: Interactions) -> None:
    figs = profile_figures(rich, profile(rich))
    assert set(figs) == {
        "popularity", "user_activity", "ratings", "over_time", "cold_start", "metadata_coverage"
    }  # fmt: skip


def test_figure_keys_disappear_without_ratings_time_or_metadata() -> None:
    frame = pd.DataFrame({Columns.user: ["a", "b", "b"], Columns.item: ["x", "x", "y"]})
    inter = Interactions.from_frame(frame)
    assert set(profile_figures(inter, profile(inter))) == {
        "popularity", "user_activity", "cold_start"
    }  # fmt: skip


def test_plotted_numbers_match_the_profile(rich: Interactions) -> None:
    prof = profile(rich)
    figs = profile_figures(rich, prof)
    pop = figs["popularity"].data[0]
    assert list(pop.x) == [1, 2, 3, 4] and list(pop.y) == [5, 2, 1, 1]
    assert "Gini 0.57" in figs["popularity"].layout.title.text
    assert figs["popularity"].layout.yaxis.type == "log"
    act = figs["user_activity"].data[0]
    assert list(act.x) == ["1", "2", "3", "4", "5"] and list(act.y) == [2, 1, 0, 0, 1]
    ratings = figs["ratings"].data[0]
    assert list(ratings.x) == [1, 2, 3, 4, 4.5, 5] and list(ratings.y) == [1, 1, 1, 3, 1, 2]
    over = figs["over_time"].data[0]
    assert len(over.x) == 31 and over.x[0] == "2024-01-01" and sum(over.y) == 9
    assert "per day" in figs["over_time"].layout.title.text
    cold = figs["cold_start"].data[0]
    assert list(cold.y) == pytest.approx([75.0, 75.0, 100 * 2 / 6])
    meta = figs["metadata_coverage"].data[0]
    assert list(meta.x) == ["item: title", "item: genres", "item: price", "user: age_group"]
    assert list(meta.y) == pytest.approx([75.0, 50.0, 50.0, 50.0])


def test_every_figure_has_a_title_and_axis_titles(rich: Interactions) -> None:
    for name, fig in profile_figures(rich, profile(rich)).items():
        assert fig.layout.title.text, name
        assert fig.layout.yaxis.title.text, name


def test_popularity_is_thinned_for_large_catalogues(rng: np.random.Generator) -> None:
    n = 200_000
    frame = pd.DataFrame(
        {Columns.user: rng.integers(5_000, size=n), Columns.item: rng.zipf(1.3, size=n) % 50_000}
    )
    inter = Interactions.from_frame(frame)
    prof = profile(inter)
    fig = profile_figures(inter, prof)["popularity"].data[0]
    assert len(fig.x) <= MAX_POINTS + 200
    assert fig.y[0] == prof.item_popularity.max and fig.x[-1] == prof.n_items
    assert list(fig.y) == sorted(fig.y, reverse=True)


def test_activity_bins_are_log_spaced_and_count_everyone() -> None:
    counts = np.arange(1, 1001)
    labels, hist = activity_bins(counts)
    assert hist.sum() == 1000 and len(labels) <= 31
    assert labels[0] == "1" and labels[-1].endswith("–1000")
    widths = [int(lab.split("–")[-1]) - int(lab.split("–")[0]) + 1 for lab in labels]
    assert widths[-1] > 10 * widths[0]


def test_time_buckets_choose_day_week_or_month_from_the_span() -> None:
    def ts(*dates: str) -> np.ndarray:
        return np.array([int(pd.Timestamp(d, tz="UTC").timestamp()) for d in dates])

    name, starts, counts = time_buckets(ts("2024-01-01", "2024-01-03 18:00", "2024-01-08"))
    assert name == "day" and counts.tolist() == [1, 0, 1, 0, 0, 0, 0, 1]
    assert str(starts[0]) == "2024-01-01"
    # 2024-01-03 is a Wednesday: its week starts Monday 2024-01-01; Sunday 01-07 too
    name, starts, counts = time_buckets(ts("2024-01-03", "2024-01-07", "2024-01-08", "2024-06-01"))
    assert name == "week" and str(starts[0]) == "2024-01-01"
    assert counts[:2].tolist() == [2, 1] and counts.sum() == 4
    name, starts, counts = time_buckets(ts("2020-01-15", "2020-01-31", "2024-03-02"))
    assert name == "month" and str(starts[0]) == "2020-01-01" and str(starts[-1]) == "2024-03-01"
    assert len(counts) == 51 and counts[0] == 2 and counts[-1] == 1


@pytest.mark.realdata
def test_movielens_profile() -> None:
    frame = pd.read_csv(SAMPLE / "ratings.csv").rename(
        columns={"userId": Columns.user, "movieId": Columns.item}
    )
    p = profile(Interactions.from_frame(frame))
    assert (p.n_users, p.n_items, p.n_interactions) == (610, 9724, 100_836)
    assert p.user_activity.min == 20 and p.cold_user_share == 0.0
    assert p.ratings is not None and len(p.ratings.distribution) == 10
    assert p.ratings.mean == pytest.approx(3.5016, abs=1e-4)
    assert p.time_span is not None and p.time_span.first == "1996-03-29"
    assert 0.6 < p.gini_items < 0.8 and p.top20_share > 0.7
