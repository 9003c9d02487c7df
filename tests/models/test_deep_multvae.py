"""Mult-VAE: numpy scoring is the decoder at the encoder's mean, from the user's full row."""

from __future__ import annotations

import numpy as np

from recsys_core.data.synth import generate, to_interactions
from recsys_core.models.deep.multvae import MultVAE


def _forward(model: MultVAE, rows: np.ndarray) -> np.ndarray:
    s = {k: v.astype(np.float64) for k, v in model._state().items()}
    x = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-300)
    mu = (np.tanh(x @ s["enc_0"] + s["enc_1"]) @ s["enc_out_0"] + s["enc_out_1"])[:, :8]
    return np.tanh(mu @ s["dec_0"] + s["dec_1"]) @ s["dec_out_0"] + s["dec_out_1"]


def test_scores_fold_in_the_full_training_row_and_training_rows_are_forgotten() -> None:
    train = to_interactions(generate(60, 40, 900, seed=2))
    model = MultVAE(embedding_size=8, hidden_size=16, epochs=4, batch_size=16).fit(train)
    assert "_fold_in" not in vars(model)  # the validation-side rows are not kept
    assert 1 <= model.best_epoch_ <= 4
    rows = train.matrix.toarray()
    rows[rows != 0] = 1.0
    users = np.array([0, 13, 59])
    np.testing.assert_allclose(
        model.score(users), _forward(model, rows[users]), rtol=1e-5, atol=1e-5
    )


def test_a_higher_kl_weight_trains_a_different_model() -> None:
    train = to_interactions(generate(60, 40, 900, seed=2))
    params = {"embedding_size": 8, "hidden_size": 16, "epochs": 3, "validation_fraction": 0.0}
    low = MultVAE(beta=0.0, **params).fit(train).score(np.arange(5))
    high = MultVAE(beta=1.0, **params).fit(train).score(np.arange(5))
    assert not np.allclose(low, high)


def test_annealing_starts_the_kl_weight_at_zero() -> None:
    """Annealed over far more epochs than run, the KL weight stays near 0: the model lands
    next to the beta = 0 one, not the one with the full weight from the first step."""
    train = to_interactions(generate(60, 40, 900, seed=2))
    params = {"embedding_size": 8, "hidden_size": 16, "epochs": 3, "validation_fraction": 0.0}
    users = np.arange(5)
    zero = MultVAE(beta=0.0, anneal_epochs=0, **params).fit(train).score(users)
    fixed = MultVAE(beta=1.0, anneal_epochs=0, **params).fit(train).score(users)
    slow = MultVAE(beta=1.0, anneal_epochs=1000, **params).fit(train).score(users)
    assert np.abs(slow - zero).max() < 0.1 * np.abs(fixed - zero).max()
