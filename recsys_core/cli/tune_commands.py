"""Tune command: hyper-parameter search, optionally followed by a run of the best config."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from recsys_core.cli._args import parse_pairs
from recsys_core.errors import InputError

if TYPE_CHECKING:  # the handler imports what it uses: `recsys --help` must not pay for Optuna
    from db import Store


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("tune", parents=[common], help="search hyper-parameters with Optuna")
    p.add_argument("--dataset", required=True)
    p.add_argument("--version", type=int)
    p.add_argument("--model", help="registry name, e.g. ease, als, item_knn (not with --auto)")
    p.add_argument("--trials", type=int, help="trials this call runs (not with --auto)")
    p.add_argument(
        "--auto",
        action="store_true",
        help="find the best model: search every family within --budget, then run the best ones",
    )
    p.add_argument("--budget", type=float, help="with --auto: minutes for the whole search")
    p.add_argument(
        "--families", help="with --auto: comma-separated families (default: cheap strong ones)"
    )
    p.add_argument("--top", type=int, default=3, help="with --auto: best families run on test")
    p.add_argument("--metric", default="NDCG@10", help="accuracy metric maximised")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--split",
        default='{"kind": "random", "test_fraction": 0.2}',
        help="the real split as JSON; its test side is never used for tuning",
    )
    p.add_argument("--validation-fraction", type=float, default=0.2)
    p.add_argument("--range", action="append", metavar="KEY=LOW:HIGH[:log]", help="a range")
    p.add_argument("--choices", action="append", metavar="KEY=a,b,c", help="values to try")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="fixed parameter")
    p.add_argument("--timeout", type=float, help="stop starting trials after this many seconds")
    p.add_argument(
        "--study", help="study name; workers naming one study share its trials (see README, Tuning)"
    )
    p.add_argument("--run-best", action="store_true", help="then train a run of the best config")
    p.set_defaults(handler=cmd_tune)


def _typed(text: str) -> Any:
    """JSON when it parses (numbers, booleans), else the bare string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _overrides(ranges: list[str] | None, choices: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in parse_pairs(ranges, "--range").items():
        parts = value.split(":")
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "log"):
            raise InputError(f"--range takes KEY=LOW:HIGH or KEY=LOW:HIGH:log; got {value!r}.")
        try:
            low, high = float(parts[0]), float(parts[1])
        except ValueError:
            raise InputError(
                f"--range {key}: LOW and HIGH must be numbers; got {value!r}."
            ) from None
        out[key] = {"low": low, "high": high, "log": len(parts) == 3}
    for key, value in parse_pairs(choices, "--choices").items():
        out[key] = {"choices": [_typed(v.strip()) for v in value.split(",") if v.strip()]}
    return out


def cmd_tune(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    if args.auto:
        return cmd_auto(args, store)
    if args.model is None or args.trials is None:
        raise InputError("Give --model and --trials (or --auto with --budget).")
    from recsys_core.jobs import runs as jobs
    from recsys_core.jobs.summary import run_summary
    from recsys_core.splitting.configs import parse_split_config
    from recsys_core.tuning import best_run_spec, parse_tune_spec, tune

    spec = parse_tune_spec(
        {
            "dataset": args.dataset,
            "version": args.version,
            "model": args.model,
            "n_trials": args.trials,
            "metric": args.metric,
            "split": parse_split_config(args.split).model_dump(mode="json"),
            "validation_fraction": args.validation_fraction,
            "seed": args.seed,
            "overrides": _overrides(args.range, args.choices),
            "params": {k: _typed(v) for k, v in parse_pairs(args.param, "--param").items()},
            "timeout_s": args.timeout,
            "study": args.study,
        }
    )

    def progress(done: int, total: int, message: str = "") -> None:
        print(f"[{done}/{total}] {message}", file=sys.stderr)

    result = tune(store, spec, progress)
    out: dict[str, Any] = {
        "study": result.study_name,
        "metric": result.metric,
        "best_value": result.best_value,
        "best_params": result.best_params,
        "n_trials": len(result.trials),
        "param_importances": result.param_importances,
    }
    lines = [f"Best validation {result.metric}: {result.best_value:.4f}"]
    lines += [f"  {k:<16} {v}" for k, v in result.best_params.items()]
    if args.run_best:
        run = jobs.train(store, best_run_spec(spec, result))
        if run.status != "done":
            raise InputError(f"Run {run.id} of the best config {run.status}: {run.error}")
        out["run_id"] = run.id
        out["run_metrics"] = run_summary(run).metrics
        lines.append(f"Run {run.id} ({run.label}) done: test {result.metric} "
                     f"{out['run_metrics'].get(result.metric, float('nan')):.4f}")  # fmt: skip
    out["_text"] = "\n".join(lines)
    return out


def cmd_auto(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    """``recsys tune --auto --budget MINUTES``: every family searched, the best ones run."""
    from recsys_core.splitting.configs import parse_split_config
    from recsys_core.tuning_auto import find_best, parse_auto_spec

    if args.budget is None or args.model is not None:
        raise InputError("--auto takes --budget MINUTES and no --model.")
    families = [f.strip() for f in args.families.split(",") if f.strip()] if args.families else None
    spec = parse_auto_spec(
        {"dataset": args.dataset, "version": args.version, "budget_minutes": args.budget,
         "metric": args.metric, "split": parse_split_config(args.split).model_dump(mode="json"),
         "validation_fraction": args.validation_fraction, "seed": args.seed,
         "families": families, "top_n": args.top}
    )  # fmt: skip

    def progress(done: int, total: int, message: str = "") -> None:
        print(f"[{done}/{total}] {message}", file=sys.stderr)

    result = find_best(store, spec, progress)
    return {
        "metric": result.metric,
        "families": result.families.to_dict(orient="records"),
        "runs": result.runs.to_dict(orient="records"),
        "seconds": result.seconds,
        "overrun_s": result.overrun_s,
        "_text": _auto_text(result),
    }


def _auto_text(result: Any) -> str:
    """The families by validation, then the runs by test, as the terminal shows them."""
    lines = [
        f"Families by validation {result.metric} (fitted on {result.n_fit:,}, "
        f"scored on {result.n_validation:,} interactions):"
    ]
    for r in result.families.itertuples():
        note = f"  ({r.note})" if r.note else ""
        lines.append(f"  {r.rank}. {r.model:<10} {r.validation:.4f}  {r.trials} trials  "
                     f"{r.params}{note}")  # fmt: skip
    lines.append(f"Runs on the test side ({result.metric}), the one to use chosen on validation:")
    for r in result.runs.itertuples():
        pick = "  <- chosen" if r.chosen else ""
        lines.append(f"  #{r.run_id} {r.label:<22} test {r.test:.4f}  "
                     f"validation {r.validation:.4f}  {r.status}{pick}")  # fmt: skip
    if result.cancelled:
        lines.append("Cancelled: the tables cover what finished.")
    if result.overrun_s:
        lines.append(f"Took {result.seconds / 60:.1f} min, {result.overrun_s / 60:.1f} past the "
                     "budget: the final runs are not cut for time.")  # fmt: skip
    return "\n".join(lines)
