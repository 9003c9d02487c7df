"""Runs repository: the queue, progress and heartbeats, and each run's results."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from db.engine import Store, StoreError, writes_blocked_s
from db.schema import (
    RecommendationTable,
    RunMetricTable,
    RunTable,
    RunUserMetricTable,
    WorkerTable,
)

if TYPE_CHECKING:  # pandas and the bulk paths load with the first result read or write:
    import pandas as pd  # listing runs (`recsys runs`, the Train page) needs neither

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)
RETRYABLE = (FAILED, CANCELLED)

#: Seconds without a heartbeat after which a running run counts as orphaned (its worker was
#: killed or its machine died). Workers beat every few seconds, so 60 s is many missed beats.
STALE_ENV = "RECSYS_RUN_STALE_S"
STALE_ERROR = "The worker stopped responding (killed or crashed) during the run."
_RETRY_SUFFIX = re.compile(r" \(retry of #\d+\)$")
_RETRIED_AS = re.compile(r"Retried as run #(\d+)\.$")

#: Users per IN list when SQLite reads some users' lists: well under the 999 bound parameters
#: that older SQLite builds allow, and each user is one range of the primary key.
USER_CHUNK = 500
RECOMMENDATION_COLUMNS = ["user_id", "item_id", "score", "rank", "reason"]
_SELECT_RECOMMENDATIONS = (
    "SELECT user_id, item_id, score, rank, reason FROM recommendations WHERE run_id = :key"
)


@dataclass(frozen=True)
class Run:
    id: int
    dataset_id: int
    version_id: int
    label: str
    model: str
    spec: dict[str, Any]
    status: str
    error: str | None
    progress_done: int
    progress_total: int
    progress_message: str
    cancel_requested: bool
    worker: str | None
    heartbeat_at: datetime | None
    timings: dict[str, Any]
    summary: dict[str, Any]
    artifact_path: str | None
    artifact_sha256: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def retried_as(self) -> int | None:
        """The run queued as this one's retry, if any (recorded at the end of its error)."""
        found = _RETRIED_AS.search(self.error or "")
        return int(found.group(1)) if found else None


def stale_after() -> timedelta:
    """How long a running run may go without a heartbeat (``$RECSYS_RUN_STALE_S``, default 60)."""
    return timedelta(seconds=float(os.environ.get(STALE_ENV) or 60))


def beat_every_s() -> float:
    """Seconds between heartbeats: 5, or a quarter of the stale timeout when that is shorter."""
    return min(5.0, stale_after().total_seconds() / 4)


