"""Every registered model passes the same contract tests (a new model gets them for free)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.models import REGISTRY, NotFittedError, Recommender
from recsys_core.models.explanation import catalogue_names
from recsys_core.models.registry import load_model_file

#: Shared by the deep models on the toy matrix: a larger step, small batches, and no
#: early-stopping split (168 interactions leave too little to validate on).
_DEEP: dict[str, Any] = {
    "learning_rate": 0.01,
    "batch_size": 32,
    "validation_fraction": 0.0,
}

#: Parameters for the contract tests where a default does not suit a 24 x 20 toy matrix.
#: BPR's multi-threaded SGD (Hogwild) is not reproducible, so it runs on one thread, and its
#: default step is too small for 100 epochs over 168 interactions. ALS's default penalty and
#: size are for MovieLens-sized data and would flatten or overfit a toy model. (ALS itself is
#: reproducible on all threads: see test_implicit_mf.py.)
TEST_PARAMS: dict[str, dict[str, Any]] = {
    "bpr": {"num_threads": 1, "learning_rate": 0.05},
    "als": {"reg": 0.1, "embedding_size": 4},
    # A blend of an explaining, personalised model and a non-explaining, global one.
    "hybrid": {"components": ["most_popular:0.2", "item_knn:1"]},
    # Deep models: tiny vectors and few epochs (a second per fit), no early-stopping split.
    "neumf": {"embedding_size": 4, "mlp_layers": [8], "epochs": 6, **_DEEP, "batch_size": 64},
    # two_tower with the item table, as before its default turned it off (ids alone at 4
    # dims do not split the board in a few epochs)
    "two_tower": {
        "embedding_size": 4,
        "tower_layers": [8],
        "text_dim": 4,
        "epochs": 8,
        "use_item_features": True,
        **_DEEP,
    },
    "fusion": {"embedding_size": 4, "tower_layers": [8], "text_dim": 4, "epochs": 8, **_DEEP},
    # Mult-VAE: a small autoencoder trained long enough to find the two groups.
    "multvae": {
        "embedding_size": 4,
        "hidden_size": 16,
        "epochs": 60,
        "dropout": 0.2,
        **_DEEP,
        "batch_size": 8,
    },
    # Three candidates per user (the checkerboard's unseen own-group items) and a tiny ranker.
    "ranker": {
        "generators": ["item_knn"],
        "n_candidates": 3,
        "n_estimators": 5,
        "num_leaves": 4,
        "min_child_samples": 1,
    },
}


@pytest.fixture(scope="module")
def fitted_cache() -> dict[str, Recommender]:
    return {}


@pytest.mark.parametrize("name", sorted(REGISTRY))
class TestRecommenderContract:
    """The contract of DESIGN.md "Recommender", checked for one registry entry at a time."""

    K: ClassVar[int] = 3

    def make(self, name: str) -> Recommender:
        return REGISTRY[name](**TEST_PARAMS.get(name, {}))

    @pytest.fixture
    def model(self, name: str, board: Any, fitted_cache: dict[str, Recommender]) -> Recommender:
        """The model fitted once per module on the checkerboard (tests must not refit it)."""
        if name not in fitted_cache:
            fitted_cache[name] = self.make(name).fit(board.interactions)
        return fitted_cache[name]

    def test_config_round_trips_through_json(self, name: str) -> None:
        model = self.make(name)
        again = model.config_class.model_validate_json(model.config.model_dump_json())
        assert again == model.config
        assert type(REGISTRY[name](again).config) is model.config_class

    def test_config_schema_documents_every_field(self, name: str) -> None:
        schema = REGISTRY[name].config_class.model_json_schema()
        assert "random_state" in schema["properties"]
        undocumented = [f for f, s in schema["properties"].items() if not s.get("description")]
        assert undocumented == []
        assert schema.get("additionalProperties") is False

    def test_registry_key_matches_name(self, name: str) -> None:
        assert REGISTRY[name].name == name

    def test_fit_returns_self(self, name: str, checkerboard: Interactions) -> None:
        model = self.make(name)
        assert not model.fitted
        assert model.fit(checkerboard) is model
        assert model.fitted
        assert (model.n_users, model.n_items) == (checkerboard.n_users, checkerboard.n_items)

    def test_unfitted_model_raises_not_fitted(self, name: str) -> None:
        with pytest.raises(NotFittedError, match="fit"):
            self.make(name).recommend(["u00"], 3)

    def test_refit_gives_same_recommendations(self, name: str, checkerboard: Interactions) -> None:
        first = self.make(name).fit(checkerboard).recommend(checkerboard.user_ids, self.K)
        second = self.make(name).fit(checkerboard).recommend(checkerboard.user_ids, self.K)
        pd.testing.assert_frame_equal(first, second)

    def test_save_load_gives_identical_recommendations(
        self, model: Recommender, tmp_path: Path
    ) -> None:
        path = tmp_path / f"{model.name}.npz"
        model.save(path)
        loaded = load_model_file(path)
        assert type(loaded) is type(model)
        assert loaded.config == model.config
        users = model.train_.user_ids
        pd.testing.assert_frame_equal(loaded.recommend(users, 5), model.recommend(users, 5))
        np.testing.assert_array_equal(loaded.score(np.arange(4)), model.score(np.arange(4)))

    def test_score_shape_dtype_and_item_subset(self, model: Recommender) -> None:
        full = model.score(np.array([0, 5, 13]))
        assert full.shape == (3, model.n_items)
        assert full.dtype == np.float32
        cols = np.array([7, 2, 19])
        np.testing.assert_allclose(
            model.score(np.array([0, 5, 13]), cols), full[:, cols], rtol=1e-5
        )

    def test_unknown_users_raise_input_error_naming_them(self, model: Recommender) -> None:
        with pytest.raises(InputError, match="nobody"):
            model.recommend(["u00", "nobody"], 3)

    def test_k_below_one_raises_input_error(self, model: Recommender) -> None:
        with pytest.raises(InputError, match="k"):
            model.recommend(["u00"], 0)

    def test_k_larger_than_catalogue_returns_only_the_unseen_items(
        self, model: Recommender
    ) -> None:
        train = model.train_
        recs = model.recommend(["u03"], train.n_items + 10)
        seen = set(train.item_ids[train.items[train.users == train.user_index(["u03"])[0]]])
        assert set(recs[Columns.item]) == set(train.item_ids) - seen
        assert len(recs) == train.n_items - len(seen)

    def test_exclude_seen_never_returns_a_training_item(self, model: Recommender) -> None:
        train = model.train_
        recs = model.recommend(train.user_ids, 5)
        pairs = set(zip(recs[Columns.user], recs[Columns.item], strict=True))
        seen = set(zip(train.user_ids[train.users], train.item_ids[train.items], strict=True))
        assert pairs.isdisjoint(seen)

    def test_include_seen_can_rank_every_item(self, model: Recommender) -> None:
        recs = model.recommend(["u00"], model.n_items, exclude_seen=False)
        assert sorted(recs[Columns.item]) == sorted(model.train_.item_ids)

    def test_recommend_columns_ranks_and_order(self, model: Recommender) -> None:
        recs = model.recommend(["u01", "u20"], self.K)
        assert list(recs.columns) == [Columns.user, Columns.item, Columns.score, Columns.rank]
        assert recs[Columns.user].tolist() == ["u01"] * self.K + ["u20"] * self.K
        assert recs[Columns.rank].tolist() == [1, 2, 3, 1, 2, 3]
        for _, group in recs.groupby(Columns.user):
            assert group[Columns.score].is_monotonic_decreasing

    def test_checkerboard_personalised_models_stay_in_the_users_group(
        self, model: Recommender, board: Any
    ) -> None:
        """Personalised: every pick from the user's own group; the others: a mix of both."""
        recs = model.recommend(board.interactions.user_ids, board.unseen_per_user)
        assert len(recs) == board.interactions.n_users * board.unseen_per_user
        hit_rate = board.own_group(recs[Columns.user], recs[Columns.item]).mean()
        if model.personalized:
            assert hit_rate == 1.0
        else:
            assert 0.0 < hit_rate < 1.0

    def test_explanations_add_up_to_the_score(self, model: Recommender) -> None:
        if not model.explains:
            with pytest.raises(InputError, match="cannot explain"):
                model.explain_parts(0, 0)
            return
        for user, item in [(0, 0), (0, 3), (5, 12), (20, 15)]:
            history, parts = model.explain_parts(user, item)
            seen = model.train_.matrix[user].indices
            assert set(history) <= set(seen)
            if model.approximate_explanations:  # the part the history carries, not all of it
                continue
            assert parts.sum() == pytest.approx(model.score(np.array([user]))[0, item], abs=1e-5)

    def test_explain_many_adds_up_and_says_what_explain_one_says(self, model: Recommender) -> None:
        """Every family explains a batch through the contract: one explanation per pair,
        contributions + residual = the pair's score, the same as the scalar reference."""
        assert_explains_through_the_contract(model)

    def test_capabilities_are_declared_not_probed(self, model: Recommender) -> None:
        caps = model.capabilities
        assert caps.history_reasons == bool(model.explains)
        assert caps.cold_items == bool(model.supports_cold_items)
        if caps.item_vectors:
            assert model.item_vectors().shape[0] == model.n_items
        else:
            with pytest.raises(InputError):
                model.item_vectors()
        if not caps.feature_groups:
            with pytest.raises(InputError, match="nothing to shuffle"):
                model.permutable(model.train_)
        assert bool(model.candidate_models()) == caps.candidate_models
        if caps.candidate_models:  # every feature the model ranks by says what it means
            columns = set(model.feature_rows(np.arange(3)).columns)
            assert columns and columns <= set(model.feature_descriptions())
        else:
            assert model.feature_descriptions() == {}

    def test_fit_rejects_one_user_or_empty_data(self, name: str) -> None:
        one_user = Interactions.from_frame(
            pd.DataFrame({Columns.user: ["a", "a"], Columns.item: ["x", "y"]})
        )
        with pytest.raises(InputError, match="1 user"):
            self.make(name).fit(one_user)
        with pytest.raises(InputError, match="no interactions"):
            self.make(name).fit(one_user.subset(np.zeros(2, dtype=bool)))

    def test_unknown_parameter_is_a_validation_error(self, name: str) -> None:
        with pytest.raises(ValueError, match="extra"):
            REGISTRY[name](not_a_parameter=1)


