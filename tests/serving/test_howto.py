"""The Export page's serving how-to: its curl examples, replayed against the real API, work."""

from __future__ import annotations

import json
import shlex
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from db.engine import ENV_URL, default_url
from recsys_core.export import export_table
from recsys_core.models.registry import REGISTRY
from recsys_core.serving.app import create_app
from recsys_core.serving.howto import serve_howto
from tests.serving.conftest import Workspace


def _howto(workspace: Workspace, name: str, url: str | None = None):  # type: ignore[no-untyped-def]
    run = workspace.runs[name]
    table = export_table(workspace.store, [run.id], 5)
    user = str(table["user_id"].iloc[0])
    items = table.loc[table["user_id"] == table["user_id"].iloc[0], "item_id"].astype(str)
    folds_in = REGISTRY[run.model].folds_in
    return serve_howto(run.id, run.model, folds_in, url or workspace.store.url, user, list(items))


def _replay(api: TestClient, curl: str) -> tuple[int, dict]:
    """Send what a curl line in the how-to would send (method, path, JSON body)."""
    words = shlex.split(curl)
    url = next(w for w in words if w.startswith("http://"))
    target = urlsplit(url)
    path = target.path + (f"?{target.query}" if target.query else "")
    if "-X" in words and words[words.index("-X") + 1] == "POST":
        body = json.loads(words[words.index("-d") + 1])
        response = api.post(path, json=body)
    else:
        response = api.get(path)
    return response.status_code, response.json()


@pytest.mark.parametrize("name", ["ease", "bpr"])
def test_the_shown_requests_answer_as_the_note_says(workspace: Workspace, name: str) -> None:
    howto = _howto(workspace, name)
    run = workspace.runs[name]
    assert howto.command.startswith(f".venv/bin/recsys serve --run {run.id} --port 8000")
    api = TestClient(create_app(workspace.store, run.id))
    status, body = _replay(api, howto.curl_user)
    assert status == 200 and len(body["recommendations"]) == 10
    assert all(r["reason"] for r in body["recommendations"])  # explain=true was asked
    if name == "ease":
        assert howto.curl_history is not None and "scores posted histories" in howto.note
        status, body = _replay(api, howto.curl_history)
        assert status == 200 and body["user_id"] is None and len(body["recommendations"]) == 10
    else:  # BPR cannot fold a history in: no example, and the note says why
        assert howto.curl_history is None and "422" in howto.note


def test_the_command_names_the_store_unless_it_is_the_default_file(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_URL, raising=False)
    assert "--db" not in _howto(workspace, "ease", url=default_url()).command
    monkeypatch.setenv(ENV_URL, workspace.url)  # set in the app's shell, maybe not in the next
    assert f"--db {shlex.quote(workspace.store.url)}" in _howto(workspace, "ease").command
    other = _howto(workspace, "ease", url="postgresql+psycopg://ana:***@db:5432/recs").command
    assert other.endswith("--db 'postgresql+psycopg://ana:***@db:5432/recs'")
    assert "***" in _howto(workspace, "ease", url="postgresql+psycopg://ana:***@db/x").note
