"""AppTest of the Home page through app.py: workflow steps, the store's contents, the next step."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.pages.conftest import ROOT, Workspace

STEPS = ["1 · Data", "2 · Train", "3 · Compare", "4 · Explain", "4 · Preview", "5 · Export"]


def _home() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception, at.exception
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _links(at: AppTest) -> list[str]:
    return [p.proto.label.strip("*") for p in at.main.get("page_link")]


def test_home_is_the_default_page_and_shows_the_workflow_and_the_store(
    app_env: Workspace,
) -> None:
    at = _home()
    assert [t.value for t in at.title] == ["Recsys Workbench"]
    assert _links(at)[: len(STEPS)] == STEPS
    metrics = _metrics(at)
    assert metrics["Datasets"] == "1" and metrics["Versions"] == "1"
    assert metrics["Runs finished"] == "3"
    # the sampled run scores higher (easier protocol) but is not comparable: left out
    full = [r for r in app_env.runs.values() if r.spec.get("protocol", "full") == "full"]
    best = max(full, key=lambda r: r.summary["metrics"]["NDCG@10"])
    assert metrics["Best run by NDCG@10"] == f"{best.summary['metrics']['NDCG@10']:.4f}"
    assert any(f"#{best.id} (full ranking" in c.value for c in at.main.caption)
    assert _links(at)[-1] == "Go to Compare"  # runs are in: the next step is Compare
    navigation = [p.proto.label for p in at.sidebar.get("page_link")]
    assert navigation[:4] == ["Home", "Data", "Train", "Tune"] and "_ui" not in navigation