def assert_explains_through_the_contract(model: Recommender) -> None:
    """The explain_many / explain_one / additivity checks every model passes."""
    top, _ = model.topk(np.arange(model.n_users), 3)
    users = np.repeat(np.arange(model.n_users), 3)[top.ravel() >= 0]
    items = top.ravel()[top.ravel() >= 0]
    names = catalogue_names(model.train_, model.train_.item_ids)
    found = model.explain_many(users, items, names)
    assert len(found) == len(users)
    scores = model.score(users)[np.arange(len(users)), items]
    for u, i, expl, score in zip(users, items, found, scores, strict=True):
        assert (expl.user_id, expl.item_id) == (model.train_.user_ids[u], model.train_.item_ids[i])
        assert expl.values.sum() + expl.residual == pytest.approx(expl.score, abs=1e-9)
        assert expl.score == pytest.approx(float(score), rel=1e-5, abs=1e-5)
        assert expl.sentence
    for at in range(0, len(users), 7):  # the scalar reference on a sample of the pairs
        ref = model.explain_one(int(users[at]), int(items[at]), names)
        assert ref.sentence == found[at].sentence and ref.names == found[at].names
        np.testing.assert_allclose(ref.values, found[at].values, rtol=0, atol=1e-9)
        assert ref.residual == pytest.approx(found[at].residual, abs=1e-9)