def now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def run_heartbeat(store: Store, run_id: int) -> Iterator[None]:
    """Beat for a run from a thread while the caller computes it in the foreground.

    For runs no worker holds (``recsys train`` runs inline): progress reports beat too, but a
    long step without any (a big fit, the evaluation) would otherwise make every reader see
    the run as orphaned.
    """
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(beat_every_s()):
            try:
                with store.session() as s:
                    RunRepository(s).progress_beat(run_id)
            except StoreError as exc:  # one missed beat is no reason to stop beating
                logging.getLogger(__name__).warning("Run %s missed a heartbeat: %s", run_id, exc)

    thread = threading.Thread(target=beat, name=f"heartbeat-run-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _utc(moment: datetime | None) -> datetime | None:
    # SQLite hands timestamps back naive; they were written in UTC
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


def _run(row: RunTable, cutoff: datetime) -> Run:
    """The run as every reader should see it: a running run whose worker stopped beating
    before ``cutoff`` reads as failed, whether or not a worker has reaped it yet."""
    run = Run(**{f.name: getattr(row, f.name) for f in fields(Run)})
    # every timestamp aware (UTC) on both backends, so readers can subtract any two of them
    run = replace(
        run,
        created_at=_utc(run.created_at) or run.created_at,
        started_at=_utc(run.started_at),
        finished_at=_utc(run.finished_at),
        heartbeat_at=_utc(run.heartbeat_at),
    )
    last = run.heartbeat_at or run.started_at or run.created_at
    if run.status == RUNNING and last is not None and last < cutoff:
        return replace(run, status=FAILED, error=STALE_ERROR, finished_at=last)
    return run


def _orphaned(cutoff: datetime) -> ColumnElement[bool]:
    """SQL for "running, but no heartbeat since ``cutoff``" (the same test as :func:`_run`)."""
    last = func.coalesce(RunTable.heartbeat_at, RunTable.started_at, RunTable.created_at)
    return and_(RunTable.status == RUNNING, last < cutoff)


class RunRepository:
    """Everything about runs; callers own the session (and so the transaction)."""

    def __init__(self, session: Session) -> None:
        self.s = session

    # ---------------------------------------------------------------- lifecycle
    def create(self, *, status: str = QUEUED, **values: Any) -> Run:
        row = RunTable(status=status, **values)
        self.s.add(row)
        self.s.flush()
        return _run(row, now() - stale_after())

    def _cutoff(self, max_age: timedelta | None = None, waited_s: float = 0.0) -> datetime:
        """Last beat before which a running run is orphaned. Time in which no heartbeat could
        be written (a long SQLite import holding the lock, or our own wait for it) is not
        counted against the run."""
        blocked = max(writes_blocked_s(self.s.get_bind().engine), waited_s)
        return now() - (max_age or stale_after()) - timedelta(seconds=blocked)

    def get(self, run_id: int) -> Run | None:
        """One run; an orphaned one reads as failed (nothing is written: readers stay readers,
        so they never wait for SQLite's write lock)."""
        row = self.s.get(RunTable, run_id)
        return None if row is None else _run(row, self._cutoff())

    def all(self, dataset_id: int | None = None, status: str | None = None) -> list[Run]:
        """Runs, newest first; ``status`` filters on the status as :meth:`get` reports it."""
        cutoff = self._cutoff()
        q = select(RunTable).order_by(RunTable.id.desc())
        if dataset_id is not None:
            q = q.where(RunTable.dataset_id == dataset_id)
        if status == FAILED:
            q = q.where(or_(RunTable.status == FAILED, _orphaned(cutoff)))
        elif status == RUNNING:
            q = q.where(RunTable.status == RUNNING, ~_orphaned(cutoff))
        elif status is not None:
            q = q.where(RunTable.status == status)
        return [_run(r, cutoff) for r in self.s.scalars(q)]

    def claim_next(self, worker: str) -> Run | None:
        """Atomically take the oldest queued run (a conditional UPDATE, so two workers never
        take the same one)."""
        for run_id in self.s.scalars(
            select(RunTable.id).where(RunTable.status == QUEUED).order_by(RunTable.id).limit(5)
        ):
            taken = self.s.execute(
                update(RunTable)
                .where(RunTable.id == run_id, RunTable.status == QUEUED)
                .values(status=RUNNING, worker=worker, started_at=now(), heartbeat_at=now())
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return self.get(run_id)
        return None

    def start(self, run_id: int, worker: str) -> None:
        self._set(run_id, status=RUNNING, worker=worker, started_at=now(), heartbeat_at=now())

    def progress(self, run_id: int, done: int, total: int, message: str) -> bool:
        """Record progress and beat; returns True when the analyst asked to cancel."""
        self._set(
            run_id,
            progress_done=done,
            progress_total=total,
            progress_message=message[:300],
            heartbeat_at=now(),
        )
        return bool(self.s.scalar(select(RunTable.cancel_requested).where(RunTable.id == run_id)))

    def progress_beat(self, run_id: int) -> None:
        """Only the heartbeat, for long steps that report no progress."""
        self._set(run_id, heartbeat_at=now())

    def finish(self, run_id: int, **values: Any) -> None:
        self._set(run_id, status=DONE, finished_at=now(), **values)

    def fail(self, run_id: int, error: str, status: str = FAILED) -> None:
        """Mark failed (or cancelled) and drop partial results, so none are ever half-written."""
        self.clear_results(run_id)
        self._set(run_id, status=status, error=error[:4000], finished_at=now())

    def request_cancel(self, run_id: int) -> None:
        self._set(run_id, cancel_requested=True)
        self.s.execute(
            update(RunTable)
            .where(RunTable.id == run_id, RunTable.status == QUEUED)
            .values(status=CANCELLED, error="Cancelled before it started.", finished_at=now())
        )

    def reap_stale(self, max_age: timedelta | None = None) -> list[int]:
        """Store the failure of runs whose worker stopped beating (readers already see it).

        The write lock is taken first (a no-op UPDATE) and the cutoff computed after, so a
        reaper that queued behind a long SQLite import does not fail runs whose heartbeats
        queued behind it too.
        """
        blocked, start = writes_blocked_s(self.s.get_bind().engine), time.monotonic()
        self.s.execute(update(RunTable).where(RunTable.id == -1).values(status=FAILED))
        waited = blocked + time.monotonic() - start
        stale = list(
            self.s.scalars(select(RunTable.id).where(_orphaned(self._cutoff(max_age, waited))))
        )
        for run_id in stale:
            self.fail(run_id, STALE_ERROR)
        return stale

    def hand_back(self, worker: str, note: str) -> list[int]:
        """Re-queue the runs this worker still holds (it is stopping); returns their ids.

        By worker rather than by run id: a stop signal may land between claiming a run and
        the worker noting which run it took.
        """
        held = select(RunTable.id).where(RunTable.status == RUNNING, RunTable.worker == worker)
        ids = list(self.s.scalars(held))
        for run_id in ids:
            self.clear_results(run_id)
        self.s.execute(
            update(RunTable)
            .where(RunTable.id.in_(ids), RunTable.status == RUNNING)
            .values(status=QUEUED, worker=None, started_at=None, heartbeat_at=None,
                    progress_done=0, progress_total=0, progress_message=note[:300])
        )  # fmt: skip
        return ids

    def retry(self, run_id: int) -> Run:
        """Queue a fresh copy of a failed, cancelled or orphaned run; returns the copy.

        A copy, not a reset: the old run keeps its error (plus a pointer to the copy), and a
        worker that was only slow, not dead, can never race a new worker over the same row.

        Raises:
            LookupError: no such run. ValueError: the run is queued, running or done.
        """
        self.reap_stale()
        row = self.s.get(RunTable, run_id, populate_existing=True)
        if row is None:
            raise LookupError(f"No run {run_id}.")
        if row.status not in RETRYABLE:
            raise ValueError(
                f"Run {run_id} is {row.status}; only failed or cancelled runs can be retried."
            )
        copy = self.create(
            dataset_id=row.dataset_id, version_id=row.version_id, model=row.model,
            spec=row.spec, label=f"{_RETRY_SUFFIX.sub('', row.label)} (retry of #{run_id})"[:200],
        )  # fmt: skip
        row.error = f"{(row.error or '')[:3950]}\nRetried as run #{copy.id}.".strip()
        return copy

    def delete(self, run_id: int) -> None:
        self.clear_results(run_id)
        self.s.execute(delete(RunTable).where(RunTable.id == run_id))

    def _set(self, run_id: int, **values: Any) -> None:
        self.s.execute(update(RunTable).where(RunTable.id == run_id).values(**values))

    # ---------------------------------------------------------------- results
    def clear_results(self, run_id: int) -> None:
        for table in (RunMetricTable, RunUserMetricTable, RecommendationTable):
            self.s.execute(delete(table).where(table.run_id == run_id))

    def write_metrics(self, run_id: int, metrics: pd.DataFrame) -> None:
        """``metrics``: index = metric label; columns value, ci_low, ci_high."""
        import numpy as np
        import pandas as pd

        from db.bulk import bulk_insert

        n = len(metrics)
        nan = pd.Series(np.nan, index=metrics.index)
        bulk_insert(
            self.s,
            RunMetricTable.__tablename__,
            {
                "run_id": np.full(n, run_id),
                "metric": metrics.index.astype(str).tolist(),
                "value": metrics["value"].to_numpy(np.float64),
                "ci_low": metrics.get("ci_low", nan).to_numpy(float),
                "ci_high": metrics.get("ci_high", nan).to_numpy(float),
            },
        )

    def write_user_metrics(self, run_id: int, per_user: pd.DataFrame, user_col: str) -> None:
        """Wide per-user frame (one column per metric) stored long, NaNs kept as NULL.

        Rows go in primary-key order (user, then metric): appending to the key's B-tree
        instead of inserting all over it is a fifth of SQLite's cost. Order is not meaning:
        readers pivot the rows back.
        """
        import numpy as np

        from db.bulk import bulk_insert

        metrics = sorted((c for c in per_user.columns if c != user_col), key=str)
        users = per_user[user_col].astype(str).to_numpy(dtype=object)
        order = np.argsort(users, kind="stable")
        values = per_user[metrics].to_numpy(np.float64)[order]  # [users, metrics], user-major
        n = values.size
        bulk_insert(
            self.s,
            RunUserMetricTable.__tablename__,
            {
                "run_id": np.full(n, run_id),
                "user_id": np.repeat(users[order], len(metrics)),
                "metric": np.tile(np.array([str(m) for m in metrics], dtype=object), len(order)),
                "value": values.ravel(),
            },
        )

    def write_recommendations(self, run_id: int, recs: pd.DataFrame) -> None:
        """``recs`` has columns user_id, item_id, score, rank and optionally reason.

        Rows go in primary-key order (user_id as text, then rank), as for the user metrics.
        """
        import numpy as np

        from db.bulk import bulk_insert

        users = recs["user_id"].astype(str).to_numpy(dtype=object)
        ranks = recs["rank"].to_numpy(np.int64)
        codes, uniques = _codes(users)
        order = np.lexsort((ranks, np.argsort(np.argsort(uniques, kind="stable"))[codes]))
        reasons = recs["reason"].to_numpy(dtype=object) if "reason" in recs else None
        bulk_insert(
            self.s,
            RecommendationTable.__tablename__,
            {
                "run_id": np.full(len(recs), run_id),
                "user_id": users[order],
                "rank": ranks[order],
                "item_id": recs["item_id"].astype(str).to_numpy(dtype=object)[order],
                "score": recs["score"].to_numpy(np.float64)[order],
                "reason": [None] * len(recs) if reasons is None else reasons[order],
            },
        )

    def metrics(self, run_id: int) -> pd.DataFrame:
        from db.bulk import bulk_select

        return bulk_select(
            self.s,
            "SELECT metric, value, ci_low, ci_high FROM run_metrics WHERE run_id = :key",
            run_id,
            ["metric", "value", "ci_low", "ci_high"],
            dtype={"metric": str},
        ).set_index("metric")

    def user_metrics(self, run_id: int, user_col: str) -> pd.DataFrame:
        import pandas as pd

        from db.bulk import bulk_select

        long = bulk_select(
            self.s,
            "SELECT user_id, metric, value FROM run_user_metrics WHERE run_id = :key",
            run_id,
            [user_col, "metric", "value"],
            dtype={user_col: str, "metric": str},
        )
        if long.empty:
            return pd.DataFrame({user_col: []})
        wide = long.pivot(index=user_col, columns="metric", values="value")
        return wide.reset_index().rename_axis(columns=None)

    def recommendations(self, run_id: int, users: Sequence[str] | None = None) -> pd.DataFrame:
        """The stored top-N ordered by user_id then rank; ``users`` keeps only those users' rows.

        Without ``users`` the whole table streams through the bulk path (export needs it all).
        With them, each user is a range of the primary key (run_id, user_id, rank), so showing
        one user costs a few rows instead of the whole table (millions of rows at 100k users).
        Unknown users simply have no rows; a bare string is one user id, not its characters.
        """
        import pandas as pd

        from db.bulk import bulk_select

        if users is None:
            return bulk_select(
                self.s,
                f"{_SELECT_RECOMMENDATIONS} ORDER BY user_id, rank",
                run_id,
                RECOMMENDATION_COLUMNS,
                dtype={"user_id": str, "item_id": str, "reason": str},
            )
        wanted = sorted({users} if isinstance(users, str) else {str(u) for u in users})
        rows = self._user_rows(run_id, wanted) if wanted else []
        if not rows:
            return pd.DataFrame({n: [] for n in RECOMMENDATION_COLUMNS})
        return pd.DataFrame.from_records([tuple(r) for r in rows], columns=RECOMMENDATION_COLUMNS)

    def _user_rows(self, run_id: int, wanted: list[str]) -> list[Any]:
        """Rows of the users in ``wanted`` (sorted, distinct) ordered by user_id, rank."""
        if self.s.get_bind().dialect.name == "postgresql":
            # one array parameter: no length limit, one round trip, and the server orders the
            # rows by its own collation exactly as the full read does
            sql = f"{_SELECT_RECOMMENDATIONS} AND user_id = ANY(CAST(:users AS TEXT[]))"
            params = {"key": run_id, "users": wanted}
            return list(self.s.execute(text(f"{sql} ORDER BY user_id, rank"), params).all())
        # SQLite compares text bytewise (BINARY), which is Python's str order, so chunks of the
        # sorted ids come back already in ORDER BY user_id order
        query = text(
            f"{_SELECT_RECOMMENDATIONS} AND user_id IN :users ORDER BY user_id, rank"
        ).bindparams(bindparam("users", expanding=True))
        rows: list[Any] = []
        for start in range(0, len(wanted), USER_CHUNK):
            chunk = wanted[start : start + USER_CHUNK]
            rows.extend(self.s.execute(query, {"key": run_id, "users": chunk}).all())
        return rows

    # ---------------------------------------------------------------- workers
    def register_worker(self, worker: str, pid: int, host: str) -> None:
        self.s.execute(insert(WorkerTable).values(id=worker, pid=pid, host=host))

    def beat_worker(self, worker: str) -> bool:
        """Refresh a worker's beat; False when its row is gone (it was removed: stop beating).

        One UPDATE, not a read then an ORM flush: the row may vanish between the two, which
        made the flush fail with "expected to update 1 row(s); 0 were matched".
        """
        beat = self.s.execute(
            update(WorkerTable).where(WorkerTable.id == worker).values(heartbeat_at=now())
        )
        return bool(beat.rowcount == 1)  # type: ignore[attr-defined]

    def live_workers(self, max_age: timedelta) -> list[str]:
        cutoff = now() - max_age
        q = select(WorkerTable.id).where(WorkerTable.heartbeat_at >= cutoff)
        return list(self.s.scalars(q))

    def remove_worker(self, worker: str) -> None:
        self.s.execute(delete(WorkerTable).where(WorkerTable.id == worker))


def _codes(values: Any) -> tuple[Any, Any]:
    """Codes of ``values`` into their distinct values (in order of appearance), and those."""
    import pandas as pd

    codes, uniques = pd.factorize(values)
    return codes, uniques.astype(object)
