"""Fit one peer library's model on a train file; print the import of the library's modules
and the fit, timed apart, as JSON (the bench reports the fit alone and the two together, as
it does for the workbench's own side).

Runs inside the peers' venv (bench/requirements-peers.txt), never in the workbench's
(implicit, a dependency of the workbench, runs in the workbench's).
Usage: python bench/_peer_fit.py PEER MODEL TRAIN.parquet
"""

from __future__ import annotations

import importlib
import json
import sys
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp

#: The modules each peer's models come from: imported, and timed, before the fit (numpy,
#: scipy and pandas are loaded before that, as on the workbench's side).
MODULES = {
    "lenskit": ["lenskit.data", "lenskit.knn.ease"],
    "cornac": ["cornac"],
    "implicit": ["implicit.als", "implicit.nearest_neighbours"],
}


def _matrix(frame: pd.DataFrame) -> sp.csr_matrix:
    n_users, n_items = int(frame.user.max()) + 1, int(frame.item.max()) + 1
    ones = np.ones(len(frame), dtype=np.float32)
    return sp.csr_matrix((ones, (frame.user, frame.item)), shape=(n_users, n_items))


def lenskit_ease(frame: pd.DataFrame) -> float:
    from lenskit.data import from_interactions_df
    from lenskit.knn.ease import EASEScorer

    data = from_interactions_df(frame.rename(columns={"user": "user_id", "item": "item_id"}))
    start = time.perf_counter()
    EASEScorer(regularization=250.0).train(data)
    return time.perf_counter() - start


def cornac_model(model: str, frame: pd.DataFrame) -> float:
    import cornac

    triples = list(
        zip(frame.user.astype(str), frame.item.astype(str), np.ones(len(frame)), strict=True)
    )
    train = cornac.data.Dataset.from_uir(triples, seed=42)
    if model == "ease":
        rec = cornac.models.EASE(lamb=250, posB=False, verbose=False)
    else:  # bpr with the workbench's defaults: 64 factors, 100 epochs, lr 0.01, reg 0.01
        rec = cornac.models.BPR(k=64, max_iter=100, learning_rate=0.01, lambda_reg=0.01, seed=42)
    start = time.perf_counter()
    rec.fit(train)
    return time.perf_counter() - start


def implicit_model(model: str, frame: pd.DataFrame) -> float:
    from implicit.als import AlternatingLeastSquares
    from implicit.nearest_neighbours import CosineRecommender

    matrix = _matrix(frame)
    if model == "item_knn":
        rec = CosineRecommender(K=100)
    else:  # als with the workbench's defaults: 64 factors, 15 sweeps, reg 10
        rec = AlternatingLeastSquares(factors=64, iterations=15, regularization=10.0)
    start = time.perf_counter()
    rec.fit(matrix, show_progress=False)
    return time.perf_counter() - start


def main() -> None:
    peer, model, path = sys.argv[1:4]
    frame = pd.read_parquet(path)
    start = time.perf_counter()
    for module in MODULES[peer]:
        importlib.import_module(module)
    import_s = time.perf_counter() - start
    if peer == "lenskit":
        seconds = lenskit_ease(frame)
    elif peer == "cornac":
        seconds = cornac_model(model, frame)
    else:
        seconds = implicit_model(model, frame)
    print(json.dumps({"import_s": round(import_s, 3), "fit_s": round(seconds, 3)}))


if __name__ == "__main__":
    main()
