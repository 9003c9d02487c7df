"""`recsys experiment ...`: analyse a file, store it, list, power; strict JSON, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recsys_core.cli import main
from recsys_core.experiments import synthetic_log


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out, parse_constant=lambda c: pytest.fail(c)) if out else {}), err


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "ab.csv"
    synthetic_log(20_000, {"A": 0.0, "B": 0.06}, seed=5).to_csv(path, index=False)
    return path


def test_analyze_prints_srm_first_and_lifts_as_strict_json(
    capsys: pytest.CaptureFixture[str], log_file: Path
) -> None:
    code, out, _ = _run(
        capsys, "experiment", "analyze", str(log_file), "--control", "A",
        "--metric", "revenue", "--ratio", "CTR=clicks/exposures",
        "--planned-split", "A=0.5,B=0.5", "--planned-users", "40000", "--json",
    )  # fmt: skip
    assert code == 0
    assert out["srm"]["flagged"] is False
    assert [r["metric"] for r in out["lifts"]] == ["revenue", "CTR"]
    revenue = out["lifts"][0]
    assert revenue["cuped"] is True
    assert revenue["ci_low"] < 0.06 < revenue["ci_high"]
    assert any(w.startswith("Read early: 20,000 of the 40,000") for w in out["warnings"])


def test_analyze_text_output_names_a_planted_srm_first(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "srm.csv"
    synthetic_log(20_000, {"A": 0.0, "B": 0.0}, split={"A": 0.53, "B": 0.47}).to_csv(path)
    code = main(["experiment", "analyze", str(path), "--control", "A", "--map", "user=user_id"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("!! Sample-ratio mismatch")


def test_bad_input_exits_2_with_the_reason(
    capsys: pytest.CaptureFixture[str], log_file: Path
) -> None:
    code, _, err = _run(capsys, "experiment", "analyze", str(log_file), "--control", "Z")
    assert code == 2
    assert "control 'Z' is not in the log" in err


def test_import_list_and_show_a_stored_experiment(
    capsys: pytest.CaptureFixture[str], log_file: Path, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    code, out, _ = _run(
        capsys, "experiment", "import", str(log_file), "--control", "A", "--name", "hp",
        "--db", db, "--json",
    )  # fmt: skip
    assert code == 0 and out["users"] == 20_000
    code, out, _ = _run(capsys, "experiment", "list", "--db", db, "--json")
    assert out["experiments"][0]["name"] == "hp"
    code, out, _ = _run(capsys, "experiment", "show", "hp", "--db", db, "--json")
    assert code == 0 and {r["variant"] for r in out["lifts"]} == {"B"}
    code, _, err = _run(capsys, "experiment", "link", "hp", "B", "99", "--db", db)
    assert code == 2 and "No run 99" in err


def test_power_matches_the_formula(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "experiment", "power", "--mean", "0.1", "--mde", "0.05", "--json")
    assert code == 0
    # (1.95996 + 0.84162)^2 * 0.09 * 2 / 0.005^2 = 56,511.9
    assert out["n_control"] == 56_512
