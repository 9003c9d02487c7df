"""Deep models: lazy TensorFlow, seeding, progress per epoch, cancelling, early stopping."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.models.deep import NeuMF, TwoTower
from recsys_core.models.deep._keras import EpochMonitor
from recsys_core.models.deep._neumf_parts import PRETRAIN_SCALE
from recsys_core.models.deep._validation import carve_validation
from recsys_core.models.implicit_mf import ALS

ROOT = Path(__file__).resolve().parents[2]
TINY = {"embedding_size": 4, "batch_size": 64, "learning_rate": 0.01, "validation_fraction": 0.0}


@pytest.fixture(scope="module")
def random_data() -> Interactions:
    """300 users x 120 items, 20 random items each: no structure, so training overfits."""
    rng = np.random.default_rng(5)
    users = np.repeat(np.arange(300), 20)
    items = np.concatenate([rng.choice(120, 20, replace=False) for _ in range(300)])
    frame = pd.DataFrame({Columns.user: users, Columns.item: items})
    return Interactions.from_frame(frame)


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_importing_registry_and_deep_models_does_not_import_tensorflow() -> None:
    code = (
        "import sys; import recsys_core.models.registry, recsys_core.models.deep;"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    assert _run(code) == "False False"


def test_loaded_model_recommends_without_importing_tensorflow(
    checkerboard: Interactions, tmp_path: Path
) -> None:
    """Scoring is numpy on the saved arrays: serving a model never pays TF's import."""
    path = tmp_path / "neumf.npz"
    model = NeuMF(mlp_layers=[8], epochs=2, **TINY).fit(checkerboard)
    model.save(path)
    code = (
        "import sys; from recsys_core.models.registry import load_model_file;"
        f"m = load_model_file({str(path)!r}); r = m.recommend(['u00', 'u13'], 3);"
        "print(r['item_id'].tolist(), 'tensorflow' in sys.modules)"
    )
    expected = model.recommend(["u00", "u13"], 3)[Columns.item].tolist()
    assert _run(code) == f"{expected} False"


def test_progress_is_called_once_per_epoch_with_the_loss(checkerboard: Interactions) -> None:
    calls: list[tuple[int, int, str]] = []
    NeuMF(mlp_layers=[8], epochs=3, **TINY).fit(
        checkerboard, progress=lambda done, total, message="": calls.append((done, total, message))
    )
    assert [(d, t) for d, t, _ in calls] == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert calls[0][2] == "starting point"  # NeuMF's ALS start, before any epoch
    assert all(m.startswith(f"epoch {d}/3, loss ") for d, _, m in calls[1:])


def test_progress_reports_validation_ndcg_when_validating(random_data: Interactions) -> None:
    messages: list[str] = []
    TwoTower(**{**TINY, "validation_fraction": 0.2}, epochs=2, patience=5, refit=False).fit(
        random_data, progress=lambda d, t, message="": messages.append(message)
    )
    assert len(messages) == 2
    assert all("validation NDCG@10 " in m for m in messages)


def test_refit_trains_on_all_the_data_for_the_best_epoch_count(random_data: Interactions) -> None:
    """After early stopping the model is the one a fit without validation for best_epoch_
    epochs gives (the same seeds), and progress reports both runs' epochs."""
    messages: list[str] = []
    params = {**TINY, "validation_fraction": 0.2}
    model = TwoTower(**params, epochs=4, patience=5).fit(
        random_data, progress=lambda d, t, message="": messages.append(message)
    )
    assert len(model.history_) == 4 and 1 <= model.best_epoch_ <= 4
    assert len(messages) == 4 + model.best_epoch_
    assert "validation" not in messages[-1]
    plain = TwoTower(**{**params, "validation_fraction": 0.0}, epochs=model.best_epoch_)
    plain.fit(random_data)
    users = np.arange(random_data.n_users)
    np.testing.assert_allclose(model.score(users), plain.score(users), rtol=1e-5, atol=1e-6)


class Cancelled(Exception):
    """What a Cancel button's progress callback raises."""


def test_cancel_by_raising_from_progress_stops_and_leaves_model_unfitted(
    checkerboard: Interactions,
) -> None:
    calls: list[int] = []

    def progress(done: int, total: int, message: str = "") -> None:
        calls.append(done)
        if done == 2:
            raise Cancelled

    model = NeuMF(mlp_layers=[8], epochs=10, **TINY)
    with pytest.raises(Cancelled):
        model.fit(checkerboard, progress=progress)
    assert calls == [0, 1, 2]  # the ALS start (0), two epochs, and none after the cancel
    assert not model.fitted


