"""``recsys serve``: one finished run behind an HTTP API (FastAPI + uvicorn, loaded here only)."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the handler imports the server: `recsys --help` must not load FastAPI
    from db import Store


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "serve",
        parents=[common],
        help="serve a finished run's recommendations over HTTP (API key: $RECSYS_API_KEY)",
    )
    p.add_argument("--run", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1", help="beyond loopback needs $RECSYS_API_KEY")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--log-level", default="warning", help="uvicorn's: info logs every request")
    p.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    """Check the binding, load and verify the run, then answer until stopped (Ctrl-C)."""
    import uvicorn
    from threadpoolctl import threadpool_limits

    from recsys_core.serving.app import create_app
    from recsys_core.serving.safety import KEY_ENV, check_binding

    api_key = os.environ.get(KEY_ENV)
    check_binding(args.host, api_key)
    app = create_app(store, args.run, api_key=api_key)
    url = f"http://{args.host}:{args.port}"
    print(f"Serving run {args.run} on {url} (API docs: {url}/docs); Ctrl-C stops.", flush=True)
    # Each answer is a small product: BLAS threads only spin and wait for each other there
    # (ALS answers went from ~1 ms to ~20 ms under load with OpenBLAS's default pool).
    with threadpool_limits(1, "blas"):
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return {"run": args.run, "stopped": True, "_text": f"Stopped serving run {args.run}."}
