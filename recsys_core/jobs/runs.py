"""Runs: a stored spec goes load -> split -> fit -> evaluate -> save, with progress and cancel."""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from db import Store
from db.runs import CANCELLED, Run, RunRepository, run_heartbeat
from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError, RecsysError
from recsys_core.evaluation.evaluate import EvaluationResult, evaluate, evaluate_topk, top_lists
from recsys_core.evaluation.significance import bootstrap_cis
from recsys_core.jobs.artifacts import (
    artifacts_dir,
    get_run,
    load_model,
    model_saves,
    save_artifact,
    sha256,
)
from recsys_core.jobs.datasets import load_interactions, resolve
from recsys_core.jobs.derived import derived_model
from recsys_core.jobs.segments import segment_report
from recsys_core.jobs.spec import DerivedSpec, RunSpec, parse_spec, split_for
from recsys_core.jobs.summary import ModelReport, RunResult, RunSummary
from recsys_core.json_values import json_safe
from recsys_core.models.base import Recommender
from recsys_core.splitting import Split

__all__ = [
    "Cancelled",
    "DerivedSpec",
    "RunSpec",
    "artifacts_dir",
    "execute",
    "get_run",
    "load_model",
    "model_saves",
    "parse_spec",
    "sha256",
    "split_for",
    "submit",
    "train",
]

PROGRESS_EVERY_S = 0.5
#: Seconds between the elapsed-time labels of phases that cannot report from inside.
TICK_S = 2.0
#: Seconds between repeated cancels of another engine's jobs once the analyst cancelled.
CANCEL_POLL_S = 0.25
#: Reasons are stored for at most this many rows of a run: explaining is per row (~1.5 ms).
MAX_EXPLAINED_ROWS = 10_000


class Cancelled(RecsysError):
    """Raised inside a run when the analyst cancelled it."""


#: A run's fit-and-rank on another engine than this process (e.g. Spark): given the spec,
#: the version's interactions, the split, the test users, the progress reporter and the
#: timings to add to, it returns a local model (the run's artifact, for every reader) and
#: each test user's top list (items, scores), as ``top_lists`` would.
EngineStage = Callable[..., tuple[Recommender, np.ndarray, np.ndarray]]


def submit(store: Store, spec: RunSpec) -> Run:
    """Queue a run for a worker; checks the dataset and model first, so bad specs store nothing."""
    ds, version = resolve(store, spec.dataset, spec.version)
    spec = spec.model_copy(update={"version": version.version})
    if spec.derived is None:
        spec.build_model()
    with store.session() as s:
        return RunRepository(s).create(
            dataset_id=ds.id,
            version_id=version.id,
            label=spec.label or spec.model,
            model=spec.model,
            spec=spec.model_dump(mode="json"),
        )


def train(
    store: Store,
    spec: RunSpec,
    *,
    worker: str = "inline",
    engines: Mapping[str, EngineStage] | None = None,
) -> Run:
    """Submit and execute at once (the CLI's synchronous ``recsys train``)."""
    run = submit(store, spec)
    with run_heartbeat(store, run.id):  # no worker beats for it: readers must see it alive
        return execute(store, run.id, worker=worker, engines=engines)


def execute(
    store: Store,
    run_id: int,
    *,
    worker: str = "inline",
    engines: Mapping[str, EngineStage] | None = None,
) -> Run:
    """Run a stored spec to the end; a failure leaves a failed run with its error and no results.

    ``engines`` maps engine names other than "local" to their stage (the CLI's worker passes
    Spark's); a run asking for an engine this process lacks fails with a message saying so.
    """
    with store.session() as s:
        repo = RunRepository(s)
        run = repo.get(run_id)
        if run is None:
            raise InputError(f"No run {run_id}.")
        if run.status != "running":
            repo.start(run_id, worker)
    try:
        progress = _Reporter(store, run_id)
        result = _compute(store, run, progress, engines or {})
        progress(0, 1, f"{len(result.recommendations):,} recommendations")
        with store.session() as s:
            _save(RunRepository(s), run_id, result)
    except Cancelled:
        _fail(store, run_id, "Cancelled by the analyst.", CANCELLED)
    except InputError as exc:
        _fail(store, run_id, str(exc))
    except Exception as exc:  # a crash must end as a failed run the analyst can read
        tail = "".join(traceback.format_exception(exc)[-3:])
        _fail(store, run_id, f"{type(exc).__name__}: {exc}\n{tail}")
    with store.session() as s:
        final = RunRepository(s).get(run_id)
    assert final is not None
    return final


