"""Latency of a served run under a steady request rate (issue 15's targets).

Usage: python -m bench.bench_serve [--rate 200] [--seconds 30] [--store DIR]

MovieLens latest-small, EASE and ALS runs with default parameters (a 80/20 random split,
seed 42). Each run is served by a real ``recsys serve`` process (uvicorn, one worker) on
127.0.0.1, and a bounded, open-loop load generator in this process sends requests at a fixed
rate: request i is due at ``t0 + i / rate``, whatever the answers before it took. Latency is
counted from the moment a request was due, so a server that falls behind shows it (no
coordinated omission). Two kinds of requests per run: known users
(``GET /users/{id}/recommendations?k=10``, a random training user each time) and posted
histories (``POST /recommendations``, up to 50 items of a random training user's history).
Targets: p99 <= 20 ms for known users and <= 50 ms for posted histories, 0 errors.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench._report import write_section

MODELS = ["ease", "als"]
#: Sender threads: each owns one keep-alive connection and every THREADS-th request.
THREADS = 16
WARMUP_S = 2.0
HISTORY_CAP = 50


@dataclass(frozen=True)
class Workload:
    """The training side of the run's split: who is known and what they did."""

    users: np.ndarray
    histories: list[list[str]]


def prepare(home: Path) -> tuple[str, dict[str, int], Workload]:
    """The store (reused when ``home`` has one), the runs by model, and the workload."""
    from db import Store
    from db.runs import RunRepository
    from recsys_core.data.samples import MOVIELENS_SMALL, load_movielens_small
    from recsys_core.jobs import runs as jobs
    from recsys_core.jobs.context import run_split
    from recsys_core.jobs.datasets import import_dataset

    os.environ["RECSYS_HOME"] = str(home)
    url = f"sqlite:///{home / 'serve.db'}"
    store = Store(url)
    shared = Path("/work/shared/datasets/ml-latest-small")
    with store.session() as s:
        done = {r.model: r for r in RunRepository(s).all(status="done")}
    if not done:
        folder = shared if shared.is_dir() else MOVIELENS_SMALL
        import_dataset(store, "movielens", load_movielens_small(folder))
    for model in MODELS:
        if model not in done:
            spec = jobs.parse_spec({"dataset": "movielens", "model": model, "seed": 42})
            done[model] = jobs.train(store, spec)
            assert done[model].status == "done", done[model].error
    train = run_split(store, done[MODELS[0]]).train
    m = train.matrix
    histories = [
        train.item_ids[m.indices[m.indptr[u] : m.indptr[u + 1]]].astype(str).tolist()
        for u in range(train.n_users)
    ]
    store.dispose()
    return url, {m: done[m].id for m in MODELS}, Workload(train.user_ids.astype(str), histories)


def start_server(url: str, run_id: int, port: int, home: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "RECSYS_HOME": str(home)}
    env.pop("RECSYS_API_KEY", None)
    command = [sys.executable, "-m", "recsys_core.cli", "serve", "--db", url]
    command += ["--run", str(run_id), "--port", str(port)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"recsys serve exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("recsys serve did not answer /health within 300 s")


def requests_for(kind: str, work: Workload, n: int, seed: int) -> list[tuple[str, str, bytes]]:
    """``n`` (method, path, body) triples drawn before the clock starts."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, len(work.users), n)
    if kind == "known user":
        return [("GET", f"/users/{work.users[u]}/recommendations?k=10", b"") for u in users]
    out = []
    for u in users:
        history = work.histories[u]
        take = rng.choice(len(history), min(HISTORY_CAP, len(history)), replace=False)
        body = json.dumps({"items": [history[i] for i in sorted(take)], "k": 10}).encode()
        out.append(("POST", "/recommendations", body))
    return out


def drive(port: int, requests: list[tuple[str, str, bytes]], rate: float) -> pd.DataFrame:
    """Send request i at ``t0 + i / rate`` from THREADS keep-alive connections.

    Returns one row per request: latency from when it was due (ms), HTTP status (0 for a
    connection error), and how late it was sent (ms).
    """
    n = len(requests)
    latency, status, late = np.zeros(n), np.zeros(n, dtype=int), np.zeros(n)
    t0 = time.perf_counter() + 0.2

    def sender(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Content-Type": "application/json"}
        for i in range(offset, n, THREADS):
            due = t0 + i / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            late[i] = max(0.0, time.perf_counter() - due) * 1000
            method, path, body = requests[i]
            try:
                conn.request(method, path, body=body or None, headers=headers)
                response = conn.getresponse()
                response.read()
                status[i] = response.status
            except (OSError, http.client.HTTPException):
                status[i] = 0
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            latency[i] = (time.perf_counter() - due) * 1000
        conn.close()

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return pd.DataFrame({"latency_ms": latency, "status": status, "late_ms": late})


def measure(port: int, kind: str, work: Workload, rate: float, seconds: float) -> dict:
    warm = requests_for(kind, work, int(rate * WARMUP_S), seed=1)
    drive(port, warm, rate)
    load_before = os.getloadavg()[0]
    frame = drive(port, requests_for(kind, work, int(rate * seconds), seed=2), rate)
    lat = frame["latency_ms"]
    return {
        "requests": len(frame),
        "rate/s": rate,
        "p50 ms": round(float(lat.quantile(0.5)), 1),
        "p95 ms": round(float(lat.quantile(0.95)), 1),
        "p99 ms": round(float(lat.quantile(0.99)), 1),
        "max ms": round(float(lat.max()), 1),
        "errors": int((frame["status"] != 200).sum()),
        "sent late >5 ms": int((frame["late_ms"] > 5).sum()),
        "load avg": f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}",
    }


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--store", type=Path, help="folder to keep (and reuse) the store in")
    args = parser.parse_args()
    home = args.store or Path(tempfile.mkdtemp(prefix="bench_serve_"))
    home.mkdir(parents=True, exist_ok=True)
    url, runs, work = prepare(home)
    rows = []
    for model in MODELS:
        port = free_port()
        server = start_server(url, runs[model], port, home)
        try:
            for kind, target in (("known user", 20), ("posted history", 50)):
                row = {"model": model, "requests of": kind, "target p99 ms": target}
                row.update(measure(port, kind, work, args.rate, args.seconds))
                print(row, flush=True)
                rows.append(row)
        finally:
            server.terminate()
            server.wait(timeout=30)
    notes = (
        "One `recsys serve` process (uvicorn, one worker) per run; the load generator runs on "
        f"the same 2-core machine ({THREADS} threads, one keep-alive connection each). "
        "Latency is counted from when each request was due, not from when it was sent. "
        f"Posted histories are up to {HISTORY_CAP} items of a random training user's history; "
        "known users are random training users; k = 10 throughout."
    )
    command = f"python -m bench.bench_serve --rate {args.rate:g} --seconds {args.seconds:g}"
    write_section("serve", "Serving a run (bench_serve)", command, pd.DataFrame(rows), notes)


if __name__ == "__main__":
    main()
