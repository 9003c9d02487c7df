"""Find the best model: families ranked on validation carved from train, runs on test, cancel."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import optuna
import pandas as pd
import pytest

from db import Store
from db.runs import RunRepository
from recsys_core.cli import main
from recsys_core.data.samples import synthetic
from recsys_core.errors import InputError
from recsys_core.jobs.datasets import import_dataset, load_interactions
from recsys_core.jobs.spec import split_for
from recsys_core.models.ranker import TwoStageRanker
from recsys_core.tuning import parse_tune_spec, tune, tuning_split
from recsys_core.tuning_auto import (
    CHEAP,
    _judge,
    beats_defaults,
    choose,
    cross_fitted,
    families_for,
    find_best,
    parse_auto_spec,
    weight_grid,
)
from recsys_core.tuning_auto._final import ranker_params
from recsys_core.tuning_auto._judge import folds, judge_final


@pytest.fixture
def syn(store: Store) -> Store:
    import_dataset(store, "syn", synthetic(200, 100, 4000, seed=3))
    return store


def auto(**kw):
    values = {"dataset": "syn", "budget_minutes": 0.2, "max_trials": 3, "top_n": 2,
              "search_share": 0.9, "families": ["item_knn", "ease", "rp3beta"], "judge_folds": 2,
              **kw}  # fmt: skip
    return parse_auto_spec(values)


def _pairs(inter) -> set[tuple[int, int]]:
    coo = inter.matrix.tocoo()
    users, items = inter.user_ids[coo.row], inter.item_ids[coo.col]
    return set(zip(users.tolist(), items.tolist(), strict=True))


def test_validation_side_is_carved_from_the_training_side_only(syn: Store) -> None:
    spec = auto()
    inter = load_interactions(syn, "syn")
    real = split_for(inter, spec.split, spec.seed)
    carved = tuning_split(inter, parse_tune_spec({"dataset": "syn", "model": "ease",
                                                  "n_trials": 1}))  # fmt: skip
    fit, validation, test = _pairs(carved.train), _pairs(carved.test), _pairs(real.test)
    assert validation and not validation & test and not fit & test and not fit & validation
    assert fit | validation == _pairs(real.train)  # every training pair, nothing else


def test_families_ranked_by_validation_and_the_top_ones_written_as_runs(syn: Store) -> None:
    result = find_best(syn, auto())
    fam = result.families
    assert list(fam["rank"]) == [1, 2, 3]
    assert list(fam["validation"]) == sorted(fam["validation"], reverse=True)
    assert set(fam["model"]) == {"item_knn", "ease", "rp3beta"} and (fam["trials"] >= 1).all()
    inter = load_interactions(syn, "syn")
    assert result.n_fit + result.n_validation == len(split_for(inter, auto().split, 42).train)
    runs = result.runs
    assert list(runs["kind"]) == ["model", "model", "blend", "ranker"]
    assert list(runs["model"][:2]) == list(fam["model"][:2])  # the two best families
    assert list(runs["validation"][:2]) == list(fam["validation"][:2])
    assert (runs["status"] == "done").all() and runs["test"].between(0, 1).all()
    assert result.overrun_s == pytest.approx(max(result.seconds - 12.0, 0.0))
    assert runs["validation"].notna().all()  # the ranker too: judged on validation
    assert runs["chosen"].sum() == 1
    assert runs.loc[runs["chosen"], "validation"].iloc[0] == runs["validation"].max()
    with syn.session() as s:
        stored = {r.id: r for r in RunRepository(s).all()}
    assert set(runs["run_id"]) == set(stored)
    first = stored[int(runs["run_id"][0])]
    assert first.spec["params"] == json.loads(fam["params"][0])  # the best trial's params
    assert first.summary["metrics"]["NDCG@10"] == pytest.approx(runs["test"][0])
    assert not result.cancelled


def test_family_value_is_its_best_trial_and_the_first_trial_is_the_defaults(syn: Store) -> None:
    spec = parse_tune_spec({"dataset": "syn", "model": "ease", "n_trials": 3})
    result = tune(syn, spec)
    assert result.trials["reg"].iloc[0] == 250.0 and result.trials["binarize"].iloc[0]
    assert result.best_value == result.trials["value"].max()


def test_a_family_without_a_search_space_is_listed_last_with_its_reason(syn: Store) -> None:
    result = find_best(syn, auto(families=["most_popular", "ease"], top_n=1))
    assert list(result.families["model"]) == ["ease", "most_popular"]
    assert "Impossible search space" in result.families["note"].iloc[1]
    assert np.isnan(result.families["validation"].iloc[1])
    assert list(result.runs["kind"]) == ["model"]  # one family: no blend, no ranker


def test_cancel_after_the_first_family_stops_before_any_run(syn: Store) -> None:
    seen: list[str] = []

    def progress(done: int, total: int, message: str = "") -> None:
        seen.append(message)

    result = find_best(syn, auto(), progress, stop=lambda: any("ease" in m for m in seen))
    assert result.cancelled
    assert list(result.families["model"]) == ["item_knn", "ease"] and result.runs.empty
    assert "cancelled" in result.families["note"].iloc[1]  # stopped before its first trial
    with syn.session() as s:
        assert RunRepository(s).all() == []


def test_cancel_during_a_final_run_cancels_that_run_and_starts_no_other(syn: Store) -> None:
    seen: list[str] = []

    def progress(done: int, total: int, message: str = "") -> None:
        seen.append(message)

    result = find_best(syn, auto(), progress, stop=lambda: any("as a run" in m for m in seen))
    assert result.cancelled and len(result.runs) == 1
    assert result.runs["status"].iloc[0] == "cancelled"
    with syn.session() as s:
        assert [r.status for r in RunRepository(s).all()] == ["cancelled"]


def test_budget_zero_families_unknown_and_deep_only_on_long_budgets() -> None:
    with pytest.raises(InputError, match="budget_minutes"):
        auto(budget_minutes=0)
    with pytest.raises(InputError, match="unknown families"):
        auto(families=["nope"])
    with pytest.raises(InputError, match="Unknown metric"):
        auto(metric="NDCG")
    short = families_for(auto(families=None, budget_minutes=5))
    assert short == list(CHEAP) and short[0] == "ease"
    assert "multvae" in families_for(auto(families=None, budget_minutes=60))


def test_weight_grid_blends_at_least_two_models_and_sums_to_one() -> None:
    grid = weight_grid(3)
    assert len(grid) == 12  # 15 quarter-compositions of 1 minus the 3 single-model corners
    assert all(sum(w) == pytest.approx(1.0) and sum(x > 0 for x in w) >= 2 for w in grid)
    assert len(weight_grid(2)) == 9  # tenths: 0.1/0.9 ... 0.9/0.1


def test_cli_tune_auto_prints_families_and_runs(syn: Store, capsys) -> None:
    url = syn.engine.url.render_as_string(hide_password=False)
    code = main(["tune", "--db", url, "--dataset", "syn", "--auto", "--budget", "0.1",
                 "--families", "ease,item_knn", "--top", "2", "--json"])  # fmt: skip
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert [f["rank"] for f in out["families"]] == [1, 2]
    assert [r["kind"] for r in out["runs"]] == ["model", "model", "blend", "ranker"]
    assert out["overrun_s"] == pytest.approx(max(out["seconds"] - 6.0, 0.0))
    assert main(["tune", "--db", url, "--dataset", "syn", "--auto"]) == 2  # no budget
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_the_ranker_is_chosen_when_it_beats_every_family_and_the_blend_on_validation(
    syn: Store,
) -> None:
    # One trial a family (the defaults) keeps this deterministic; on this set the ranker over
    # item_knn, most_popular and rp3beta wins on validation, so it is the one to use.
    spec = auto(families=["item_knn", "most_popular", "rp3beta"], max_trials=1,
                budget_minutes=5, ranker_generators=2)  # fmt: skip
    result = find_best(syn, spec)
    runs = result.runs.set_index("kind")
    assert runs.loc["ranker", "validation"] > runs["validation"].drop("ranker").max()
    assert bool(runs.loc["ranker", "chosen"]) and int(runs["chosen"].sum()) == 1
    with syn.session() as s:
        ranker = RunRepository(s).get(int(runs.loc["ranker", "run_id"]))
    assert ranker is not None
    models = [g["model"] for g in ranker.spec["params"]["generators"]]
    # the two best families in order, then content: the synthetic items carry metadata
    assert models == [*result.families["model"][:2], "content"]


def test_choose_goes_by_validation_never_test_and_skips_unfinished_runs() -> None:
    runs = pd.DataFrame({
        "kind": ["model", "blend", "ranker", "ranker"],
        "validation": [0.30, 0.31, 0.35, 0.40],
        "test": [0.50, 0.20, 0.33, 0.45],
        "status": ["done", "done", "done", "cancelled"],
    })  # fmt: skip
    assert list(choose(runs)) == [False, False, True, False]
    tie = runs.assign(validation=[0.35, 0.35, 0.35, np.nan])
    assert list(choose(tie)) == [True, False, False, False]  # a tie goes to the single model
    assert not choose(runs.assign(status="failed")).any()


def test_a_tuned_config_must_beat_the_defaults_beyond_noise() -> None:
    rng = np.random.default_rng(0)
    defaults = rng.uniform(0, 1, 600)
    noisy = defaults + rng.normal(0.002, 0.05, 600)  # +.002 on average: noise on 600 users
    real = defaults + rng.normal(0.03, 0.05, 600)
    assert not beats_defaults(defaults, noisy, 40)[0]
    assert beats_defaults(defaults, real, 40)[0]
    assert beats_defaults(defaults, real, 40)[1] > beats_defaults(defaults, real, 3)[1]
    assert not beats_defaults(defaults[:1], real[:1], 2)[0]  # one user proves nothing


def test_ranker_takes_the_best_families_and_content_when_items_have_metadata(syn: Store) -> None:
    ranked = [("ease", {"reg": 100.0}, 0.3), ("slim", {}, 0.29), ("als", {}, 0.2)]
    with_meta = load_interactions(syn, "syn")
    assert with_meta.item_features is not None and len(with_meta.item_features.columns)
    params = ranker_params(ranked, with_meta, 2)
    assert params["generators"] == [
        {"model": "ease", "params": {"reg": 100.0}}, {"model": "slim", "params": {}},
        {"model": "content", "params": {}},
    ]  # fmt: skip
    bare = dataclasses.replace(with_meta, item_features=None)
    assert [g["model"] for g in ranker_params(ranked, bare, 5)["generators"]] == [
        "ease", "slim", "als",
    ]  # fmt: skip


def test_cross_fitted_value_is_not_flattered_by_the_pick_but_keeps_a_real_winner() -> None:
    rng = np.random.default_rng(1)
    noise = rng.uniform(0, 1, (12, 600))  # a dozen weightings, all equal but for noise
    fold = folds(600, 42, 5)
    assert np.bincount(fold).tolist() == [120] * 5
    assert cross_fitted(noise, fold).mean() < noise.mean(axis=1).max() - 0.005
    real = noise.copy()
    real[3] += 0.2  # one weighting truly better: every fold picks it
    assert cross_fitted(real, fold) == pytest.approx(real[3])
    one = noise[:, :1]  # one user: nothing held out, the best option's value
    assert cross_fitted(one, folds(1, 42, 5)) == pytest.approx(one.max(axis=0))


def test_judging_fits_each_model_once_on_the_fit_side_and_ranks_users_out_of_sample(
    syn: Store, monkeypatch
) -> None:
    # The ranker used to be judged by fitting it on train-minus-validation, which carved its
    # labels again: generators on less data than the families' and a second random carve
    # (ML-latest-small: .2144 on validation, below the blend, though best on test).
    parts = tuning_split(load_interactions(syn, "syn"), parse_tune_spec(
        {"dataset": "syn", "model": "ease", "n_trials": 1}))  # fmt: skip
    fits: list[tuple[str, int]] = []
    real_make = _judge.make_model

    def make(name, params):
        model = real_make(name, params)
        fit = model.fit
        model.fit = lambda train, **kw: (fits.append((name, len(train))), fit(train, **kw))[1]
        return model

    scorers: list[tuple[set[int], set[int]]] = []
    real_scorer = TwoStageRanker.rows_scorer

    def rows_scorer(self, feats, labels, groups):
        scorer, learned = real_scorer(self, feats, labels, groups), set(feats.index)
        spy = type("Spy", (), {"predict": lambda _, f: (scorers.append((learned, set(f.index))),
                                                       scorer.predict(f))[1]})  # fmt: skip
        return spy()

    monkeypatch.setattr(_judge, "make_model", make)
    monkeypatch.setattr(TwoStageRanker, "rows_scorer", rows_scorer)
    top = [("item_knn", {}, 0.3), ("ease", {}, 0.2)]
    gens = [{"model": m, "params": {}} for m in ("item_knn", "ease", "most_popular")]
    blend, ranker = judge_final(top, {"generators": gens, "n_estimators": 30}, parts,
                                auto(judge_folds=5))  # fmt: skip
    assert fits == [("item_knn", len(parts.train)), ("ease", len(parts.train)),
                    ("most_popular", len(parts.train))]  # fmt: skip
    assert blend is not None and ranker is not None and 0 < ranker[1] < 1 and 0 < blend[1] < 1
    assert len(scorers) == 5  # one second stage per fold of validation users
    everything = set().union(*(learned | ranked for learned, ranked in scorers))
    for learned, ranked in scorers:
        assert ranked and not learned & ranked  # never ranks rows it learned from
        assert learned | ranked == everything  # learned from all the other folds
    assert sum(len(ranked) for _, ranked in scorers) == len(everything)  # each row ranked once


def test_ranker_lists_are_each_users_best_candidates_ties_by_item_then_padded() -> None:
    users = np.array([0, 0, 0, 2, 2, 5])
    items = np.array([1, 4, 7, 3, 9, 2])
    pred = np.array([0.1, 0.9, 0.1, 0.5, 0.7, 0.0])
    top = _judge._top(users, items, pred, np.array([0, 2, 5]), 2)
    assert top.tolist() == [[4, 1], [9, 3], [2, -1]]


def test_cancel_while_judging_on_validation_starts_no_run(syn: Store) -> None:
    seen: list[str] = []

    def progress(done: int, total: int, message: str = "") -> None:
        seen.append(message)

    stop = lambda: any("judging" in m for m in seen)  # noqa: E731
    result = find_best(syn, auto(), progress, stop=stop)
    assert result.cancelled and result.runs.empty and len(result.families) == 3
    with syn.session() as s:
        assert RunRepository(s).all() == []
