"""The vectorised explain_many says exactly what the scalar reference says, for every family.

Stored reasons come from the batched path; the per-pair reference (``explain_one``, built on
each family's ``explain_parts``, ``modality_shares``, ``score_parts``, ...) is what those
reasons have always meant. Same sentences, same parts to 1e-9, same residuals.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.data.synth import generate, to_interactions
from recsys_core.explain import explain_many, item_names
from recsys_core.models import knn, user_knn
from recsys_core.models.base import Recommender
from recsys_core.models.explanation import catalogue_names
from recsys_core.models.registry import REGISTRY, make_model

#: Small but real fits; BPR on one thread (its Hogwild SGD is not reproducible otherwise).
PARAMS: dict[str, dict[str, Any]] = {
    "neumf": {"epochs": 2},
    "two_tower": {"epochs": 2},
    "fusion": {"epochs": 2},
    "multvae": {"epochs": 2},
    "ranker": {"generators": ["item_knn", "most_popular"], "n_estimators": 20},
    "bpr": {"num_threads": 1},
}
#: More variants where the vectorised path branches: confidence-weighted ALS (one system
#: per user), blends that explain by history, unbinarised or few neighbours. (A blend whose
#: component scores users by a dense float32 product, e.g. content, agrees to float32
#: rounding only: BLAS may round one user's row differently from a batch's.)
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("als", {"alpha": 2.0, "binarize": False}),
    ("hybrid", {"components": ["item_knn:0.7", "ease:0.3"]}),
    ("hybrid", {"components": ["item_knn", "ease"], "normalisation": "zscore"}),
    ("user_knn", {"binarize": False, "similarity": "jaccard"}),
    ("user_knn", {"n_neighbors": 5}),  # many users per neighbour: element-wise takes
    ("content", {"weighting": "centered"}),
]


@pytest.fixture(scope="module")
def synth() -> Interactions:
    """Explicit ratings with titles (some shared, so names get numbered) and categories."""
    base = to_interactions(generate(120, 70, 2400, seed=7))
    table = base.item_features
    assert table is not None
    titles = table["title"].astype(str).tolist()
    titles[1] = titles[0]  # two items with one title: the chart must tell them apart
    return replace(base, item_features=table.assign(title=titles))


def _pairs(model: Recommender, n_users: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Each user's top 4, plus arbitrary pairs (seen items and low scores included)."""
    top, _ = model.topk(np.arange(n_users), 4)
    users = np.repeat(np.arange(n_users), 4)
    keep = top.ravel() >= 0
    extra_u = np.arange(15)
    extra_i = (np.arange(15) * 11) % model.n_items
    return (
        np.concatenate([users[keep], extra_u]),
        np.concatenate([top.ravel()[keep], extra_i]),
    )


def _assert_same_as_reference(model: Recommender, train: Interactions) -> None:
    users, items = _pairs(model)
    names = catalogue_names(train, model.train_.item_ids)
    batch = model.explain_many(users, items, names)
    assert len(batch) == len(users)
    for u, i, got in zip(users, items, batch, strict=True):
        ref = model.explain_one(int(u), int(i), names)
        assert (got.user_id, got.item_id, got.kind) == (ref.user_id, ref.item_id, ref.kind)
        assert got.sentence == ref.sentence
        assert got.names == ref.names
        np.testing.assert_allclose(got.values, ref.values, rtol=0, atol=1e-9)
        assert got.score == pytest.approx(ref.score, abs=1e-9)
        assert got.residual == pytest.approx(ref.residual, abs=1e-9)
        assert got.values.sum() + got.residual == pytest.approx(got.score, abs=1e-9)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_batched_reasons_equal_the_scalar_reference(name: str, synth: Interactions) -> None:
    model = make_model(name, PARAMS.get(name, {})).fit(synth)
    _assert_same_as_reference(model, synth)


@pytest.mark.parametrize(("name", "params"), VARIANTS)
def test_batched_reasons_equal_the_reference_for_variants(
    name: str, params: dict[str, Any], synth: Interactions
) -> None:
    model = make_model(name, params).fit(synth)
    _assert_same_as_reference(model, synth)


def test_user_knn_sparse_path_equals_the_reference(
    synth: Interactions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Catalogues too large for a dense user x item copy take sparse products instead."""
    monkeypatch.setattr(user_knn, "BLOCK_BYTES", 1)
    monkeypatch.setattr(knn, "BLOCK_BYTES", 1)  # and gather's blocks of one row
    _assert_same_as_reference(make_model("user_knn").fit(synth), synth)


def test_pair_scores_are_the_model_scores(synth: Interactions) -> None:
    for name in ("ease", "als", "content", "item_knn", "hybrid", "bias"):
        model = make_model(name, PARAMS.get(name, {})).fit(synth)
        users, items = _pairs(model, 10)
        full = model.score(users)[np.arange(len(users)), items]
        np.testing.assert_allclose(model.score_pairs(users, items), full, rtol=1e-5, atol=1e-6)


def test_repeated_titles_are_numbered_in_the_contributions(synth: Interactions) -> None:
    """Items 0 and 1 share a title: a user who saw both sees "title" and "title (2)"."""
    model = make_model("item_knn").fit(synth)
    m = model.train_.matrix
    both = np.flatnonzero((m[:, [0]].toarray() > 0).ravel() & (m[:, [1]].toarray() > 0).ravel())
    assert len(both), "the fixture needs a user who saw both items"
    target = int(np.argmax(model.score(both[:1])[0]))
    names = catalogue_names(synth, model.train_.item_ids)
    (got,) = model.explain_many(both[:1], np.array([target]), names)
    title = str(names[0])
    assert {title, f"{title} (2)"} <= set(got.names)
    assert model.explain_one(int(both[0]), target, names).names == got.names


def test_a_pipe_in_a_title_reads_as_text_not_a_list() -> None:
    """Issue 11: a title with "|" is inferred as multi-valued; names must stay strings."""
    frame = pd.DataFrame(
        {Columns.user: ["a", "a", "b", "b", "c"], Columns.item: ["x", "y", "x", "z", "y"]}
    )
    items = pd.DataFrame(
        {"title": [["Dune", "Part One"], "Heat", np.nan]}, index=pd.Index(["x", "y", "z"])
    ).rename_axis(Columns.item)
    train = Interactions.from_frame(frame, item_features=items)
    assert item_names(train, ["x", "y", "z"]) == ["Dune | Part One", "Heat", "z"]
    model = make_model("item_knn").fit(train)
    (expl,) = explain_many(model, train, ["a"], ["z"])
    assert expl is not None and "Dune | Part One" in expl.sentence
