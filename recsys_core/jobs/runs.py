"""Runs: a stored spec goes load -> split -> fit -> evaluate -> save, with progress and cancel."""

from __future__ import annotations

import hashlib
import time
import traceback
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from db import Store
from db.engine import default_home
from db.runs import CANCELLED, DONE, Run, RunRepository
from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError, RecsysError
from recsys_core.evaluation import evaluate
from recsys_core.evaluation.significance import bootstrap_ci
from recsys_core.jobs.datasets import load_interactions, resolve
from recsys_core.jobs.segments import segment_report
from recsys_core.models.base import Recommender
from recsys_core.models.registry import load_model_file, make_model
from recsys_core.splitting import Split, split
from recsys_core.splitting.configs import RandomHoldout, SplitConfig

PROGRESS_EVERY_S = 0.5
#: Reasons are stored for at most this many rows of a run: explaining is per row (~1.5 ms).
MAX_EXPLAINED_ROWS = 10_000


class Cancelled(RecsysError):
    """Raised inside a run when the analyst cancelled it."""


class DerivedSpec(BaseModel):
    """A run made from finished runs: a weighted blend of them, or one of them re-ranked."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["blend", "rerank"] = Field(description="Blend several runs or re-rank one.")
    runs: list[int] = Field(min_length=1, description="Ids of the finished base runs.")
    weights: list[float] = Field(default_factory=list, description="Blend weight per run.")
    normalisation: Literal["minmax", "zscore", "rank"] = Field(
        default="minmax", description="Per-user score normalisation before blending."
    )
    rerank: dict[str, Any] | None = Field(default=None, description="Re-ranking plan (JSON).")
    n_candidates: int = Field(default=100, ge=1, le=5000, description="Candidates re-ranked.")


class RunSpec(BaseModel):
    """Everything that determines a run's numbers: same spec, same results."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(description="Dataset name.")
    version: int | None = Field(default=None, ge=1, description="Dataset version; latest if unset.")
    model: str = Field(description="Registry name of the model, e.g. 'ease'.")
    params: dict[str, Any] = Field(default_factory=dict, description="Model config values.")
    split: SplitConfig = Field(default_factory=RandomHoldout, description="Split protocol.")
    seed: int = Field(default=42, description="Seed for the split and the model.")
    ks: list[int] = Field(default=[5, 10, 20], min_length=1, description="Metric cut-offs K.")
    relevance_threshold: float | None = Field(
        default=None, description="Only test ratings >= this count as relevant; all if unset."
    )
    protocol: Literal["full", "sampled"] = Field(default="full", description="Ranking protocol.")
    n_recommendations: int = Field(default=50, ge=1, le=1000, description="Top-N stored per user.")
    explain_top: int = Field(
        default=3,
        ge=0,
        le=50,
        description="Ranks per user whose reason sentence is stored with the list (0 for none).",
    )
    label: str | None = Field(default=None, description="Display name; model name if unset.")
    derived: DerivedSpec | None = Field(
        default=None, description="Set for runs built from other runs (blend or re-rank)."
    )

    def build_model(self) -> Recommender:
        """The configured model (seeded from ``seed`` unless params set random_state)."""
        return make_model(self.model, {"random_state": self.seed, **self.params})


def parse_spec(values: dict[str, Any]) -> RunSpec:
    """Validate a spec, turning pydantic's report into one InputError for the analyst."""
    try:
        spec = RunSpec.model_validate(values)
    except ValidationError as exc:
        parts = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise InputError("Invalid run: " + "; ".join(parts)) from None
    if min(spec.ks) < 1:
        raise InputError(f"k must be at least 1; got {min(spec.ks)}.")
    if spec.derived is None:
        spec.build_model()  # unknown model or parameter fails now, before anything is stored
    return spec


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


def train(store: Store, spec: RunSpec, *, worker: str = "inline") -> Run:
    """Submit and execute at once (the CLI's synchronous ``recsys train``)."""
    return execute(store, submit(store, spec).id, worker=worker)


def execute(store: Store, run_id: int, *, worker: str = "inline") -> Run:
    """Run a stored spec to the end; a failure leaves a failed run with its error and no results."""
    with store.session() as s:
        repo = RunRepository(s)
        run = repo.get(run_id)
        if run is None:
            raise InputError(f"No run {run_id}.")
        if run.status != "running":
            repo.start(run_id, worker)
    try:
        results = _compute(store, run, _Reporter(store, run_id))
        with store.session() as s:
            _save(RunRepository(s), run_id, results)
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
    """Progress callback writing to the store at most twice a second; raises on cancel."""

    def __init__(self, store: Store, run_id: int) -> None:
        self.store, self.run_id, self.last = store, run_id, 0.0
        self.stage = ""

    def __call__(self, done: int, total: int, message: str = "") -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_S and done < total:
            return
        self.last = now
        text = f"{self.stage}: {message}" if self.stage else message
        with self.store.session() as s:
            if RunRepository(s).progress(self.run_id, done, total, text):
                raise Cancelled("cancelled")

    def enter(self, stage: str) -> None:
        self.stage, self.last = stage, 0.0
        self(0, 1, "")


