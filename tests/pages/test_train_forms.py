"""AppTest of the Train page's forms: numbers read as their defaults, descriptions whole,
the sampled protocol's caveat, progress labels without a bare "stage:"."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from pages._ui import number_step
from recsys_core.jobs.runs import progress_label
from recsys_core.models.registry import REGISTRY
from tests.pages.conftest import ROOT, Workspace


def _train(models: list[str]) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages/train.py"), default_timeout=120).run()
    at.multiselect(key="models").set_value(models).run()
    assert not at.exception, at.exception
    return at


def _shown(at: AppTest, key: str) -> str:
    """The number as the browser shows it: the widget's printf format applied to its value."""
    widget = at.number_input(key=key)
    return widget.format % widget.value


def test_learning_rates_read_as_their_defaults(app_env: Workspace) -> None:
    at = _train(["neumf", "two_tower", "ease"])
    assert _shown(at, "model_neumf_learning_rate") == "0.0005"  # was "0.00"
    assert _shown(at, "model_two_tower_learning_rate") == "0.005"  # was "0.01"
    assert at.number_input(key="model_neumf_learning_rate").step == pytest.approx(0.0001)
    assert _shown(at, "model_ease_reg") == f"{REGISTRY['ease'].config_class().reg:g}"
    at.number_input(key="model_neumf_learning_rate").set_value(0.002).run()
    assert _shown(at, "model_neumf_learning_rate") == "0.002"


def test_number_steps_follow_the_default() -> None:
    assert number_step(0.001, 0.0, 1.0) == pytest.approx(0.001)
    assert number_step(0.005, None, None) == pytest.approx(0.001)
    assert number_step(250.0, 0.0, None) == pytest.approx(100.0)
    assert number_step(None, 0.0, 1.0) == pytest.approx(0.01)
    assert number_step(0.0, None, None) == 0.01


def test_model_descriptions_are_whole_sentences(app_env: Workspace) -> None:
    at = _train(["two_tower"])
    doc = " ".join((REGISTRY["two_tower"].__doc__ or "").strip().split("\n\n")[0].split())
    assert doc.endswith(".") and any(c.value == doc for c in at.caption)


def test_the_sampled_protocol_carries_its_caveat(app_env: Workspace) -> None:
    at = _train(["ease"])
    assert not [w for w in at.warning if "Krichene" in w.value]
    at.selectbox(key="protocol").set_value("sampled").run()
    (caveat,) = [w.value for w in at.warning if "Krichene & Rendle" in w.value]
    assert "KDD 2020" in caveat and "full ranking" in caveat


def test_progress_labels_never_end_in_a_bare_stage() -> None:
    assert progress_label("queued", "") == "queued"
    assert progress_label("running", "fit: epoch 2/5") == "running: fit: epoch 2/5"


def test_field_labels_read_as_sentences_with_acronyms(app_env: Workspace) -> None:
    at = _train(["neumf", "two_tower"])
    labels = {n.label for n in at.number_input} | {t.label for t in at.text_input}
    labels |= {c.label for c in at.checkbox}
    assert {"Learning rate", "MLP layers (comma-separated)", "ID dropout"} <= labels
    assert {"Log Q correction", "Validation K", "N negatives"} <= labels
    assert not {"Learning Rate", "Mlp Layers (comma-separated)", "Id Dropout"} & labels