def _fail(store: Store, run_id: int, message: str, status: str = "failed") -> None:
    with store.session() as s:
        RunRepository(s).fail(run_id, message, status)


class _Reporter:
    """Progress callback writing to the store at most twice a second; raises on cancel.

    Every phase calls it at least once per few seconds (batches of users, one metric's
    intervals, one segment view), so the analyst's bar never sits still for long.
    """

    def __init__(self, store: Store, run_id: int) -> None:
        self.store, self.run_id, self.last = store, run_id, 0.0
        self.stage = ""

    def __call__(self, done: int, total: int, message: str = "") -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_S and done < total:
            return
        self.last = now
        text = progress_label(self.stage, message)
        with self.store.session() as s:
            if RunRepository(s).progress(self.run_id, done, total, text):
                raise Cancelled("cancelled")

    def enter(self, stage: str) -> None:
        self.stage, self.last = stage, 0.0
        self(0, 1, "")

    @contextmanager
    def ticking(self, stage: str, on_cancel: Callable[[], None] | None = None) -> Iterator[None]:
        """A phase that cannot report from inside (reading the store, the model's own report,
        the model file, jobs on another engine): a thread writes the seconds spent every
        ``TICK_S``, so the bar's label keeps moving; a cancel it sees is raised when the phase
        ends. ``on_cancel`` is then called from that thread every ``CANCEL_POLL_S`` until the
        phase ends (e.g. to stop Spark's jobs: a cancel landing between two jobs stops none,
        so it is repeated); the failure it causes is raised as the cancel it is."""
        self.enter(stage)
        stop, cancelled, start = threading.Event(), threading.Event(), time.monotonic()

        def tick() -> None:
            while not stop.wait(CANCEL_POLL_S if cancelled.is_set() else TICK_S):
                if cancelled.is_set():
                    if on_cancel is not None:
                        on_cancel()
                    continue
                text = progress_label(stage, f"{time.monotonic() - start:.0f} s")
                with self.store.session() as s:
                    if RunRepository(s).progress(self.run_id, 0, 1, text):
                        cancelled.set()
                if cancelled.is_set() and on_cancel is not None:
                    on_cancel()

        thread = threading.Thread(target=tick, name=f"progress-run-{self.run_id}", daemon=True)
        thread.start()
        try:
            yield
        except Exception:
            if cancelled.is_set():
                raise Cancelled("cancelled") from None
            raise
        finally:
            stop.set()
            thread.join()
        if cancelled.is_set():
            raise Cancelled("cancelled")


def progress_label(stage: str, message: str) -> str:
    """ "stage: message", or the stage alone: a label never ends in a bare "stage:"."""
    stage, message = stage.strip(), message.strip()
    return f"{stage}: {message}" if stage and message else stage or message


