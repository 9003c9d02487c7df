"""Hyper-parameter search: spaces from config schemas, bad inputs, tune(), the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from db import Store
from db.runs import RunRepository
from recsys_core import tuning
from recsys_core.cli import main
from recsys_core.data.samples import synthetic
from recsys_core.errors import InputError
from recsys_core.jobs.datasets import import_dataset, load_interactions
from recsys_core.models.registry import REGISTRY
from recsys_core.splitting import RandomHoldout, split
from recsys_core.tuning import (
    optuna_storage_url,
    parse_tune_spec,
    search_space,
    space_table,
    table_overrides,
    trials_frame,
    tune,
    tuning_split,
)
from recsys_core.tuning_space import _default_distribution


@pytest.fixture
def syn(sqlite_store: Store) -> Store:
    import_dataset(sqlite_store, "syn", synthetic(200, 100, 4000, seed=3))
    return sqlite_store


def spec(**kw):
    return parse_tune_spec({"dataset": "syn", "model": "ease", "n_trials": 4, **kw})


# ---------------------------------------------------------------------- search spaces
def test_item_knn_space_priors_first_then_schema_bounds_enums_and_booleans() -> None:
    space = search_space("item_knn")
    assert space["n_neighbors"] == IntDistribution(5, 1000, log=True)  # prior, not 1..10000
    assert space["shrinkage"] == FloatDistribution(0.0, 500.0)  # prior: linear, 0 included
    assert space["alpha"] == FloatDistribution(0.0, 1.0, log=False)  # no prior: [0, 1] linear
    assert set(space["similarity"].choices) == {"cosine", "jaccard", "asymmetric_cosine"}  # type: ignore[attr-defined]
    assert space["binarize"] == CategoricalDistribution([False, True])
    assert "random_state" not in space


def test_ease_space_is_its_declared_prior_log_uniform_10_to_1e4() -> None:
    space = search_space("ease")
    assert set(space) == {"reg", "binarize"}  # num_threads and unbounded max_memory_gb left out
    assert space["reg"] == FloatDistribution(10.0, 1e4, log=True)


def test_als_space_from_priors_and_not_searched_fields_are_left_out() -> None:
    space = search_space("als")
    assert space["reg"] == FloatDistribution(0.01, 1e3, log=True)
    assert space["alpha"] == FloatDistribution(0.1, 100.0, log=True)
    assert space["embedding_size"] == IntDistribution(16, 256, log=True)
    assert space["epochs"] == IntDistribution(5, 50, log=True)
    assert "num_threads" not in space and "random_state" not in space
    assert "max_iter" not in search_space("slim")  # declared NOT_SEARCHED
    assert "batch_size" not in search_space("multvae") and "patience" not in search_space("neumf")


def test_every_default_inside_its_prior_for_every_family() -> None:
    """The auto search starts each family at its defaults: they must lie in the space."""
    for name in REGISTRY:
        try:
            space = search_space(name)
        except InputError:
            continue
        defaults = REGISTRY[name].config_class().model_dump()
        for param, dist in space.items():
            assert dist._contains(dist.to_internal_repr(defaults[param])), (name, param)


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "integer", "minimum": 1, "maximum": 10000}, IntDistribution(1, 10000, log=True)),
        ({"type": "number", "minimum": 0, "maximum": 1}, FloatDistribution(0.0, 1.0)),
        (
            {"type": "number", "exclusiveMinimum": 0, "maximum": 1e7, "default": 250.0},
            FloatDistribution(0.25, 1e7, log=True),  # gt=0: a floor of default / 1000
        ),
        ({"type": "integer", "minimum": 1}, None),  # unbounded: not searched
    ],
)
def test_schema_bounds_without_a_prior(schema: dict, expected: object) -> None:
    assert _default_distribution("x", schema) == expected


def test_overrides_narrow_replace_and_fixed_params_are_not_searched() -> None:
    space = search_space(
        "als",
        {"reg": {"low": 0.1, "high": 10, "log": True}, "epochs": {"choices": [5, 10]}},  # type: ignore[dict-item]
        {"alpha": 2.0},
    )
    assert space["reg"] == FloatDistribution(0.1, 10, log=True)
    assert space["epochs"] == CategoricalDistribution([5, 10])
    assert "alpha" not in space


def test_unbounded_field_is_searched_only_with_an_analyst_range() -> None:
    with pytest.raises(InputError, match="Impossible search space"):
        search_space("most_popular")
    space = search_space("most_popular", {"half_life_days": {"low": 1, "high": 365, "log": True}})  # type: ignore[dict-item]
    assert space == {"half_life_days": FloatDistribution(1, 365, log=True)}


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"colour": {"low": 1, "high": 2}}, "no parameter 'colour'"),
        ({"reg": {"low": 10, "high": 1}}, "low 10.0 > high 1.0"),
        ({"binarize": {"choices": []}}, "choices for 'binarize' are empty"),
        ({"reg": {"low": -1, "high": 1}}, "reg=-1.0 is refused"),
        ({"reg": {"low": 0, "high": 1, "log": True}}, "needs low > 0"),
    ],
)
def test_bad_overrides_are_impossible_search_spaces(overrides: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        spec(overrides=overrides)


def test_zero_trials_unknown_metric_and_nothing_left_to_search_are_refused() -> None:
    with pytest.raises(InputError, match="n_trials"):
        spec(n_trials=0)
    with pytest.raises(InputError, match="Unknown metric"):
        spec(metric="NDCG")
    with pytest.raises(InputError, match="Impossible search space"):
        spec(params={"reg": 100.0, "binarize": True})
    with pytest.raises(InputError, match="Impossible search space"):
        spec(model="random")


def test_space_table_round_trips_and_unticked_rows_are_fixed_at_default() -> None:
    table = space_table("item_knn")
    table.loc[table["param"] == "binarize", "search"] = False
    table.loc[table["param"] == "n_neighbors", ["low", "high"]] = [5.0, 50.0]
    overrides, fixed = table_overrides("item_knn", table)
    assert fixed == {"binarize": True}
    space = search_space("item_knn", overrides, fixed)
    assert space["n_neighbors"] == IntDistribution(5, 50, log=True)
    assert space["similarity"] == search_space("item_knn")["similarity"]
    assert "binarize" not in space


# ---------------------------------------------------------------------- tune()
def test_tune_best_params_within_bounds_and_best_is_max_of_trials(syn: Store) -> None:
    s = spec(model="item_knn", overrides={"n_neighbors": {"low": 5, "high": 60}})
    seen: list[tuple[int, int]] = []
    result = tune(syn, s, lambda d, t, m="": seen.append((d, t)))
    trials = result.trials
    assert len(trials) == 4 and (trials["state"] == "complete").all()
    assert result.best_value == pytest.approx(trials["value"].max())
    assert 5 <= result.best_params["n_neighbors"] <= 60
    assert 0.0 <= result.best_params["alpha"] <= 1.0
    assert trials["n_neighbors"].between(5, 60).all() and (trials["duration_s"] > 0).all()
    assert seen[-1] == (4, 4) and len(seen) == 5  # start, then once per trial
    assert set(result.param_importances) == set(search_space("item_knn"))
    assert sum(result.param_importances.values()) == pytest.approx(1.0)


def test_same_seed_same_trials_other_seed_other_trials(syn: Store) -> None:
    a, b = tune(syn, spec(seed=3)), tune(syn, spec(seed=3))
    c = tune(syn, spec(seed=4))
    cols = ["value", "reg", "binarize"]
    pd.testing.assert_frame_equal(a.trials[cols], b.trials[cols])
    assert a.best_params == b.best_params and a.param_importances == b.param_importances
    assert not np.allclose(a.trials["reg"], c.trials["reg"])


def test_timeout_stops_starting_trials_after_the_first(syn: Store) -> None:
    result = tune(syn, spec(n_trials=50, timeout_s=1e-9))
    assert len(result.trials) == 1 and result.best_value == result.trials["value"].iloc[0]


def test_stop_ends_the_search_and_each_trial_is_reported_as_it_ends(syn: Store) -> None:
    frames: list[pd.DataFrame] = []
    result = tune(syn, spec(n_trials=10), on_trial=frames.append, stop=lambda: len(frames) >= 2)
    assert result.cancelled and len(result.trials) == 2
    assert [len(f) for f in frames] == [1, 2]  # the table grows trial by trial
    assert (frames[-1]["state"] == "complete").all()
    assert result.best_value == pytest.approx(result.trials["value"].max())
    assert not tune(syn, spec(n_trials=2)).cancelled


def test_detail_reports_each_fit_inside_its_trial(syn: Store) -> None:
    seen: list[tuple[int, int, str]] = []
    tune(
        syn,
        spec(model="als", n_trials=2, params={"epochs": 3}),
        lambda d, t, m="": seen.append((d, t, m)),
        detail=True,
    )
    inside = [(d, m) for d, _, m in seen if ": epoch" in m]
    assert inside[:3] == [(0, f"trial 1/2: epoch {e}/3 ({e}/3)") for e in (1, 2, 3)]
    assert inside[-1] == (1, "trial 2/2: epoch 3/3 (3/3)")
    assert seen[-1][:2] == (2, 2) and "best" in seen[-1][2]


def test_stop_during_a_fit_abandons_it(syn: Store) -> None:
    asked: list[bool] = []

    def stop() -> bool:  # False before the trial starts, True at the fit's first progress
        asked.append(True)
        return len(asked) > 1

    frames: list[pd.DataFrame] = []
    with pytest.raises(InputError, match="cancelled before any trial completed"):
        tune(syn, spec(model="als", n_trials=3), stop=stop, on_trial=frames.append)
    (trial,) = frames[-1].to_dict("records")
    assert trial["state"] == "pruned" and trial["message"] == "cancelled"


def _codes(inter) -> set[int]:
    return set((inter.users.astype(np.int64) * inter.n_items + inter.items).tolist())


def test_trials_fit_and_score_on_train_only_never_the_test_side(syn: Store) -> None:
    s = spec(validation_fraction=0.25, seed=9)
    inter = load_interactions(syn, "syn")
    parts = tuning_split(inter, s)
    real = split(inter, RandomHoldout(), 9)  # what a run of the best config evaluates on
    assert len(parts.train) + len(parts.test) == len(real.train)
    assert _codes(parts.train) | _codes(parts.test) == _codes(real.train)
    assert not _codes(parts.test) & _codes(real.test)
    assert not _codes(parts.train) & _codes(real.test)
    result = tune(syn, s)
    assert (result.n_fit, result.n_validation) == (len(parts.train), len(parts.test))


def test_a_trial_whose_fit_is_refused_is_pruned_with_its_message(
    syn: Store, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    s = spec(model="content", n_trials=2, params={"categorical_columns": ["nope"]}, study="c")
    with pytest.raises(InputError, match=r"No trial completed.*nope"):
        tune(syn, s, storage_url=url)
    trials = optuna.load_study(study_name="c", storage=url).trials
    assert [t.state for t in trials] == [TrialState.PRUNED, TrialState.PRUNED]
    assert all("nope" in t.user_attrs["message"] for t in trials)
    assert trials_frame(trials)["state"].tolist() == ["pruned", "pruned"]


def test_a_trial_whose_fit_diverges_is_pruned_and_the_search_goes_on(
    syn: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # BPR at a high learning rate on ml-100k-like data: NaN factors, numba's ZeroDivisionError
    fits: list[int] = []
    real_make = tuning.make_model

    def make(name, params):
        model = real_make(name, params)
        fit = model.fit

        def diverging(train, **kw):
            fits.append(1)
            if len(fits) == 2:
                raise ZeroDivisionError("division by zero")
            return fit(train, **kw)

        model.fit = diverging
        return model

    monkeypatch.setattr(tuning, "make_model", make)
    result = tune(syn, spec(model="ease", n_trials=3))
    assert result.trials["state"].tolist() == ["complete", "pruned", "complete"]
    assert "diverged (ZeroDivisionError" in result.trials["message"].iloc[1]


def test_named_study_lives_in_its_own_sqlite_file_and_resumes(
    syn: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECSYS_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    url = optuna_storage_url(syn)
    assert url.endswith("home/optuna.db") and url != syn.url
    first = tune(syn, spec(study="s1", n_trials=2))
    second = tune(syn, spec(study="s1", n_trials=2))
    assert len(first.trials) == 2 and list(second.trials["number"]) == [0, 1, 2, 3]
    assert (tmp_path / "home" / "optuna.db").is_file()
    with pytest.raises(InputError, match="tunes"):
        tune(syn, spec(study="s1", model="item_knn", n_trials=1))
    monkeypatch.setenv("RECSYS_OPTUNA_URL", syn.url_with_password)
    with pytest.raises(InputError, match="must not point at the workbench database"):
        optuna_storage_url(syn)


# ---------------------------------------------------------------------- CLI
def test_cli_tune_with_ranges_choices_and_run_best_creates_a_done_run(
    syn: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["tune", "--db", syn.url_with_password, "--json", "--dataset", "syn", "--model", "als",
         "--trials", "3", "--range", "reg=0.1:100:log", "--range", "embedding_size=4:16",
         "--choices", "binarize=true,false", "--param", "epochs=3", "--param", "alpha=2",
         "--run-best"]
    )  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (
        0.1 <= out["best_params"]["reg"] <= 100 and 4 <= out["best_params"]["embedding_size"] <= 16
    )
    assert "epochs" not in out["best_params"] and out["n_trials"] == 3
    with syn.session() as s:
        run = RunRepository(s).get(out["run_id"])
    assert run is not None and run.status == "done"
    assert (
        run.spec["params"]["epochs"] == 3 and run.spec["params"]["reg"] == out["best_params"]["reg"]
    )
    assert not math.isnan(out["run_metrics"]["NDCG@10"])


def test_cli_bad_range_exits_2_with_a_message(syn: Store, capsys) -> None:
    args = ["tune", "--db", syn.url_with_password, "--dataset", "syn", "--model", "ease"]
    assert main([*args, "--trials", "2", "--range", "reg=5"]) == 2
    assert "LOW:HIGH" in capsys.readouterr().err
    assert main([*args, "--trials", "0"]) == 2
    assert "n_trials" in capsys.readouterr().err


def test_sqlite_workers_starting_together_on_a_new_study_file_all_succeed(
    syn: Store, tmp_path: Path
) -> None:
    """Optuna's first table setup races; the file lock beside optuna.db serialises it."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "RECSYS_HOME": str(tmp_path / "home")}
    env.pop("RECSYS_OPTUNA_URL", None)
    argv = ["-m", "recsys_core.cli", "tune", "--db", syn.url, "--dataset", "syn"]
    argv += ["--model", "ease", "--study", "together", "--trials", "2", "--json"]
    workers = [
        subprocess.Popen(
            [sys.executable, *argv, "--seed", str(seed)],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for seed in range(4)
    ]
    done = [w.communicate(timeout=180) for w in workers]
    assert [w.returncode for w in workers] == [0] * 4, [err[-1500:] for _, err in done]
    study = optuna.load_study(
        study_name="together", storage=f"sqlite:///{tmp_path / 'home' / 'optuna.db'}"
    )
    assert sorted(t.number for t in study.trials) == list(range(8))
