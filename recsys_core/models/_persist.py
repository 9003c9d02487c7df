"""How a fitted model becomes one ``.npz`` of plain arrays and back (no pickle anywhere)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError, RecsysError

#: Bumped when the layout of saved files changes, so old files fail with a clear message.
FORMAT_VERSION = 1
_META_KEY = "__meta__"
_TRAIN_PREFIX = "train__"


def write_model(model: Any, train: Interactions, path: Path) -> None:
    """Config, id maps, training matrix and learned arrays of ``model`` to ``path``.

    Written to a temporary name and renamed, so readers never see a half-written file.
    """
    arrays, kinds = _state_arrays(model)
    arrays.update(_train_arrays(train))
    meta = {
        "format_version": FORMAT_VERSION,
        "model": model.name,
        "config": model.config.model_dump(mode="json"),
        "feedback": train.feedback,
        "state": kinds,
    }
    arrays[_META_KEY] = np.array(json.dumps(meta))
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)


def read_model(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The metadata (model name, config, ...) and the arrays of a saved model file."""
    with np.load(Path(path), allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    meta = json.loads(str(arrays.pop(_META_KEY)))
    if meta.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{path} was saved in an unsupported format: {meta!r:.80}.")
    return meta, arrays


def restore(model: Any, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    """Put the training space and the learned arrays of a read file on an unfitted model."""
    model.train_ = _train_from_arrays(arrays, meta["feedback"])
    _restore_state(model, arrays, meta["state"])
    return model


def _state_arrays(model: Any) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Learned attributes as plain arrays, with the kind needed to rebuild each one."""
    arrays: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    for key, value in vars(model).items():
        if not key.endswith("_") or key.startswith("_") or key == "train_":
            continue
        if isinstance(value, np.generic):
            value = value.item()
        if sp.issparse(value):
            m = sp.csr_matrix(value)
            kinds[key] = "csr"
            arrays[f"{key}.data"], arrays[f"{key}.indices"] = m.data, m.indices
            arrays[f"{key}.indptr"], arrays[f"{key}.shape"] = m.indptr, np.array(m.shape)
        elif isinstance(value, np.ndarray) and value.dtype != object:
            kinds[key], arrays[key] = "ndarray", value
        elif isinstance(value, bool | int | float):
            kinds[key], arrays[key] = type(value).__name__, np.asarray(value)
        else:
            # Failing here beats a loaded model that silently lacks part of its state.
            raise RecsysError(f"{model.name}: cannot save learned attribute {key} ({type(value)}).")
    return arrays, kinds


def _restore_state(model: Any, arrays: dict[str, np.ndarray], kinds: dict[str, str]) -> None:
    casts = {"bool": bool, "int": int, "float": float}
    for key, kind in kinds.items():
        if kind == "csr":
            parts = (arrays[f"{key}.data"], arrays[f"{key}.indices"], arrays[f"{key}.indptr"])
            value: Any = sp.csr_matrix(parts, shape=tuple(arrays[f"{key}.shape"]))
        elif kind == "ndarray":
            value = arrays[key]
        else:
            value = casts[kind](arrays[key].item())
        setattr(model, key, value)


def _train_arrays(train: Interactions) -> dict[str, np.ndarray]:
    m = train.matrix
    p = _TRAIN_PREFIX
    return {
        f"{p}data": m.data,
        f"{p}indices": m.indices,
        f"{p}indptr": m.indptr,
        f"{p}user_ids": np.asarray(train.user_ids, dtype=str),
        f"{p}item_ids": np.asarray(train.item_ids, dtype=str),
    }


def _train_from_arrays(arrays: dict[str, np.ndarray], feedback: Any) -> Interactions:
    """Rebuild the training space from its matrix: enough for scoring and seen-item masks."""
    p = _TRAIN_PREFIX
    indptr = arrays[f"{p}indptr"]
    users = np.repeat(np.arange(len(indptr) - 1, dtype=np.int32), np.diff(indptr))
    return Interactions(
        users=users,
        items=arrays[f"{p}indices"].astype(np.int32),
        values=arrays[f"{p}data"].astype(np.float32),
        user_ids=arrays[f"{p}user_ids"].astype(object),
        item_ids=arrays[f"{p}item_ids"].astype(object),
        feedback=feedback,
    )
