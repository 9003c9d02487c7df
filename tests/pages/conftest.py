"""A real SQLite store with a small synthetic dataset and three finished runs, for page tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from db import Store
from db.runs import Run
from recsys_core.columns import Columns
from recsys_core.data.samples import synthetic
from recsys_core.data.validate import ValidatedData
from recsys_core.jobs.datasets import import_dataset
from recsys_core.jobs.runs import parse_spec, train

ROOT = Path(__file__).resolve().parents[2]
DATASET = "syn"
#: The most popular item is renamed to this, so exports must neutralise it.
FORMULA_ITEM = "=SUM(1+1)"


@dataclass(frozen=True)
class Workspace:
    """What the page tests run against: the store's URL, its home folder and the runs."""

    url: str
    home: Path
    runs: dict[str, Run]
    formula_item: str = FORMULA_ITEM

    def store(self) -> Store:
        return Store(self.url)


def _with_formula_item(data: ValidatedData) -> ValidatedData:
    """The same data with its most popular item id turned into a spreadsheet formula."""
    assert data.items is not None
    top = str(data.interactions[Columns.item].value_counts().index[0])
    items = data.interactions[Columns.item].replace({top: FORMULA_ITEM})
    return replace(
        data,
        interactions=data.interactions.assign(**{Columns.item: items}),
        items=data.items.rename(index={top: FORMULA_ITEM}),
    )


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Built once: import, then train most_popular and item_knn (full) and a sampled run."""
    home = tmp_path_factory.mktemp("pages_home")
    url = f"sqlite:///{home / 'x.db'}"
    base = {"dataset": DATASET, "ks": [5, 10], "n_recommendations": 20, "seed": 7}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RECSYS_HOME", str(home))  # model artifacts land beside the database
        store = Store(url)
        import_dataset(store, DATASET, _with_formula_item(synthetic(300, 150, 9000, seed=5)))
        runs = {}
        for model, extra in [
            ("most_popular", {}),
            ("item_knn", {}),
            ("item_knn", {"protocol": "sampled", "label": "item_knn sampled"}),
        ]:
            run = train(store, parse_spec({**base, "model": model, **extra}))
            assert run.status == "done", run.error
            runs[run.label] = run
        store.dispose()
    return Workspace(url, home, runs)


@pytest.fixture
def app_env(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """Point the app at the workspace before it touches get_store, with empty caches."""
    monkeypatch.setenv("RECSYS_DATABASE_URL", workspace.url)
    monkeypatch.setenv("RECSYS_HOME", str(workspace.home))
    st.cache_resource.clear()
    st.cache_data.clear()
    return workspace


@pytest.fixture
def open_page(app_env: Workspace) -> Callable[[str], AppTest]:
    """AppTest of pages/<name>.py, run once against the workspace."""

    def _open(name: str) -> AppTest:
        return AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=60).run()

    return _open
