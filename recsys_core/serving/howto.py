"""How to serve a run: the command and curl examples the Export page shows for a chosen run.

Kept apart from the page so the text is tested, and apart from ``app`` so the page does not
import FastAPI: showing the command must not cost what serving costs.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from db.engine import ENV_URL, default_url

DEFAULT_PORT = 8000


@dataclass(frozen=True)
class ServeHowTo:
    """What to run and what to ask, for one run.

    Attributes:
        command: the ``recsys serve`` line (``--db`` unless the store is the default file).
        curl_user: a request for a known user's list, with reasons.
        curl_history: a posted history, or None when the model cannot fold one in.
        note: one sentence on what the run can answer.
    """

    command: str
    curl_user: str
    curl_history: str | None
    note: str


def serve_howto(
    run_id: int,
    model: str,
    folds_in: bool,
    db_url: str,
    sample_user: str,
    sample_items: Sequence[str],
    *,
    port: int = DEFAULT_PORT,
) -> ServeHowTo:
    """The command serving ``run_id`` and curl examples using ids from the run itself.

    Args:
        run_id: the finished run.
        model: its family's key (named in the note).
        folds_in: whether the family scores posted histories (``Capabilities.history_scoring``).
        db_url: the store's URL as displayed (passwords hidden; the command then says so).
        sample_user: a user id the run was trained on.
        sample_items: a few item ids of its catalogue, for the posted-history example.
        port: where the server listens.
    """
    command = f".venv/bin/recsys serve --run {run_id} --port {port}"
    if db_url != default_url() or os.environ.get(ENV_URL):  # another shell may lack the env
        command += f" --db {shlex.quote(db_url)}"
    base = f"http://127.0.0.1:{port}"
    user_path = f"/users/{quote(str(sample_user), safe='')}/recommendations?k=10&explain=true"
    curl_user = f"curl -s {shlex.quote(base + user_path)}"
    curl_history = None
    if folds_in:
        body = json.dumps({"items": [str(i) for i in sample_items[:5]], "k": 10})
        curl_history = (
            f"curl -s -X POST {base}/recommendations \\\n"
            "  -H 'Content-Type: application/json' \\\n"
            f"  -d {shlex.quote(body)}"
        )
        note = (
            f"Run {run_id} ({model}) answers its training users and scores posted histories "
            "of new users on the fly."
        )
    else:
        note = (
            f"Run {run_id} ({model}) answers its training users; a {model} model cannot score "
            "a history it was not trained on, so POST /recommendations answers 422."
        )
    if "***" in db_url:
        note += " Put the database password in place of *** (or set RECSYS_DATABASE_URL)."
    note += (
        " On 127.0.0.1 no key is needed; to listen on another address (--host) set "
        "RECSYS_API_KEY and send it in the X-API-Key header. API docs at /docs."
    )
    return ServeHowTo(command, curl_user, curl_history, note)
