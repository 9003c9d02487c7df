"""Run artifacts: reading stored runs, and the model files whose checksums the runs keep."""

from __future__ import annotations

import hashlib
from pathlib import Path

from db import Store
from db.engine import default_home
from db.runs import DONE, Run, RunRepository
from recsys_core.errors import InputError
from recsys_core.jobs.spec import RunSpec, reranked
from recsys_core.models.base import Recommender
from recsys_core.models.registry import load_model_file


def model_saves(spec: RunSpec) -> bool:
    """Re-ranked runs keep no file of their own: the base run's model plus the plan rebuild it."""
    return spec.derived is None or spec.derived.kind != "rerank"


def artifacts_dir() -> Path:
    path = default_home() / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_artifact(model: Recommender, run_id: int) -> tuple[str, str]:
    path = artifacts_dir() / f"run_{run_id}.npz"
    model.save(path)
    return str(path), sha256(path)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_model(run: Run, store: Store | None = None) -> Recommender:
    """Load a run's model after checking its checksum: only files the workbench wrote load.

    A re-ranked run is rebuilt from its base run's model and its plan (``store`` needed).
    """
    spec = RunSpec.model_validate(run.spec)
    if run.status == DONE and spec.derived is not None and spec.derived.kind == "rerank":
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
