"""Data commands: import, sample, synth, datasets, profile, clean."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recsys_core.cli._args import parse_pairs
from recsys_core.errors import InputError

if TYPE_CHECKING:  # handlers import what they use: `recsys --help` must not pay for pandas
    from db import Store
    from recsys_core.data.validate import ValidatedData


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "import",
        parents=[common],
        help="import a behaviour file (+ metadata); any extension, format sniffed from content",
    )
    p.add_argument("interactions", type=Path)
    p.add_argument("--items", type=Path, help="item metadata file (u.item, movies.dat, ...)")
    p.add_argument("--users", type=Path, help="user attributes file (u.user, users.dat, ...)")
    p.add_argument("--flag-names", type=Path, help="names of the items' 0/1 flags (u.genre)")
    p.add_argument("--name", help="dataset name (default: from the files, e.g. ml-100k)")
    p.add_argument("--map", action="append", metavar="ROLE=COLUMN", help="user, item, rating, "
                   "timestamp, event, split; title=COLUMN picks the items' title")  # fmt: skip
    p.add_argument("--names", metavar="A,B,...", help="column names of the behaviour file")
    p.add_argument("--item-names", metavar="A,B,...", help="column names of the item file")
    p.add_argument("--user-names", metavar="A,B,...", help="column names of the user file")
    p.add_argument("--role", action="append", metavar="COLUMN=ROLE",
                   help="role of an item/user column: id, title, text, category, multi, "
                   "number, timestamp, image, flag, ignore (e.g. zip=ignore)")  # fmt: skip
    p.add_argument("--delimiter", help="the files' delimiter when detection is wrong (';', tab)")
    p.add_argument("--encoding", help="utf-8, utf-16, cp1252 or latin-1, when detection is wrong")
    p.add_argument("--no-header", action="store_true", help="the files have no header row")
    p.add_argument("--feedback", choices=["explicit", "implicit"])
    p.add_argument("--event-weights", metavar="TYPE=W,...", help="e.g. 'view=1, buy=5'")
    p.add_argument("--pseudonymise", action="store_true", help="replace user ids by keyed hashes")
    p.set_defaults(handler=cmd_import)

    p = sub.add_parser("sample", parents=[common], help="load a bundled sample dataset")
    p.add_argument("sample", choices=["movielens-small"])
    p.add_argument("--name", help="dataset name (default: the sample's name)")
    p.set_defaults(handler=cmd_sample)

    p = sub.add_parser("synth", parents=[common], help="generate a synthetic dataset")
    p.add_argument("--users", type=_positive, required=True)
    p.add_argument("--items", type=_positive, required=True)
    p.add_argument("--interactions", type=_positive, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", required=True)
    p.set_defaults(handler=cmd_synth)

    p = sub.add_parser("datasets", parents=[common], help="list datasets and versions")
    p.set_defaults(handler=cmd_datasets)

    p = sub.add_parser("profile", parents=[common], help="profile numbers of a dataset")
    p.add_argument("name")
    p.add_argument("--version", type=_positive)
    p.set_defaults(handler=cmd_profile)

    p = sub.add_parser(
        "clean", parents=[common], help="apply a cleaning plan (JSON) -> new version"
    )
    p.add_argument("name")
    p.add_argument("--plan", required=True, help='JSON, e.g. {"steps": [{"kind": "kcore"}]}')
    p.add_argument("--version", type=_positive)
    p.set_defaults(handler=cmd_clean)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _read(path: Path, args: argparse.Namespace | None = None) -> Any:
    from recsys_core.data.io import parse_delimiter, read_table

    if not path.is_file():
        raise InputError(f"{path}: no such file.")
    if args is None:
        return read_table(path)
    return read_table(
        path,
        delimiter=parse_delimiter(args.delimiter) if args.delimiter else None,
        header=False if args.no_header else None,
        encoding=args.encoding,
    )


def _names(text: str | None) -> list[str] | None:
    return [n.strip() for n in text.split(",")] if text else None


def cmd_import(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    from recsys_core.data.io import renamed
    from recsys_core.data.mapping import infer_mapping, parse_event_weights
    from recsys_core.data.roles import dataset_name, source_of
    from recsys_core.data.validate import validate
    from recsys_core.jobs.datasets import check_dataset_name

    if args.name is not None:  # before reading files: a bad name needs no parsing to refuse
        check_dataset_name(args.name)
    overrides = parse_pairs(args.map, "--map")
    roles = parse_pairs(args.role, "--role")
    if "title" in overrides:  # the items' title is a role of an item column
        roles[overrides.pop("title")] = "title"
    raw = _read(args.interactions, args)
    names = _names(args.names)
    raw = renamed(raw, names) if names else raw
    mapping = infer_mapping(raw.frame, overrides)  # --map applies before inference can fail
    if args.feedback:
        mapping = mapping.model_copy(update={"feedback": args.feedback})
    if args.event_weights:
        weights = parse_event_weights(args.event_weights)
        mapping = mapping.model_copy(update={"event_weights": weights})
    items = _read(args.items, args) if args.items else None
    users = _read(args.users, args) if args.users else None
    flags = _flag_names(args.flag_names)
    items, item_mapping = _side(items, "item", _names(args.item_names), roles, flags)
    users, user_mapping = _side(users, "user", _names(args.user_names), roles, None)
    if roles:
        raise InputError(
            f"--role {next(iter(roles))}=...: no item or user column has that name; the "
            "roles of behaviour columns are set with --map ROLE=COLUMN."
        )
    data = validate(
        raw, mapping, items=items, item_mapping=item_mapping, users=users, user_mapping=user_mapping
    )
    source = source_of(raw, items, users)
    name = args.name or dataset_name(raw, items, users)
    return _import(store, name, data, source, pseudonymise=args.pseudonymise)


def _flag_names(path: Path | None) -> list[str] | None:
    from recsys_core.data.layouts import flag_names

    return flag_names(_read(path)) if path else None


def _side(
    raw: Any, entity: Any, names: list[str] | None, roles: dict[str, str], flags: Any
) -> tuple[Any, Any]:
    """An attribute file renamed, and its mapping: proposed, then ``--role`` changes (which
    are consumed from ``roles``)."""
    from recsys_core.data.io import renamed
    from recsys_core.data.roles import propose_side, set_roles, side_mapping

    if raw is None:
        return None, None
    proposal = propose_side(raw, entity, names=names, flag_names=flags)
    mine = {c: r for c, r in roles.items() if c in proposal.names}
    for column in mine:
        del roles[column]
    chosen = set_roles(proposal.names, proposal.roles, mine, raw.source)
    mapping = side_mapping(proposal.names, chosen, entity, fold=proposal.fold)
    return renamed(raw, proposal.names), mapping


def _import(
    store: Store,
    name: str,
    data: ValidatedData,
    source: dict[str, Any],
    *,
    pseudonymise: bool = False,
) -> dict[str, Any]:
    from recsys_core.jobs import datasets as jobs

    data.report.raise_if_errors()  # a refusal is one message, without the warnings
    for w in data.report.warnings:
        print(f"warning: {w.message}", file=sys.stderr)
    result = jobs.import_dataset(store, name, data, source=source, pseudonymise_users=pseudonymise)
    out = {
        "dataset_id": result.dataset.id,
        "name": result.dataset.name,
        "version": result.version.version,
        **result.counts,
        "warnings": [w.message for w in data.report.warnings],
    }
    c = result.counts
    out["_text"] = (
        f"Imported {name!r} (id {result.dataset.id}, version {result.version.version}): "
        f"{c['users']:,} users, {c['items']:,} items, {c['interactions']:,} interactions"
    )
    return out


def cmd_sample(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    from recsys_core.data.samples import load_movielens_small

    data = load_movielens_small()
    return _import(store, args.name or args.sample, data, {"sample": args.sample})


def cmd_synth(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    from recsys_core.data.samples import synthetic

    data = synthetic(args.users, args.items, args.interactions, seed=args.seed)
    source = {"synthetic": {"users": args.users, "items": args.items, "seed": args.seed}}
    return _import(store, args.name, data, source)


def cmd_datasets(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    from recsys_core.jobs import datasets as jobs

    rows = []
    for ds, versions in jobs.list_datasets(store):
        last = versions[-1]
        rows.append(
            {
                "id": ds.id,
                "name": ds.name,
                "versions": len(versions),
                "users": last.n_users,
                "items": last.n_items,
                "interactions": last.n_interactions,
                "feedback": last.feedback,
                "created_at": ds.created_at.isoformat(),
            }
        )
    text = "\n".join(
        f"{jobs.printable_name(str(r['name']))}\tv{r['versions']}\t{r['users']:,} users\t"
        f"{r['items']:,} items\t"
        f"{r['interactions']:,} interactions\t{r['feedback']}"
        for r in rows
    )
    return {"datasets": rows, "_text": text or "No datasets yet."}


def cmd_profile(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    from recsys_core.data.profile import profile
    from recsys_core.jobs import datasets as jobs

    inter = jobs.load_interactions(store, args.name, args.version)
    return {"dataset": args.name, **profile(inter).to_dict()}


def cmd_clean(args: argparse.Namespace, store: Store) -> dict[str, Any]:
    from recsys_core.data.clean import CleaningPlan
    from recsys_core.jobs import datasets as jobs

    try:
        plan = CleaningPlan.model_validate_json(args.plan)
    except ValueError as exc:
        raise InputError(f"--plan is not a valid cleaning plan: {exc}") from None
    version, stats = jobs.clean_dataset(store, args.name, plan, version=args.version)
    return {
        "dataset": args.name,
        "version": version.version,
        "users": version.n_users,
        "items": version.n_items,
        "interactions": version.n_interactions,
        "steps": [s.describe() for s in stats],
        "_text": "\n".join(s.describe() for s in stats),
    }
