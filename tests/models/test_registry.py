"""make_model: valid models build, and every kind of bad input names its fix."""

from __future__ import annotations

import pytest

from recsys_core.errors import InputError
from recsys_core.models import EASE, REGISTRY, make_model


def test_make_model_builds_the_registered_class_with_params() -> None:
    model = make_model("ease", {"reg": 10.0})
    assert isinstance(model, EASE)
    assert model.config.reg == 10.0
    assert not model.fitted


def test_every_registered_model_builds_with_defaults() -> None:
    for name, cls in REGISTRY.items():
        assert type(make_model(name, {})) is cls


def test_unknown_model_lists_the_valid_names() -> None:
    with pytest.raises(InputError, match=r"Unknown model .eeese.*item_knn.*ease.*als"):
        make_model("eeese", {})


def test_unknown_parameter_lists_the_valid_parameters() -> None:
    with pytest.raises(InputError, match=r"unknown parameter 'lambda'.*binarize.*reg"):
        make_model("ease", {"lambda": 3})


def test_out_of_range_value_names_the_bound_and_the_value() -> None:
    with pytest.raises(InputError, match=r"reg: Input should be greater than 0 \(got -1\)"):
        make_model("ease", {"reg": -1})
    with pytest.raises(InputError, match=r"n_neighbors: .*greater than or equal to 1"):
        make_model("item_knn", {"n_neighbors": 0})


def test_bad_choice_lists_the_allowed_literals() -> None:
    with pytest.raises(InputError, match=r"similarity: .*'cosine', 'jaccard'"):
        make_model("item_knn", {"similarity": "pearson"})


def test_several_problems_are_all_reported() -> None:
    with pytest.raises(InputError) as info:
        make_model("als", {"epochs": 0, "factors": 8})
    assert "epochs" in str(info.value) and "'factors'" in str(info.value)
