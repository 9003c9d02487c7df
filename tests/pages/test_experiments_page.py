"""AppTest of the Experiments page: sample one click away, SRM first, validation, save, link."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from streamlit.testing.v1 import AppTest

from recsys_core.experiments import synthetic_log
from recsys_core.experiments.stored import get_experiment
from recsys_core.jobs.analysis import display_label

if TYPE_CHECKING:
    from tests.pages.conftest import Workspace


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="exp_file").set_value((name, data, "text/csv"))
    return at.run()


def test_sample_is_one_click_away_and_srm_comes_first(
    open_page: Callable[[str], AppTest],
) -> None:
    at = open_page("experiments")
    assert not at.exception
    at.button(key="exp_sample").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("No sample-ratio mismatch")
    lifts = at.tabs[0].dataframe[0].value
    ctr = lifts[(lifts["metric"] == "CTR") & (lifts["variant"] == "new_ranker")].iloc[0]
    assert ctr["CI low %"] < 6.0 < ctr["CI high %"]
    revenue = lifts[(lifts["metric"] == "revenue") & (lifts["variant"] == "new_ranker")].iloc[0]
    assert bool(revenue["significant (Holm)"]) and bool(revenue["CUPED"])
    assert any(s.value == "CUPED" for s in at.tabs[0].subheader)


def test_planted_srm_is_the_first_thing_shown(open_page: Callable[[str], AppTest]) -> None:
    frame = synthetic_log(8_000, {"A": 0.0, "B": 0.0}, split={"A": 0.55, "B": 0.45}, seed=2)
    at = _upload(open_page("experiments"), "srm.csv", frame.to_csv(index=False).encode())
    assert not at.exception
    assert at.error[0].value.startswith("Sample-ratio mismatch")
    assert not at.success or "Sample-ratio" not in at.success[0].value


def test_user_in_two_variants_is_explained(open_page: Callable[[str], AppTest]) -> None:
    log = b"user,variant,clicks\nu1,A,1\nu1,B,0\nu2,B,1\nu3,A,0\n"
    at = _upload(open_page("experiments"), "bad.csv", log)
    assert not at.exception
    assert "appear in more than one variant (e.g. u1: A, B)" in at.error[0].value


def test_save_then_link_variants_to_runs(
    open_page: Callable[[str], AppTest], app_env: Workspace
) -> None:
    frame = synthetic_log(3_000, {"ctl": 0.0, "knn": 0.05}, seed=9)
    at = _upload(open_page("experiments"), "homepage.csv", frame.to_csv(index=False).encode())
    at.text_input(key="exp_name").set_value("homepage test")
    next(b for b in at.button if b.label == "Save experiment").click()
    at.run()
    assert not at.exception
    assert any("Saved 'homepage test'" in s.value for s in at.success)
    at.run()
    runs = app_env.runs
    store = app_env.store()
    saved = get_experiment(store, "homepage test").id
    at.selectbox(key=f"exp_link_{saved}_ctl").set_value(display_label(runs["most_popular"]))
    at.selectbox(key=f"exp_link_{saved}_knn").set_value(display_label(runs["item_knn"]))
    next(b for b in at.button if b.label == "Save links").click()
    at.run()
    assert not at.exception
    experiment = get_experiment(store, "homepage test")
    store.dispose()
    assert experiment.runs == {"ctl": runs["most_popular"].id, "knn": runs["item_knn"].id}
    offline = at.dataframe
    assert any("sign_agreement" in d.value.columns for d in offline)


def test_power_calculator_shows_the_plan(open_page: Callable[[str], AppTest]) -> None:
    at = open_page("experiments")
    at.number_input(key="pw_mean").set_value(0.1)
    at.number_input(key="pw_mde").set_value(5.0)
    at.run()
    assert any(s.value.startswith("56,512 control users") for s in at.success)


def test_cuped_can_be_switched_off(open_page: Callable[[str], AppTest]) -> None:
    at = open_page("experiments")
    at.button(key="exp_sample").click().run()
    at.checkbox(key="exp_cuped").uncheck().run()
    assert not at.exception
    lifts = at.tabs[0].dataframe[0].value
    assert not lifts["CUPED"].any()
    assert not any(s.value == "CUPED" for s in at.tabs[0].subheader)