def _compute(store: Store, run: Run, progress: _Reporter) -> dict[str, Any]:
    spec = RunSpec.model_validate(run.spec)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    progress.enter("loading")
    inter = load_interactions(store, run.dataset_id, spec.version)
    progress.enter("splitting")
    parts = split_for(inter, spec.split, spec.seed)
    timings["load_split_s"] = time.perf_counter() - t0
    progress.enter("fitting")
    t1 = time.perf_counter()
    if spec.derived is None:
        model = spec.build_model().fit(parts.train, progress=progress)
    else:
        from recsys_core.jobs.derived import derived_model

        model = derived_model(store, spec.derived, parts.train)
    timings["fit_s"] = time.perf_counter() - t1
    progress.enter("evaluating")
    t2 = time.perf_counter()
    result = evaluate(
        {run.label: model},
        parts,
        spec.ks,
        relevance_threshold=spec.relevance_threshold,
        protocol=spec.protocol,
        random_state=spec.seed,
        progress=progress,
    )
    timings["evaluate_s"] = time.perf_counter() - t2
    progress.enter("recommending")
    test_users = np.unique(parts.test.users)
    n_top = max(spec.n_recommendations, *spec.ks)
    top_items, top_scores = model.topk(test_users, n_top)
    recs = _recommendation_frame(parts.train, test_users, top_items, top_scores)
    recs = recs[recs[Columns.rank] <= spec.n_recommendations]
    progress.enter("explaining")
    recs = recs.assign(  # reasons for the top ranks of every list
        reason=pd.Series(
            _reasons(model, parts.train, recs, progress, spec.explain_top),
            dtype=object,
            index=recs.index,
        )
    )
    segments = segment_report(parts, result.per_user, top_items, test_users, spec)
    progress.enter("reporting")
    model_report = _model_report(model, parts, spec)
    artifact, digest = _save_artifact(model, run.id) if model_saves(spec) else (None, None)
    return {
        "metrics": _with_ci(result.per_user, result.summary, spec.seed),
        "per_user": result.per_user,
        "recommendations": recs,
        "artifact": (artifact, digest),
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "checks": parts.checks().describe().reset_index().to_dict(orient="records"),
        "n_train": parts.train.n_interactions,
        "n_test": parts.test.n_interactions,
        "segments": segments,
        "model_report": model_report,
    }


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


def split_for(inter: Interactions, config: SplitConfig, seed: int) -> Split:
    """A run's split; the predefined protocol takes the train/test column stored at import."""
    if config.kind != "predefined":
        return split(inter, config, seed)
    if inter.is_test is None:
        raise InputError(
            "This dataset has no train/test column: map one (role 'split') when importing "
            "to use the predefined split."
        )
    return split(inter, config, seed, is_test=inter.is_test)


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


def _with_ci(per_user: pd.DataFrame, summary: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Summary values plus bootstrap 95% intervals from the per-user values where there are any."""
    out = summary[["value"]].copy()
    out["ci_low"] = np.nan
    out["ci_high"] = np.nan
    for label in out.index:
        if label in per_user.columns:
            values = per_user[label].dropna().to_numpy(np.float64)
            if len(values) > 1:
                out.loc[label, ["ci_low", "ci_high"]] = bootstrap_ci(values, random_state=seed)
    return out


def model_saves(spec: RunSpec) -> bool:
    """Re-ranked runs keep no file of their own: the base run's model plus the plan rebuild it."""
    return spec.derived is None or spec.derived.kind != "rerank"


def artifacts_dir() -> Path:
    path = default_home() / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _save_artifact(model: Recommender, run_id: int) -> tuple[str, str]:
    path = artifacts_dir() / f"run_{run_id}.npz"
    model.save(path)
    return str(path), sha256(path)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _save(repo: RunRepository, run_id: int, results: dict[str, Any]) -> None:
    """All results in the caller's one transaction: a run is complete or has nothing."""
    repo.clear_results(run_id)
    repo.write_metrics(run_id, results["metrics"])
    repo.write_user_metrics(run_id, results["per_user"], Columns.user)
    repo.write_recommendations(run_id, results["recommendations"])
    path, digest = results["artifact"]
    summary = {
        "metrics": results["metrics"]["value"].dropna().round(6).to_dict(),
        "checks": results["checks"],
        "n_train": results["n_train"],
        "n_test": results["n_test"],
        "segments": results["segments"],
        "model": results["model_report"],
    }
    repo.finish(
        run_id,
        artifact_path=path,
        artifact_sha256=digest,
        timings=results["timings"],
        summary=json_safe(summary),
        progress_done=1,
        progress_total=1,
        progress_message="done",
    )


def json_safe(value: Any) -> Any:
    """Plain JSON values: NaN/inf become null (PostgreSQL's JSON rejects them), numpy scalars
    become Python numbers, timestamps become ISO strings."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def load_model(run: Run, store: Store | None = None) -> Recommender:
    """Load a run's model after checking its checksum: only files the workbench wrote load.

    A re-ranked run is rebuilt from its base run's model and its plan (``store`` needed).
    """
    spec = RunSpec.model_validate(run.spec)
    if run.status == DONE and spec.derived is not None and spec.derived.kind == "rerank":
        from recsys_core.jobs.derived import reranked

        if store is None:
            raise InputError(f"Run {run.id} is a re-ranking: loading it needs the store.")
        return reranked(spec.derived, load_model(get_run(store, spec.derived.runs[0]), store))
    if run.status != DONE or not run.artifact_path or not run.artifact_sha256:
        raise InputError(f"Run {run.id} has no saved model (status {run.status}).")
    path = Path(run.artifact_path)
    if not path.is_file():
        raise InputError(f"The model file of run {run.id} is missing: {path}.")
    if sha256(path) != run.artifact_sha256:
        raise InputError(f"The model file of run {run.id} does not match its checksum; not loaded.")
    return load_model_file(path)


def get_run(store: Store, run_id: int) -> Run:
    with store.session() as s:
        run = RunRepository(s).get(run_id)
    if run is None:
        raise InputError(f"No run {run_id}; `recsys runs` lists them.")
    return run
