"""Top-N tables for export: CSV safe to open in a spreadsheet, Parquet, or a database table."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from db import Store
from db.runs import Run, RunRepository
from db.schema import ExportTable
from recsys_core.columns import Columns
from recsys_core.errors import InputError
from recsys_core.jobs.runs import get_run

EXPORT_COLUMNS = [
    Columns.user,
    Columns.item,
    Columns.rank,
    Columns.score,
    Columns.model,
    Columns.run,
    Columns.created_at,
]
TITLE = "title"
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A spreadsheet in a locale whose separator is ';' (or that splits on tabs or '|') reads
# "x;=1+1" as two cells, the second a formula, whatever the quoting of the comma file.
_EMBEDDED = re.compile(r"([;,\t|\r\n])([=+\-@])")


def export_table(
    store: Store,
    run_ids: Sequence[int],
    k: int,
    users: Sequence[str] | None = None,
    *,
    explanations: bool = False,
) -> pd.DataFrame:
    """Top-``k`` recommendations of each run (optionally for some users), one tidy table.

    A ``title`` column follows the item id when the dataset's items have a title (or name),
    so a shared table reads without a lookup. ``explanations`` adds a ``reason`` column with
    each row's plain sentence (stored with the run's lists, the rest computed in one
    vectorised pass per run).
    """
    if k < 1:
        raise InputError(f"k must be at least 1; got {k}.")
    if not run_ids:
        raise InputError("Pick at least one run to export.")
    frames = []
    titles: pd.Series | None = None
    for run_id in run_ids:
        run = get_run(store, run_id)
        if run.status != "done":
            raise InputError(f"Run {run_id} is {run.status}; only finished runs can be exported.")
        with store.session() as s:
            recs = RunRepository(s).recommendations(
                run_id, None if users is None else [str(u) for u in users]
            )
        recs = recs[recs["rank"] <= k]
        recs = recs.rename(columns={"user_id": Columns.user, "item_id": Columns.item})
        recs[Columns.model] = run.label
        recs[Columns.run] = run.id
        recs[Columns.created_at] = run.finished_at or run.created_at
        if titles is None:  # the runs share a dataset version: one title table
            titles = _item_titles(store, run)
        if explanations:
            # reasons stored with the run's lists; rows beyond them are explained now
            missing = recs["reason"].isna().to_numpy()
            if missing.any():
                recs.loc[missing, "reason"] = _reasons(store, run, recs[missing])
        frames.append(recs)
    out = pd.concat(frames, ignore_index=True)
    columns = EXPORT_COLUMNS + (["reason"] if explanations else [])
    if titles is not None:
        found = titles.reindex(out[Columns.item].astype(str)).fillna("")
        out.insert(list(out.columns).index(Columns.item) + 1, TITLE, found.to_numpy(dtype=object))
        columns.insert(columns.index(Columns.item) + 1, TITLE)
    out = out[columns]
    return out.sort_values([Columns.run, Columns.user, Columns.rank], ignore_index=True)


def _item_titles(store: Store, run: Run) -> pd.Series | None:
    """Item id -> title of the run's dataset (None when its items have no title column)."""
    from recsys_core.jobs.context import run_split
    from recsys_core.jobs.preview import name_column

    features = run_split(store, run).train.item_features
    column = name_column(features)
    if features is None or column is None:
        return None
    titles = features[column].map(_text)  # once per catalogue item, not per exported row
    titles.index = titles.index.astype(str)
    return titles


def _text(value: object) -> str:
    if isinstance(value, list | tuple | np.ndarray):
        return " | ".join(map(str, value))
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _reasons(store: Store, run: Run, recs: pd.DataFrame) -> list[str | None]:
    """The plain reason sentence of each row, from the run's model on its own split."""
    from recsys_core.explain import explain_many
    from recsys_core.jobs.context import run_split
    from recsys_core.jobs.runs import load_model

    model, train = load_model(run, store), run_split(store, run).train
    found = explain_many(model, train, recs[Columns.user].tolist(), recs[Columns.item].tolist())
    return [None if e is None else e.plain_sentence for e in found]


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet would execute get a quote mark, as OWASP advises.

    A cell starting with a formula character is prefixed with ``'``; so is a formula
    character that follows a separator inside the cell (``x;=1+1`` -> ``x;'=1+1``), since a
    spreadsheet that splits on that separator would start a new cell there.
    """
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            text = out[col].astype(str).str.replace(_EMBEDDED, r"\1'\2", regex=True)
            risky = text.str.startswith(FORMULA_START)
            out[col] = np.where(risky, "'" + text, text)
    return out


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """Neutralised CSV with every text cell quoted, so separators inside ids stay inside."""
    text = neutralise(frame).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC)
    return text.encode("utf-8")


def to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def write_file(frame: pd.DataFrame, path: str) -> None:
    """By extension: .csv (neutralised) or .parquet."""
    if path.endswith(".csv"):
        with open(path, "wb") as fh:
            fh.write(to_csv_bytes(frame))
    elif path.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        raise InputError(f"--out must end in .csv or .parquet; got {path!r}.")


def write_db_table(store: Store, name: str, frame: pd.DataFrame) -> int:
    """Store the table under ``name`` in ``exported_recommendations`` (replacing that name).

    The title and reason columns travel too when the table has them, so a table read back
    from the database says what the downloaded file says.
    """
    from db.bulk import bulk_insert

    name = name.strip()
    if not name:
        raise InputError("Give the exported table a name.")
    with store.session() as s:
        s.query(ExportTable).filter(ExportTable.export_name == name).delete()
        return bulk_insert(
            s,
            ExportTable.__tablename__,
            {
                "export_name": [name] * len(frame),
                "run_id": frame[Columns.run].to_numpy(np.int64),
                "user_id": frame[Columns.user].astype(str).tolist(),
                "rank": frame[Columns.rank].to_numpy(np.int64),
                "item_id": frame[Columns.item].astype(str).tolist(),
                "score": frame[Columns.score].to_numpy(np.float64),
                "model": frame[Columns.model].astype(str).tolist(),
                "created_at": pd.to_datetime(frame[Columns.created_at], utc=True).tolist(),
                "title": _optional_text(frame, "title"),
                "reason": _optional_text(frame, "reason"),
            },
        )


def _optional_text(frame: pd.DataFrame, column: str) -> list[str | None]:
    """A text column as a list with None for missing cells (or all None without the column)."""
    if column not in frame:
        return [None] * len(frame)
    values = frame[column]
    return list(values.astype(str).where(values.notna(), None))
