"""Per-recommendation reasons: additivity, sentences with titles, popularity, random, bad ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.data.synth import generate, to_interactions
from recsys_core.errors import InputError
from recsys_core.explain import explain, item_names
from recsys_core.models.hybrid import Hybrid
from recsys_core.models.registry import make_model

TITLES = {"i1": "Toy Story (1995)", "i2": "Jumanji (1995)", "i3": "Heat (1995)", "i4": "Casino"}


@pytest.fixture(scope="module")
def synth() -> Interactions:
    return to_interactions(generate(120, 80, 2000, seed=11))


@pytest.fixture(scope="module")
def movies() -> Interactions:
    """u1 rated Toy Story and Jumanji; the others who did also rated Heat, so Heat follows."""
    rows = [
        ("u1", "i1", 5.0), ("u1", "i2", 4.0),
        ("u2", "i1", 5.0), ("u2", "i2", 5.0), ("u2", "i3", 4.0),
        ("u3", "i1", 4.0), ("u3", "i3", 5.0), ("u3", "i4", 2.0),
        ("u4", "i2", 3.0), ("u4", "i3", 4.0), ("u4", "i4", 5.0),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=[Columns.user, Columns.item, Columns.rating])
    items = pd.DataFrame({"title": TITLES}).rename_axis(Columns.item)
    return Interactions.from_frame(frame, item_features=items)


@pytest.mark.parametrize("name", ["ease", "item_knn", "als", "content"])
def test_contributions_add_up_to_the_score_for_additive_models(
    name: str, synth: Interactions
) -> None:
    params = {"text_dim": 8} if name == "content" else {}
    model = make_model(name, params).fit(synth)
    recs = model.recommend(synth.user_ids[:6], 3)
    for user, item in zip(recs[Columns.user], recs[Columns.item], strict=True):
        expl = explain(model, synth, user, item)
        assert expl.kind == "history"
        total = expl.contributions["value"].sum() + expl.residual
        assert total == pytest.approx(expl.score, abs=1e-6)
        assert expl.residual == pytest.approx(0.0, abs=1e-4 * max(1.0, abs(expl.score)))
        sizes = expl.contributions["value"].abs().to_numpy()
        assert (np.diff(sizes) <= 0).all()


def test_sentence_names_history_titles_strongest_first(movies: Interactions) -> None:
    model = make_model("item_knn", {}).fit(movies)
    expl = explain(model, movies, "u1", "i3", n=2)
    assert set(expl.contributions["name"]) == {"Toy Story (1995)", "Jumanji (1995)"}
    first, second = expl.contributions["name"].tolist()
    assert expl.sentence == f"Because you rated *{first}* and *{second}* highly."
    assert expl.plain_sentence == f"Because you rated {first} and {second} highly."


def test_sentence_falls_back_to_ids_without_a_title_column(movies: Interactions) -> None:
    frame = movies.to_frame()
    implicit = Interactions.from_frame(frame.drop(columns=[Columns.rating]))
    model = make_model("item_knn", {}).fit(implicit)
    expl = explain(model, implicit, "u1", "i3", n=1)
    assert expl.sentence.startswith("Because you interacted with *i")
    assert item_names(implicit, ["i1", "zz"]) == ["i1", "zz"]


def test_content_sentence_adds_matching_features(synth: Interactions) -> None:
    model = make_model("content", {"text_dim": 8}).fit(synth)
    item = model.recommend([synth.user_ids[0]], 1)[Columns.item].iloc[0]
    expl = explain(model, synth, synth.user_ids[0], item)
    assert "It matches your interest in *" in expl.sentence


def test_most_popular_reason_is_the_items_popularity_percentile(movies: Interactions) -> None:
    model = make_model("most_popular", {}).fit(movies)
    # counts: i1 3, i2 3, i3 3, i4 2 -> i4 is 4th of 4 (top 100%), i1 ties for 1st (top 75%)
    expl = explain(model, movies, "u1", "i4")
    assert expl.kind == "none"
    assert expl.sentence == "Popular with everyone: in the top 100% of items."
    assert explain(model, movies, "u4", "i1").sentence.endswith("top 75% of items.")
    assert expl.contributions["value"].sum() + expl.residual == pytest.approx(expl.score)


def test_random_gives_no_reason_and_keeps_the_score_as_residual(movies: Interactions) -> None:
    model = make_model("random", {}).fit(movies)
    expl = explain(model, movies, "u1", "i4")
    assert expl.kind == "none" and expl.contributions.empty
    assert expl.residual == expl.score
    assert "random" in expl.sentence


def test_hybrid_residual_is_its_normalisation_offset(synth: Interactions) -> None:
    parts = [make_model(n, {}).fit(synth) for n in ("item_knn", "ease")]
    hybrid = Hybrid.from_fitted(parts, [0.6, 0.4])
    user, item = synth.user_ids[3], synth.item_ids[7]
    expl = explain(hybrid, synth, user, item)
    (u,), (i,) = synth.user_index([user]), synth.item_index([item])
    assert expl.residual == pytest.approx(hybrid.score_offset(int(u), int(i)), abs=1e-5)


@pytest.mark.parametrize(
    ("user", "item", "named"), [("nobody", "i1", "nobody"), ("u1", "i9", "i9")]
)
def test_unknown_user_or_item_raises_naming_it(
    movies: Interactions, user: str, item: str, named: str
) -> None:
    model = make_model("item_knn", {}).fit(movies)
    with pytest.raises(InputError, match=named):
        explain(model, movies, user, item)