def test_monitor_stops_after_patience_and_keeps_the_best_epochs_state() -> None:
    """Hand-computed: scores 0.1, 0.3, 0.2, 0.25 with patience 2 stop after epoch 4."""
    scores = iter([0.1, 0.3, 0.2, 0.25, 0.5])
    monitor = EpochMonitor(5, 2, None, lambda state: next(scores), "NDCG@10")
    for epoch in range(5):
        monitor.end_epoch(epoch, 1.0 / (epoch + 1), lambda e=epoch: {"w": np.array([e])})
        if monitor.stopped:
            break
    assert monitor.stopped and epoch == 3
    assert monitor.best_epoch == 1 and monitor.best_score == pytest.approx(0.3)
    assert monitor.best_state is not None and monitor.best_state["w"].tolist() == [1]
    np.testing.assert_allclose(monitor.history_array()[:, 2], [0.1, 0.3, 0.2, 0.25])


def test_the_start_is_kept_when_no_epoch_validates_better() -> None:
    """Hand-computed: the start scores 0.4, epochs 0.3, 0.35, 0.2; patience 3 stops after
    epoch 3 with the start (best epoch -1: no epoch trained) and its state kept."""
    scores = iter([0.4, 0.3, 0.35, 0.2, 0.9])
    messages: list[str] = []
    progress = lambda done, total, message="": messages.append(message)  # noqa: E731
    monitor = EpochMonitor(5, 3, progress, lambda state: next(scores), "NDCG@10")
    monitor.start(lambda: {"w": np.array([-1])})
    for epoch in range(5):
        monitor.end_epoch(epoch, 1.0, lambda e=epoch: {"w": np.array([e])})
        if monitor.stopped:
            break
    assert monitor.stopped and epoch == 2
    assert monitor.best_epoch == -1 and monitor.best_state is not None
    assert monitor.best_state["w"].tolist() == [-1]
    np.testing.assert_allclose(monitor.history_array()[:, 0], [0, 1, 2, 3])
    assert np.isnan(monitor.history_array()[0, 1])  # no loss before training
    assert messages[0] == "starting point, validation NDCG@10 0.4000"
    assert messages[-1].endswith("(stopped: best was the starting point)")


def test_when_training_only_hurts_the_model_is_its_als_start(random_data: Interactions) -> None:
    """No epoch on structureless data validates better than NeuMF's ALS start (reg 10
    shrinks what training touches), so the model kept, after a refit of 0 epochs on all the
    data, scores as ALS fitted on all of it, times the start weight."""
    params = {**TINY, "learning_rate": 0.1, "reg": 10.0, "validation_fraction": 0.2}
    model = NeuMF(mlp_layers=[8], epochs=3, **params).fit(random_data)
    assert model.best_epoch_ == 0
    assert model.history_[0, 2] > np.nanmax(model.history_[1:, 2])
    als = ALS(embedding_size=4, random_state=model.config.random_state).fit(random_data)
    users = np.arange(random_data.n_users)
    expected = PRETRAIN_SCALE * als.score(users) + model.predict_1_[0]
    np.testing.assert_allclose(model.score(users), expected, rtol=1e-5, atol=1e-5)


def test_early_stopping_stops_and_restores_the_best_epoch(random_data: Interactions) -> None:
    """Overfitting random data: validation NDCG peaks early, training stops, best weights kept.

    The restored model's NDCG on the same validation split equals the best recorded one,
    which a model holding the last epoch's weights would not (in general) match.
    """
    params = {**TINY, "embedding_size": 32, "learning_rate": 0.05, "validation_fraction": 0.2}
    params["refit"] = False  # keep the weights the validation NDCG was measured on
    model = NeuMF(mlp_layers=[32], epochs=30, patience=2, **params).fit(random_data)
    history = model.history_
    assert len(history) < 30  # stopped early
    best = int(np.nanargmax(history[:, 2]))  # row 0 is the ALS start, epoch 0
    assert history[:, 0].tolist() == list(range(len(history)))
    assert model.best_epoch_ == best
    assert len(history) == best + 1 + 2  # patience epochs after the best, then stop
    _, holdout = carve_validation(random_data, 0.2, 10, model.config.random_state)
    assert holdout is not None
    assert holdout.ndcg(model.score) == pytest.approx(history[best, 2], abs=1e-6)
    assert history[-1, 2] < history[best, 2]


def test_validation_fraction_on_too_little_data_says_how_to_fix() -> None:
    """Users with a single pair stay in train, so two such users leave no validation data."""
    frame = pd.DataFrame({Columns.user: ["a", "b"], Columns.item: ["x", "y"]})
    with pytest.raises(InputError, match="validation_fraction"):
        NeuMF(validation_fraction=0.2).fit(Interactions.from_frame(frame))


def test_a_different_seed_gives_different_weights(checkerboard: Interactions) -> None:
    a = NeuMF(mlp_layers=[8], epochs=1, random_state=1, **TINY).fit(checkerboard)
    b = NeuMF(mlp_layers=[8], epochs=1, random_state=2, **TINY).fit(checkerboard)
    assert not np.array_equal(a.gmf_user_0_, b.gmf_user_0_)
