"""Bulk paths for big tables: COPY on PostgreSQL, batched executemany on SQLite.

Row-by-row ORM adds cost ~50 µs a row; these paths write a million rows in seconds. They run
on the session's own connection, so they join its transaction: a failure writes nothing.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

BATCH_ROWS = 200_000
#: Bound parameters per SQLite statement: 999 is the limit of builds before 3.32.
_SQLITE_VARIABLES = 999


def _dbapi(session: Session) -> Any:
    return session.connection().connection.driver_connection


def bulk_insert(session: Session, table: str, columns: Mapping[str, Any]) -> int:
    """Insert equal-length columns into ``table``; ``None``/NaN become NULL. Returns rows written.

    JSON columns must arrive as JSON text (``json.dumps``) so both backends store the same.
    """
    frame = pd.DataFrame(dict(columns))
    if frame.empty:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        _copy_in(session, table, frame)
    else:
        _executemany(session, table, frame)
    return len(frame)


def _executemany(session: Session, table: str, frame: pd.DataFrame) -> None:
    """Multi-row ``INSERT ... VALUES (..), (..), ...`` statements, executemany'd: one statement
    step writes ``_SQLITE_VARIABLES // columns`` rows, which cuts SQLite's per-row CPU by ~30%
    against one row per step (300k top-50 rows: 0.40 vs 0.56 s). Same rows, same order."""
    n_cols = len(frame.columns)
    per = max(1, _SQLITE_VARIABLES // n_cols)
    head = f"INSERT INTO {table} ({', '.join(frame.columns)}) VALUES "
    one = "(" + ", ".join("?" * n_cols) + ")"
    many, step = head + ", ".join([one] * per), per * n_cols
    cur = _dbapi(session).cursor()
    for start in range(0, len(frame), BATCH_ROWS):
        # convert one batch at a time: Python objects for 10M rows would cost gigabytes
        batch = frame.iloc[start : start + BATCH_ROWS]
        cols = [_python_values(batch[c]) for c in batch.columns]
        full = len(batch) - len(batch) % per
        if full:
            flat = list(chain.from_iterable(zip(*(c[:full] for c in cols), strict=True)))
            cur.executemany(many, (flat[i : i + step] for i in range(0, len(flat), step)))
        if full < len(batch):
            cur.executemany(head + one, zip(*(c[full:] for c in cols), strict=True))
    cur.close()


def _python_values(col: pd.Series) -> list[Any]:
    """Plain Python values (sqlite3 rejects numpy scalars); missing values become None."""
    if col.dtype.kind == "M":  # SQLAlchemy's SQLite DateTime format: naive UTC text
        utc = col.dt.tz_convert("UTC") if col.dt.tz is not None else col
        return utc.dt.strftime("%Y-%m-%d %H:%M:%S.%f").where(col.notna(), None).tolist()
    if col.dtype.kind in "iub":
        return col.to_numpy().tolist()
    if col.dtype.kind == "f":
        arr = col.to_numpy(dtype=np.float64)
        out = arr.tolist()
        if np.isnan(arr).any():
            out = [None if v != v else v for v in out]
        return out
    return col.astype(object).where(col.notna(), None).tolist()


def _copy_in(session: Session, table: str, frame: pd.DataFrame) -> None:
    names = ", ".join(frame.columns)
    sql = f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv)"
    cur = _dbapi(session).cursor()
    with cur.copy(sql) as copy:
        for start in range(0, len(frame), BATCH_ROWS):
            buf = io.StringIO()
            frame.iloc[start : start + BATCH_ROWS].to_csv(buf, header=False, index=False)
            copy.write(buf.getvalue())
    cur.close()


def bulk_select(
    session: Session, sql: str, key: int, names: list[str], dtype: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Run a SELECT with one integer parameter ``:key`` and return a frame of ``names``.

    PostgreSQL streams it with COPY TO STDOUT (several times faster than a cursor); COPY takes
    no bind parameters, so the key is rendered as an int literal, which is safe for an int.
    """
    if session.get_bind().dialect.name == "postgresql":
        buf = io.BytesIO()
        cur = _dbapi(session).cursor()
        literal = sql.replace(":key", str(int(key)))
        with cur.copy(f"COPY ({literal}) TO STDOUT WITH (FORMAT csv)") as copy:
            for chunk in copy:
                buf.write(chunk)
        cur.close()
        if not buf.getbuffer().nbytes:
            return pd.DataFrame({n: [] for n in names})
        buf.seek(0)
        return pd.read_csv(
            buf,
            header=None,
            names=names,
            dtype=dict(dtype or {}),
            keep_default_na=False,
            na_values=[""],
        )
    cur = _dbapi(session).cursor()
    cur.execute(sql.replace(":key", "?"), (int(key),))
    chunks = []
    while rows := cur.fetchmany(BATCH_ROWS):  # bounded memory: tuples live one chunk at a time
        chunks.append(pd.DataFrame.from_records(rows, columns=names))
    cur.close()
    if not chunks:
        return pd.DataFrame({n: [] for n in names})
    return pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
