"""Experiment commands: analyze, import, list, link, offline, power, synth."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recsys_core.cli._args import parse_pairs
from recsys_core.errors import InputError

if TYPE_CHECKING:  # handlers import what they use: `recsys --help` must not pay for scipy
    from db import Store
    from recsys_core.experiments import AnalysisSpec, ExperimentLog, ExperimentResult

_ROLES = ("user", "variant", "assigned_at", "event_time")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("experiment", help="online experiments (A/B tests): analyse, store, link")
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("analyze", parents=[common], help="analyse an experiment log file")
    _log_flags(a)
    a.set_defaults(handler=cmd_analyze)
    i = actions.add_parser("import", parents=[common], help="store an experiment log")
    _log_flags(i)
    i.add_argument("--name", required=True, help="experiment name")
    i.add_argument("--description", default="")
    i.set_defaults(handler=cmd_import)
    ls = actions.add_parser("list", parents=[common], help="stored experiments")
    ls.set_defaults(handler=cmd_list)
    s = actions.add_parser("show", parents=[common], help="analyse a stored experiment")
    s.add_argument("name")
    s.set_defaults(handler=cmd_show)
    k = actions.add_parser("link", parents=[common], help="link a variant to its offline run")
    k.add_argument("name")
    k.add_argument("variant")
    k.add_argument("run", help="run id, or 'none' to unlink")
    k.set_defaults(handler=cmd_link)
    o = actions.add_parser("offline", parents=[common], help="offline deltas vs online lifts")
    o.set_defaults(handler=cmd_offline)
    _power_parser(actions, common)
    y = actions.add_parser("synth", parents=[common], help="write a synthetic experiment log")
    y.add_argument("out", type=Path, help="CSV file to write")
    y.add_argument("--users", type=int, default=40_000)
    y.add_argument("--lift", action="append", metavar="VARIANT=LIFT", help="e.g. B=0.05")
    y.add_argument("--split", metavar="A=0.5,B=0.5", help="actual shares (plants an SRM)")
    y.add_argument("--seed", type=int, default=0)
    y.set_defaults(handler=cmd_synth)


def _log_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, help="CSV/TSV/Parquet log, one row per user or event")
    p.add_argument("--control", required=True, help="the control variant")
    p.add_argument("--metric", action="append", help="metric column to analyse (default: all)")
    p.add_argument(
        "--ratio", action="append", metavar="NAME=NUM/DEN", help="e.g. CTR=clicks/exposures"
    )
    p.add_argument("--planned-split", metavar="A=0.5,B=0.5", help="default: equal shares")
    p.add_argument("--planned-users", type=int, help="users the test was sized for")
    p.add_argument(
        "--map", action="append", metavar="ROLE=COLUMN", help=f"roles: {', '.join(_ROLES)}"
    )
    p.add_argument("--pre", action="append", metavar="METRIC=COLUMN", help="pre-period column")
    p.add_argument("--no-cuped", action="store_true", help="ignore pre-period columns")
    p.add_argument("--alpha", type=float, default=0.05)


def _power_parser(actions: Any, common: argparse.ArgumentParser) -> None:
    w = actions.add_parser("power", parents=[common], help="users needed for the next test")
    w.add_argument("--mean", type=float, required=True, help="baseline mean (or rate)")
    w.add_argument("--sd", type=float, help="per-user standard deviation (default: rate's)")
    w.add_argument("--mde", type=float, required=True, help="relative lift to detect, e.g. 0.02")
    w.add_argument("--alpha", type=float, default=0.05)
    w.add_argument("--power", type=float, default=0.8)
    w.add_argument("--variants", type=int, default=2, help="arms including control")
    w.set_defaults(handler=cmd_power)


def _read(args: argparse.Namespace) -> ExperimentLog:
    from recsys_core.data.io import read_table
    from recsys_core.experiments import infer_log_mapping, validate_log

    if not args.file.is_file():
        raise InputError(f"{args.file}: no such file.")
    raw = read_table(args.file)
    mapping = infer_log_mapping(raw.frame) if not args.map else _mapped(raw.frame, args.map)
    data = mapping.model_dump()
    for role, column in parse_pairs(args.map, "--map").items():
        if role not in _ROLES:
            raise InputError(f"--map {role}=...: unknown role; the roles are {', '.join(_ROLES)}.")
        data[role] = column
        data["metrics"] = [m for m in data["metrics"] if m != column]
    data["pre"] = {**data["pre"], **parse_pairs(args.pre, "--pre")}
    data["metrics"] += [m for m in args.metric or [] if m not in data["metrics"]]
    return validate_log(raw, type(mapping).model_validate(data))


def _mapped(frame: Any, pairs: list[str]) -> Any:
    """Inference with the mapped columns renamed to the role names it looks for."""
    from recsys_core.experiments import infer_log_mapping

    renames = {c: r for r, c in parse_pairs(pairs, "--map").items()}
    inferred = infer_log_mapping(frame.rename(columns=renames))
    back = {r: c for c, r in renames.items()}
    data = inferred.model_dump()
    for role in _ROLES:
        data[role] = back.get(data[role], data[role]) if data[role] else None
    return type(inferred).model_validate(data)


def _spec(args: argparse.Namespace) -> AnalysisSpec:
    from recsys_core.experiments import AnalysisSpec, parse_ratio, parse_split

    return AnalysisSpec(
        control=args.control,
        metrics=args.metric,
        ratios=dict(parse_ratio(r) for r in args.ratio or []),
        planned_split=parse_split(args.planned_split) if args.planned_split else None,
        planned_users=args.planned_users,
        alpha=args.alpha,
        cuped=not args.no_cuped,
    )


def _report(result: ExperimentResult) -> dict[str, Any]:
    out = result.to_dict()
    lines = [("!! " if result.srm.flagged else "") + result.srm.message]
    lines += [f"warning: {w}" for w in result.warnings if w != result.srm.message]
    for row in result.lifts.itertuples():
        mark = "*" if row.significant else " "
        lines.append(
            f"{mark} {row.metric:<14} {row.variant:<16} lift {row.lift:+.2%} "
            f"[{row.ci_low:+.2%}, {row.ci_high:+.2%}]  p {row.p_value:.3g}  Holm {row.p_holm:.3g}"
            f"  always-valid p {row.seq_p_value:.3g}" + ("  (CUPED)" if row.cuped else "")
        )
    out["_text"] = "\n".join(lines)
    return out


def cmd_analyze(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    from recsys_core.experiments import analyze

    return _report(analyze(_read(args), _spec(args)))


def cmd_import(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    from recsys_core.experiments.stored import import_experiment

    log = _read(args)
    experiment = import_experiment(store, args.name, log, _spec(args), description=args.description)
    return {
        "experiment": experiment.name,
        "id": experiment.id,
        "users": experiment.n_users,
        "variants": experiment.counts,
        "_text": f"Imported experiment {experiment.name!r}: {experiment.n_users:,} users, "
        f"variants {experiment.counts}.",
    }


def cmd_list(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    from recsys_core.experiments.stored import list_experiments

    rows = [
        {"name": e.name, "users": e.n_users, "control": e.spec.get("control"), "runs": e.runs}
        for e in list_experiments(store)
    ]
    text = "\n".join(f"{r['name']:<24} {r['users']:>9,} users  runs {r['runs']}" for r in rows)
    return {"experiments": rows, "_text": text or "No experiments stored yet."}


def cmd_show(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    from recsys_core.experiments.stored import analyze_stored

    return _report(analyze_stored(store, args.name))


def cmd_link(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    from recsys_core.experiments.stored import link_run

    run: int | None = None
    if args.run.lower() != "none":
        try:
            run = int(args.run)
        except ValueError:
            raise InputError(f"RUN must be a run id or 'none'; got {args.run!r}.") from None
    experiment = link_run(store, args.name, args.variant, run)
    return {
        "experiment": experiment.name,
        "runs": experiment.runs,
        "_text": f"{experiment.name}: {experiment.runs}",
    }


def cmd_offline(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    from recsys_core.experiments.offline import offline_vs_online

    found = offline_vs_online(store)
    text = found.agreement.to_string(index=False) if len(found.agreement) else "No linked pairs."
    return {
        "pairs": found.pairs.to_dict(orient="records"),
        "agreement": found.agreement.to_dict(orient="records"),
        "skipped": list(found.skipped),
        "_text": "\n".join([text, *found.skipped]),
    }


def cmd_power(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    from recsys_core.experiments import sample_size

    sd = args.sd
    if sd is None:
        if not 0 < args.mean < 1:
            raise InputError("Without --sd, --mean must be a rate in (0, 1).")
        sd = (args.mean * (1 - args.mean)) ** 0.5
    plan = sample_size(
        args.mean, sd, args.mde, alpha=args.alpha, power=args.power, n_variants=args.variants
    )
    return {**plan.__dict__, "_text": plan.message}


def cmd_synth(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    from recsys_core.experiments import parse_split, synthetic_log

    lifts = {k: float(v) for k, v in parse_pairs(args.lift, "--lift").items()} or None
    if lifts is not None and len(lifts) < 2:
        raise InputError("Name the control too, e.g. --lift A=0 --lift B=0.05.")
    split = parse_split(args.split) if args.split else None
    frame = synthetic_log(args.users, lifts, split=split, seed=args.seed)
    frame.to_csv(args.out, index=False)
    return {
        "file": str(args.out),
        "users": len(frame),
        "_text": f"Wrote {len(frame):,} users to {args.out}.",
    }
