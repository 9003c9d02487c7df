"""The ``recsys`` command: a contract for analysts' scripts and CI pipelines.

Every command takes ``--db URL`` (default ``$RECSYS_DATABASE_URL``, then the SQLite file in
``$RECSYS_HOME``) and ``--json`` (exactly one JSON object on stdout). Exit codes: 0 success,
2 bad input (message on stderr), 1 any other failure (message on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from recsys_core import json_values
from recsys_core.errors import InputError

if TYPE_CHECKING:
    from db import Store

Handler = Callable[[argparse.Namespace, "Store"], dict[str, Any]]


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on bad flags already; keep its message but our format."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line. The command modules import only the standard library at the
    top (their handlers import the heavy parts), so ``recsys --help`` starts at once."""
    from recsys_core.cli import (
        data_commands,
        experiment_commands,
        run_commands,
        serve_commands,
        tune_commands,
    )

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", help="database URL (default: $RECSYS_DATABASE_URL or SQLite)")
    common.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser = _Parser(prog="recsys", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    data_commands.register(sub, common)
    run_commands.register(sub, common)
    tune_commands.register(sub, common)
    experiment_commands.register(sub, common)
    serve_commands.register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (also used by the console script)."""
    try:
        args = build_parser().parse_args(argv)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from db import Store, StoreError  # after parsing: --help and bad flags need no database

    try:
        store = Store(args.db)
        try:
            result = args.handler(args, store)
        finally:
            store.dispose()
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    _emit(result, as_json=bool(args.json))
    return 0


def _emit(result: dict[str, Any], *, as_json: bool) -> None:
    text = result.pop("_text", None)
    if as_json:  # strict JSON: NaN (a metric without an interval) is written as null
        print(json_values.dumps(result))
        return
    print(text if text is not None else json_values.dumps(result, indent=2))


if __name__ == "__main__":
    raise SystemExit(main())
