"""On MovieLens latest-small, NeuMF and the two-tower model near ALS."""

from __future__ import annotations

import pytest

from recsys_core.data.interactions import Interactions
from recsys_core.data.samples import load_movielens_small
from recsys_core.evaluation import evaluate
from recsys_core.models import make_model
from recsys_core.splitting import RandomHoldout, Split, split

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@pytest.fixture(scope="module")
def movielens() -> Split:
    """Ratings with the movie table (title, genres, tags); 20% of each user's pairs held
    out at random with seed 42; every held-out rating counts as relevant."""
    data = load_movielens_small()
    inter = Interactions.from_frame(
        data.interactions, item_features=data.items, feedback=data.feedback
    )
    return split(inter, RandomHoldout(test_fraction=0.2), 42)


#: name -> (baseline, lowest NDCG@10 as a share of it, margin added). Measured with the
#: defaults on this split: two_tower .343-.347 vs ALS .350; NeuMF .3504, ALS's own score:
#: its fine-tuning from the ALS start validated no better than the start (.1600 vs .1607),
#: so early stopping kept the start. Its bar leaves room for a fit that keeps epoch 1
#: (on carved validation sides that cost up to 1.4%). Before the start became a candidate
#: NeuMF scored .326-.340, before the grouped softmax and the ALS start .260.
BARS = {"two_tower": ("als", 0.95, 0.0), "neumf": ("als", 0.98, 0.0)}


@pytest.mark.parametrize("name", ["neumf", "two_tower"])
def test_deep_model_with_default_settings_beats_its_bar(movielens: Split, name: str) -> None:
    """Defaults as the Train page offers them: early stopping on a 10% validation split."""
    baseline, share, margin = BARS[name]
    models = {
        "most_popular": make_model("most_popular", {}).fit(movielens.train),
        baseline: make_model(baseline, {}).fit(movielens.train),
        name: make_model(name, {}).fit(movielens.train),
    }
    ndcg = evaluate(models, movielens, ks=(10,)).wide().loc["NDCG@10"]
    print(f"NDCG@10: {name} {ndcg[name]:.4f} vs {baseline} {ndcg[baseline]:.4f}")
    assert ndcg["most_popular"] > 0.15  # the split is sane: popularity is a real baseline
    assert ndcg[name] > share * ndcg[baseline] + margin
