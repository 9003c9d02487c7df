"""Bundled samples: MovieLens latest-small (with its README.txt, as its licence requires)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from recsys_core.columns import Columns
from recsys_core.data.io import read_table
from recsys_core.data.mapping import infer_item_mapping, infer_mapping
from recsys_core.data.validate import ValidatedData, ValidationReport, validate
from recsys_core.progress import Progress

MOVIELENS_SMALL = Path(__file__).with_name("samples") / "ml-latest-small"
SAMPLES = {"movielens-small": MOVIELENS_SMALL}


def load_movielens_small(folder: Path = MOVIELENS_SMALL) -> ValidatedData:
    """Ratings as explicit feedback; movies with title (text), genres and tags (multi-valued).

    Tags from tags.csv are gathered per movie (lower-cased, de-duplicated) so content models
    get more text than the title alone.
    """
    ratings = read_table(folder / "ratings.csv")
    movies = read_table(folder / "movies.csv")
    data = validate(
        ratings,
        infer_mapping(ratings.frame),
        items=movies,
        item_mapping=infer_item_mapping(movies.frame),
    )
    tags = pd.read_csv(folder / "tags.csv", dtype={"movieId": str, "tag": str})
    if data.items is not None and not tags.empty:
        tags["tag"] = tags["tag"].str.strip().str.lower()
        per_item = tags.dropna().drop_duplicates(["movieId", "tag"]).groupby("movieId")["tag"]
        tag_lists = per_item.agg(list).rename("tags")
        tag_lists.index = tag_lists.index.rename(Columns.item)
        items = data.items.join(tag_lists, how="left")
        items["tags"] = [t if isinstance(t, list) else [] for t in items["tags"]]
        data = replace(data, items=items)
    return data


def synthetic(
    n_users: int,
    n_items: int,
    n_interactions: int,
    *,
    seed: int = 0,
    progress: Progress | None = None,
) -> ValidatedData:
    """A generated dataset in the shape an import produces (the generator's tables are clean
    by construction, so the report is empty; ids become strings as in any import)."""
    from recsys_core.data.synth import generate

    synth = generate(n_users, n_items, n_interactions, seed=seed, progress=progress)
    inter = synth.interactions.astype({Columns.user: str, Columns.item: str})
    items = synth.items.astype({Columns.item: str, "category": str}).set_index(Columns.item)
    items["tags"] = items["tags"].str.split("|")
    users = synth.users.astype({Columns.user: str, "age_group": str, "country": str})
    return ValidatedData(
        interactions=inter,
        items=items,
        users=users.set_index(Columns.user),
        feedback="explicit" if Columns.rating in inter else "implicit",
        report=ValidationReport(problems=()),
    )
