"""`recsys serve` as a real process on a free port, and what it refuses before listening."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from recsys_core.export import export_table
from tests.serving.conftest import Workspace


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(workspace: Workspace, *args: str, key: str | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "RECSYS_HOME": str(workspace.home)}
    env.pop("RECSYS_API_KEY", None)
    if key is not None:
        env["RECSYS_API_KEY"] = key
    command = [sys.executable, "-m", "recsys_core.cli", "serve", "--db", workspace.url, *args]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.fixture
def server(workspace: Workspace) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    proc = serve(workspace, "--run", str(workspace.runs["ease"].id), "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    yield url, proc
    proc.terminate()
    proc.wait(timeout=30)


def test_the_served_process_answers_like_the_export(
    workspace: Workspace, server: tuple[str, subprocess.Popen[str]]
) -> None:
    url, _ = server
    run = workspace.runs["ease"].id
    table = export_table(workspace.store, [run], 10)
    user = str(table["user_id"].iloc[0])
    body = httpx.get(f"{url}/users/{user}/recommendations", params={"k": 10}).json()
    want = table[table["user_id"] == user]["item_id"].astype(str).tolist()
    assert [r["item_id"] for r in body["recommendations"]] == want
    posted = httpx.post(f"{url}/recommendations", json={"items": want[:3], "k": 5})
    assert posted.status_code == 200 and len(posted.json()["recommendations"]) == 5


def test_listening_beyond_loopback_without_a_key_is_refused(workspace: Workspace) -> None:
    run = str(workspace.runs["ease"].id)
    proc = serve(workspace, "--run", run, "--host", "0.0.0.0", "--port", str(free_port()))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "set RECSYS_API_KEY" in err


def test_a_missing_run_is_refused_before_listening(workspace: Workspace) -> None:
    proc = serve(workspace, "--run", "99999", "--port", str(free_port()), "--json")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "No run 99999" in err


def test_the_cli_loads_no_web_stack_until_serving() -> None:
    probe = (
        "import sys, json\nimport recsys_core.cli as c\n"
        "try:\n    c.build_parser().parse_args(['serve', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    loaded = set(json.loads(out.strip().splitlines()[-1]))
    assert not {"fastapi", "uvicorn", "recsys_core.serving.app"} & loaded
    assert "recsys_core.cli.serve_commands" in loaded
