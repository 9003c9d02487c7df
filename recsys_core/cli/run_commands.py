"""Run commands: train, runs, evaluate, export, worker."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from recsys_core.cli._args import parse_pairs
from recsys_core.errors import InputError

if TYPE_CHECKING:  # handlers import what they use: `recsys --help` must not load the models
    from db import Store
    from recsys_core.jobs.runs import RunSpec


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("train", parents=[common], help="train and evaluate a model (a run)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--version", type=int)
    p.add_argument("--model", required=True, help="registry name, e.g. ease, als, item_knn")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="model parameter")
    p.add_argument(
        "--split",
        default='{"kind": "random", "test_fraction": 0.2}',
        help="split config as JSON (kind: random, temporal, leave_last, ...)",
    )
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--k", type=int, action="append", help="cut-off K (repeatable)")
    p.add_argument("--relevance-threshold", type=float)
    p.add_argument("--top-n", type=int, default=50, help="recommendations stored per user")
    p.add_argument(
        "--explain-top", type=int, default=3, help="ranks per user stored with their reason"
    )
    p.add_argument("--label")
    p.add_argument(
        "--engine",
        choices=["local", "spark"],
        default="local",
        help="where to compute: here, or Spark at $RECSYS_SPARK_MASTER (als, most_popular, "
        "item_knn)",
    )
    p.add_argument("--queue", action="store_true", help="hand it to the worker and return")
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser("blend", parents=[common], help="a run blending finished runs")
    p.add_argument("--runs", type=int, nargs="+", required=True)
    p.add_argument("--weights", type=float, nargs="+")
    p.add_argument("--normalisation", choices=["minmax", "zscore", "rank"], default="minmax")
    p.add_argument("--label")
    p.set_defaults(handler=cmd_blend)

    p = sub.add_parser("rerank", parents=[common], help="a run re-ranking a finished run")
    p.add_argument("--run", type=int, required=True)
    p.add_argument("--plan", required=True, help='JSON, e.g. {"steps": [{"kind": "mmr"}]}')
    p.add_argument("--candidates", type=int, default=100)
    p.add_argument("--label")
    p.set_defaults(handler=cmd_rerank)

    p = sub.add_parser("runs", parents=[common], help="list runs")
    p.set_defaults(handler=cmd_runs)

    p = sub.add_parser("evaluate", parents=[common], help="metrics of a run")
    p.add_argument("--run", type=int, required=True)
    p.add_argument("--segments", action="store_true", help="also metrics by user segment")
    p.set_defaults(handler=cmd_evaluate)

    p = sub.add_parser("export", parents=[common], help="top-K table of a run to CSV/Parquet")
    p.add_argument("--run", type=int, required=True, action="append")
    p.add_argument("--k", type=int, required=True)
    p.add_argument("--out", required=True, help="FILE.csv or FILE.parquet")
    p.add_argument(
        "--explanations", action="store_true", help="add each row's reason sentence (column reason)"
    )
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("worker", parents=[common], help="process queued runs")
    p.add_argument("--once", action="store_true", help="exit when the queue is empty")
    p.add_argument("--max-idle", type=float, help="exit after this many idle seconds")
    p.set_defaults(handler=cmd_worker)

    p = sub.add_parser(
        "retry", parents=[common], help="queue a copy of a failed, cancelled or orphaned run"
    )
    p.add_argument("--run", type=int, required=True)
    p.set_defaults(handler=cmd_retry)


def _params(pairs: list[str] | None) -> dict[str, Any]:
    """--param values are parsed as JSON when they can be (numbers, booleans), else strings."""
    out: dict[str, Any] = {}
    for key, value in parse_pairs(pairs, "--param").items():
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def cmd_train(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    from recsys_core.jobs import runs as jobs
    from recsys_core.splitting.configs import parse_split_config

    spec = jobs.parse_spec(
        {
            "dataset": args.dataset,
            "version": args.version,
            "model": args.model,
            "params": _params(args.param),
            "split": parse_split_config(args.split).model_dump(mode="json"),
            "seed": args.seed,
            "ks": args.k or [5, 10, 20],
            "relevance_threshold": args.relevance_threshold,
            "n_recommendations": args.top_n,
            "explain_top": args.explain_top,
            "label": args.label,
            "engine": args.engine,
        }
    )
    if args.queue:
        run = jobs.submit(store, spec)
        return {"run_id": run.id, "status": run.status, "_text": f"Queued run {run.id}."}
    return _finish(store, spec)


def _finish(store: Store, spec: RunSpec) -> dict[str, Any]:
    from recsys_core.jobs import runs as jobs
    from recsys_core.jobs.summary import run_summary

    run = jobs.train(store, spec, engines=_engines())
    if run.status != "done":
        raise InputError(f"Run {run.id} {run.status}: {run.error}")
    metrics = run_summary(run).metrics
    text = f"Run {run.id} ({run.label}) done\n" + "\n".join(
        f"  {k:<14} {v:.4f}" for k, v in metrics.items()
    )
    return {"run_id": run.id, "status": run.status, "metrics": metrics, "_text": text}


def cmd_blend(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    from recsys_core.jobs.derived import derive_spec

    spec = derive_spec(
        store, "blend", args.runs, weights=args.weights, normalisation=args.normalisation,
        label=args.label,
    )  # fmt: skip
    return _finish(store, spec)


def cmd_rerank(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    from recsys_core.jobs.derived import derive_spec

    try:
        plan = json.loads(args.plan)
    except json.JSONDecodeError as exc:
        raise InputError(f"--plan is not JSON: {exc}") from None
    spec = derive_spec(
        store, "rerank", [args.run], rerank=plan, n_candidates=args.candidates, label=args.label
    )
    return _finish(store, spec)


def cmd_runs(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    from db.runs import RunRepository
    from recsys_core.jobs.labels import format_duration, run_duration_s, run_label
    from recsys_core.jobs.summary import run_summary

    with store.session() as s:
        runs = RunRepository(s).all()
    rows = [
        {"id": r.id, "label": run_label(r), "model": r.model, "status": r.status,
         "dataset_id": r.dataset_id, "created_at": r.created_at.isoformat(),
         "duration_s": run_duration_s(r), "ndcg@10": run_summary(r).metric("NDCG@10")}
        for r in runs
    ]  # fmt: skip
    text = "\n".join(
        f"{r.id}\t{row['label']}\t{r.status}\t{format_duration(run_duration_s(r))}"
        f"\tNDCG@10={row['ndcg@10']}"
        for r, row in zip(runs, rows, strict=True)
    )
    return {"runs": rows, "_text": text or "No runs yet."}


def cmd_evaluate(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    from recsys_core.jobs import runs as jobs
    from recsys_core.jobs.analysis import run_metrics, run_segments

    run = jobs.get_run(store, args.run)
    metrics = run_metrics(store, run)
    out: dict[str, Any] = {
        "run_id": run.id,
        "status": run.status,
        "metrics": metrics.reset_index().to_dict(orient="records"),
    }
    if args.segments:
        out["segments"] = run_segments(store, run).to_dict(orient="records")
    out["_text"] = metrics.to_string()
    return out


def cmd_export(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    from recsys_core.export import export_table, write_file

    table = export_table(store, args.run, args.k, explanations=args.explanations)
    write_file(table, args.out)
    return {
        "rows": len(table),
        "out": args.out,
        "_text": f"Wrote {len(table):,} rows to {args.out}",
    }


def cmd_worker(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    from recsys_core.jobs.worker import run_worker

    n = run_worker(store, once=args.once, max_idle_s=args.max_idle, engines=_engines())
    return {"runs_processed": n, "_text": f"Processed {n} run(s)."}


def _engines() -> dict[str, Any]:
    """The engines this process drives: Spark's stage, loading pyspark on its first run only."""

    def spark(*args: Any) -> Any:
        try:
            from recsys_core.engines.spark import spark_stage
        except ImportError as exc:
            raise InputError(
                f"This run needs the Spark engine, which is not installed here ({exc}): "
                "`pip install '.[spark]'` and Java 17."
            ) from None
        return spark_stage(*args)

    return {"spark": spark}


def cmd_retry(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    """A copy of the run goes to the queue; the original keeps its error and points to it."""
    from recsys_core.jobs.worker import retry_run

    run = retry_run(store, args.run)
    return {
        "run_id": run.id,
        "retry_of": args.run,
        "status": run.status,
        "_text": f"Queued run {run.id} ({run.label}); a worker will pick it up.",
    }
