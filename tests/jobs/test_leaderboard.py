"""Compare's leaderboard: primary metric first, best marked, tests against a reference."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_core.jobs.leaderboard import (
    BEST,
    leaderboard,
    metric_groups,
    pairwise_table,
    summary_line,
    versus_reference,
)


def _long() -> pd.DataFrame:
    rows = []
    for label, ndcg, gini in [("a", 0.30, 0.9), ("b", 0.35, 0.5), ("c", 0.20, 0.2)]:
        for metric, value in [("NDCG@10", ndcg), ("Recall@10", ndcg + 0.1), ("NDCG@5", ndcg),
                              ("Gini@10", gini), ("Coverage@10", 0.5)]:  # fmt: skip
            rows.append({"run": 1, "label": label, "metric": metric, "value": value,
                         "ci_low": value - 0.01, "ci_high": value + 0.01})  # fmt: skip
    return pd.DataFrame(rows)


def test_primary_first_best_marked_runs_ordered() -> None:
    table = leaderboard(_long(), "NDCG@10", {"a": "3.0 s", "b": "1 min 00 s", "c": "–"})
    assert list(table.columns) == ["", "run", "NDCG@10", "Recall@10", "duration"]
    assert table["run"].tolist() == ["b", "a", "c"]
    assert table[""].tolist() == [BEST, "", ""]
    assert table["NDCG@10"].iloc[0] == "0.350 [0.340, 0.360]"
    assert table["duration"].iloc[0] == "1 min 00 s"


def test_lower_is_better_metric_ranks_ascending() -> None:
    table = leaderboard(_long(), "Gini@10")
    assert table["run"].tolist() == ["c", "b", "a"]
    assert table["Coverage@10"].tolist() == ["0.500"] * 3  # same family and K as the primary


def test_ties_share_the_best_mark() -> None:
    long = _long()
    long.loc[long["metric"] == "Coverage@10", "value"] = 0.5
    assert leaderboard(long, "Coverage@10")[""].tolist() == [BEST] * 3


def test_groups_by_family_then_k() -> None:
    groups = metric_groups(["Gini@10", "NDCG@10", "RMSE", "NDCG@5", "Coverage@10", "Recall@5"])
    assert groups == {
        "accuracy @5": ["Recall@5", "NDCG@5"],
        "accuracy @10": ["NDCG@10"],
        "beyond accuracy @10": ["Coverage@10", "Gini@10"],
        "rating": ["RMSE"],
    }


def _values(seed: int = 0) -> dict[str, pd.Series]:
    rng = np.random.default_rng(seed)
    users = pd.Index([f"u{i}" for i in range(400)])
    base = rng.random(400)
    return {
        "best": pd.Series(base + 0.2, index=users),
        "twin": pd.Series(base + 0.2 + rng.normal(0, 1e-3, 400), index=users),
        "weak": pd.Series(base, index=users),
    }


def test_versus_reference_tests_only_the_reference_pairs() -> None:
    tests = versus_reference(_values(), "best", "NDCG@10")
    assert tests["run"].tolist() == ["twin", "weak"]
    assert tests["verdict"].tolist() == ["indistinguishable", "worse"]
    weak = tests.iloc[1]
    assert weak["difference"] == -0.2 and weak["effect"] == -1.0
    assert weak["p"] == "< 1e-16" or float(weak["p"]) < 1e-6
    line = summary_line(tests, "best", "NDCG@10")
    assert "indistinguishable from it: twin" in line and "significantly worse: weak" in line


def test_a_weaker_reference_sees_better_runs() -> None:
    tests = versus_reference(_values(), "weak", "NDCG@10")
    assert set(tests["verdict"]) == {"better"}
    # for an error metric, a higher value is worse
    assert set(versus_reference(_values(), "weak", "RMSE")["verdict"]) == {"worse"}


def test_pairwise_table_formats_p_values() -> None:
    table = pairwise_table(_values())
    assert len(table) == 3
    assert all(isinstance(p, str) and len(p) <= 8 for p in table["p (Holm)"])
