"""The HTTP API through FastAPI's TestClient, against real stores and real runs."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from recsys_core.export import export_table
from recsys_core.serving.app import create_app
from recsys_core.serving.safety import MAX_BODY_BYTES
from tests.serving.conftest import Workspace

KEY = "s3cret-key"


def client(workspace: Workspace, name: str, api_key: str | None = None) -> TestClient:
    return TestClient(create_app(workspace.store, workspace.runs[name].id, api_key=api_key))


def a_user(workspace: Workspace, name: str) -> str:
    table = export_table(workspace.store, [workspace.runs[name].id], 5)
    return str(table["user_id"].iloc[0])


def test_health_run_facts_and_a_known_users_list(workspace: Workspace) -> None:
    run = workspace.runs["ease"]
    api = client(workspace, "ease")
    health = api.get("/health").json()
    assert health["status"] == "ok" and health["run"] == run.id
    assert health["posted_histories"] is True
    facts = api.get(f"/runs/{run.id}").json()
    assert facts["model"] == "ease" and facts["served"] is True
    assert facts["metrics"]["NDCG@10"] == pytest.approx(run.summary["metrics"]["NDCG@10"])
    assert facts["dataset_version_id"] == run.version_id and facts["trained_at"]
    assert api.get("/runs/99999").status_code == 404
    user = a_user(workspace, "ease")
    body = api.get(f"/users/{user}/recommendations", params={"k": 5, "explain": "true"}).json()
    want = export_table(workspace.store, [run.id], 5, [user], explanations=True)
    assert [r["item_id"] for r in body["recommendations"]] == want["item_id"].tolist()
    assert [r["title"] for r in body["recommendations"]] == want["title"].tolist()
    assert body["recommendations"][0]["reason"] == want["reason"].iloc[0]
    assert body["user_id"] == user and body["k"] == 5 and body["run"] == run.id
    assert "/users/{user_id}/recommendations" in api.get("/openapi.json").json()["paths"]


def test_unknown_users_bad_k_and_unknown_items_answer_404_and_422(workspace: Workspace) -> None:
    api = client(workspace, "ease")
    gone = api.get("/users/nobody/recommendations")
    assert gone.status_code == 404 and "'nobody' is not in the training data" in gone.text
    user = a_user(workspace, "ease")
    for k in (0, 1001, "ten"):
        assert api.get(f"/users/{user}/recommendations", params={"k": k}).status_code == 422
    posted = api.post("/recommendations", json={"items": ["nope", 12345678]})
    assert posted.status_code == 422
    assert "'nope', '12345678'" in posted.json()["detail"]
    mismatch = api.post("/recommendations", json={"items": ["1", "2"], "weights": [1.0]})
    assert mismatch.status_code == 422 and "1 weights for 2 items" in mismatch.text
    assert api.post("/recommendations", json={"items": []}).status_code == 422
    assert api.post("/recommendations", json={"items": ["1"], "extra": 1}).status_code == 422


def test_posted_history_is_scored_and_its_items_left_out(workspace: Workspace) -> None:
    api = client(workspace, "ease")
    served = api.app.state.served.state  # type: ignore[attr-defined]
    history = [str(i) for i in served.item_ids[:4]]
    body = api.post("/recommendations", json={"items": history, "k": 7}).json()
    items = [r["item_id"] for r in body["recommendations"]]
    assert len(items) == 7 and not set(items) & set(history)
    assert items == [r.item_id for r in served.for_history(history, None, 7)]
    assert body["user_id"] is None


def test_a_model_that_cannot_fold_in_refuses_posted_histories(workspace: Workspace) -> None:
    api = client(workspace, "bpr")
    answer = api.post("/recommendations", json={"items": ["1"]})
    assert answer.status_code == 422 and "cannot score a history" in answer.text
    assert api.get("/health").json()["posted_histories"] is False


def test_the_api_key_guards_every_endpoint_but_health(workspace: Workspace) -> None:
    api = client(workspace, "ease", api_key=KEY)
    user = a_user(workspace, "ease")
    path = f"/users/{user}/recommendations"
    assert api.get("/health").status_code == 200
    assert api.get(path).status_code == 401
    assert api.get(path, headers={"X-API-Key": "wrong"}).status_code == 401
    assert api.get(path, headers={"X-API-Key": KEY}).status_code == 200
    assert api.get(path, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    run = workspace.runs["ease"].id
    assert api.get(f"/runs/{run}").status_code == 401


def test_a_body_over_the_limit_is_refused_with_413(workspace: Workspace) -> None:
    api = client(workspace, "ease")
    big = b'{"items": ["' + b"1" * MAX_BODY_BYTES + b'"]}'
    answer = api.post("/recommendations", content=big, headers={"content-type": "application/json"})
    assert answer.status_code == 413 and "too large" in answer.text


def test_reload_needs_a_key_and_swaps_the_run(workspace: Workspace) -> None:
    ease, als = workspace.runs["ease"].id, workspace.runs["als"].id
    open_api = client(workspace, "ease")
    assert open_api.post("/admin/reload", json={"run": als}).status_code == 403
    api = client(workspace, "ease", api_key=KEY)
    headers = {"X-API-Key": KEY}
    assert api.post("/admin/reload", json={"run": als}).status_code == 401
    bad = api.post("/admin/reload", json={"run": 99999}, headers=headers)
    assert bad.status_code == 422 and "No run 99999" in bad.text
    assert api.get("/health").json()["run"] == ease  # a failed reload leaves the old run
    done = api.post("/admin/reload", json={"run": als}, headers=headers).json()
    assert done["previous"] == ease and done["run"] == als
    assert api.get("/health").json()["model"] == "als"


def test_requests_during_reloads_all_answer(workspace: Workspace) -> None:
    """Clients keep asking while the run is swapped back and forth: no request fails."""
    ease, als = workspace.runs["ease"].id, workspace.runs["als"].id
    api = client(workspace, "ease", api_key=KEY)
    headers = {"X-API-Key": KEY}
    user = a_user(workspace, "ease")  # the runs share a split: a known user of both
    codes: list[int] = []
    models: set[str] = set()

    def ask() -> None:
        for _ in range(40):
            answer = api.get(f"/users/{user}/recommendations", headers=headers)
            codes.append(answer.status_code)
            models.add(answer.json()["model"])

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    for run in (als, ease, als):
        assert api.post("/admin/reload", json={"run": run}, headers=headers).status_code == 200
    for t in threads:
        t.join()
    assert codes == [200] * 120
    assert models <= {"ease", "als"}