@contextmanager
def _timed(timings: dict[str, float], key: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[key] = round(timings.get(key, 0.0) + time.perf_counter() - start, 3)


def _compute(
    store: Store,
    run: Run,
    progress: _Reporter,
    engines: Mapping[str, EngineStage] | None = None,
) -> RunResult:
    """load -> split -> fit -> top-N once -> metrics, intervals, segments from those lists ->
    reasons -> model report -> model file. Nothing is written to the store here."""
    spec = RunSpec.model_validate(run.spec)
    timings: dict[str, float] = {}
    with _timed(timings, "load_split_s"):
        with progress.ticking("loading"):
            inter = load_interactions(store, run.dataset_id, spec.version)
        progress.enter("splitting")
        parts = split_for(inter, spec.split, spec.seed, spec.engine)
    test_users = np.unique(parts.test.users)
    if spec.engine == "local":
        progress.enter("fitting")
        with _timed(timings, "fit_s"):
            model = _fit(store, spec, parts, progress)
        with _timed(timings, "evaluate_s"):
            top_items, top_scores = _top_lists(model, test_users, spec, progress)
    elif spec.engine in (engines or {}):
        stage = (engines or {})[spec.engine]
        model, top_items, top_scores = stage(run, spec, inter, parts, test_users, progress, timings)
    else:
        raise InputError(
            f"This worker has no {spec.engine} engine: start one with `recsys worker` where "
            "RECSYS_SPARK_MASTER is set and pyspark is installed (`pip install .[spark]`)."
        )
    with _timed(timings, "evaluate_s"):
        result = _metrics(model, parts, spec, test_users, top_items, progress)
    with _timed(timings, "ci_segments_s"):
        metrics = _with_ci(result.per_user, result.summary, spec.seed, progress)
        progress.enter("segments")
        segments = segment_report(
            parts, result.per_user, top_items, test_users, spec, progress=progress
        )
    recs = _recommendation_frame(parts.train, test_users, top_items, top_scores)
    recs = recs[recs[Columns.rank] <= spec.n_recommendations]
    progress.enter("explaining")
    with _timed(timings, "reasons_s"):
        reasons = _reasons(model, parts.train, recs, progress, spec.explain_top)
    recs = recs.assign(reason=pd.Series(reasons, dtype=object, index=recs.index))
    with _timed(timings, "report_s"), progress.ticking("reporting"):
        report = ModelReport.model_validate(json_safe(_model_report(model, parts, spec)))
    with _timed(timings, "artifact_s"), progress.ticking("saving"):
        path, digest = save_artifact(model, run.id) if model_saves(spec) else (None, None)
    summary = RunSummary.model_validate(
        {
            "metrics": metrics["value"].dropna().round(6).to_dict(),
            "checks": parts.checks().describe().reset_index().to_dict(orient="records"),
            "n_train": parts.train.n_interactions,
            "n_test": parts.test.n_interactions,
            "segments": segments,
            "model": report,
        }
    )
    return RunResult(metrics, result.per_user, recs, path, digest, timings, summary)


def _fit(store: Store, spec: RunSpec, parts: Split, progress: _Reporter) -> Recommender:
    if spec.derived is None:
        return spec.build_model().fit(parts.train, progress=progress)
    return derived_model(store, spec.derived, parts.train)


def _top_lists(
    model: Recommender, users: np.ndarray, spec: RunSpec, progress: _Reporter
) -> tuple[np.ndarray, np.ndarray]:
    """Every test user's list, computed once: long enough for the stored top-N and every K."""
    progress.enter("recommending")
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        progress(done, len(users), f"{done:,} of {len(users):,} users")

    return top_lists(model, users, max(spec.n_recommendations, *spec.ks), on_batch=tick)


def _metrics(
    model: Recommender,
    parts: Split,
    spec: RunSpec,
    users: np.ndarray,
    top_items: np.ndarray,
    progress: _Reporter,
) -> EvaluationResult:
    """Metrics of the lists just computed (full ranking) or of sampled candidates."""
    progress.enter("evaluating")
    if spec.protocol == "sampled":  # sampled metrics rank other candidates than the lists
        return evaluate(
            {"model": model},
            parts,
            spec.ks,
            relevance_threshold=spec.relevance_threshold,
            protocol="sampled",
            random_state=spec.seed,
            progress=progress,
        )
    width = max(spec.ks)
    result = evaluate_topk(
        top_items[:, :width], users, parts, spec.ks, relevance_threshold=spec.relevance_threshold
    )
    if result.per_user.empty:  # the same refusal as evaluate()'s
        raise InputError("No test user has a relevant item: check the split and the threshold.")
    return result


def _model_report(model: Recommender, parts: Split, spec: RunSpec) -> dict[str, Any]:
    """What the model family itself can tell (its ``report``: cold-item ability, encoders,
    fusion gates and ablation), and for a model that reorders candidates, the candidate
    models' own metrics on the same split."""
    out = model.report(parts)
    fitted = model.candidate_models()
    if fitted:
        result = evaluate(fitted, parts, spec.ks, relevance_threshold=spec.relevance_threshold)
        summary = result.summary.reset_index()
        label_col = summary.columns[0]
        out["candidates"] = {
            name: dict(zip(rows[label_col], rows["value"].astype(float), strict=True))
            for name, rows in (
                summary.groupby("model") if "model" in summary else [(next(iter(fitted)), summary)]
            )
        }
    return out


def _recommendation_frame(
    train: Interactions, users: np.ndarray, items: np.ndarray, scores: np.ndarray
) -> pd.DataFrame:
    """Tidy top-N rows from ``topk`` arrays; -1 padding (short catalogues) is dropped."""
    keep = items >= 0
    rows, cols = np.nonzero(keep)
    return pd.DataFrame(
        {
            Columns.user: train.user_ids[users[rows]],
            Columns.item: train.item_ids[items[keep]],
            Columns.score: scores[keep].astype(np.float64),
            Columns.rank: cols + 1,
        }
    )


def _reasons(
    model: Recommender, train: Interactions, recs: pd.DataFrame, progress: _Reporter, top: int
) -> list[str | None]:
    """A plain sentence for the top rows of each list (None elsewhere), kept with the list."""
    from recsys_core.explain import explain_many

    out: list[str | None] = [None] * len(recs)
    if top < 1:
        return out
    chosen = np.flatnonzero(recs[Columns.rank].to_numpy() <= top)[:MAX_EXPLAINED_ROWS]
    users = recs[Columns.user].to_numpy()
    items = recs[Columns.item].to_numpy()
    step = 500
    for start in range(0, len(chosen), step):
        rows = chosen[start : start + step]
        for row, expl in zip(
            rows, explain_many(model, train, users[rows], items[rows]), strict=True
        ):
            out[row] = None if expl is None else expl.plain_sentence
        progress(min(start + step, len(chosen)), len(chosen), "reasons")
    return out


def _with_ci(
    per_user: pd.DataFrame, summary: pd.DataFrame, seed: int, progress: _Reporter
) -> pd.DataFrame:
    """Summary values plus bootstrap 95% intervals from the per-user values where there are any
    (all metrics resampled together: one draw of users serves every metric)."""
    progress.enter("intervals")
    out = summary[["value"]].copy()
    out["ci_low"] = np.nan
    out["ci_high"] = np.nan
    labels = [label for label in out.index if label in per_user.columns]
    values = per_user[labels].to_numpy(np.float64)
    low, high = bootstrap_cis(values, random_state=seed)
    several = (~np.isnan(values)).sum(axis=0) > 1  # one value has no interval
    out.loc[np.array(labels)[several], "ci_low"] = low[several]
    out.loc[np.array(labels)[several], "ci_high"] = high[several]
    progress(1, 1, f"{len(labels)} metrics")
    return out


def _save(repo: RunRepository, run_id: int, result: RunResult) -> None:
    """All results in the caller's one transaction: a run is complete or has nothing.

    ``save_s`` joins the timings: the writes (the top-N and per-user rows are most of a
    cheap model's run), not the commit that follows them.
    """
    start = time.perf_counter()
    repo.clear_results(run_id)
    repo.write_metrics(run_id, result.metrics)
    repo.write_user_metrics(run_id, result.per_user, Columns.user)
    repo.write_recommendations(run_id, result.recommendations)
    timings = {**result.timings, "save_s": round(time.perf_counter() - start, 3)}
    repo.finish(
        run_id,
        artifact_path=result.artifact_path,
        artifact_sha256=result.artifact_sha256,
        timings=timings,
        summary=result.summary.to_json(),
        progress_done=1,
        progress_total=1,
        progress_message="done",
    )
