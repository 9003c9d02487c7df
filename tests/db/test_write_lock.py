"""SQLite's write lock: a writer waits for a long write and is told what it waits for."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from db import Store, StoreError
from db.engine import WAIT_LISTENERS
from db.repositories import DatasetRepository

HOLD_S = 3.0


def _hold(store: Store, holding: threading.Event) -> None:
    """A long write: takes the lock with its first INSERT, then keeps it for HOLD_S."""
    with store.session(purpose="the import of 'big'") as s:
        DatasetRepository(s).create("big")
        holding.set()
        time.sleep(HOLD_S)


@pytest.fixture
def held(tmp_path: Path) -> tuple[Store, threading.Thread]:
    url = f"sqlite:///{tmp_path / 'workbench.db'}"
    holder_store = Store(url)
    holding = threading.Event()
    thread = threading.Thread(target=_hold, args=(holder_store, holding))
    thread.start()
    assert holding.wait(10)
    return Store(url), thread


def test_a_writer_waits_for_the_lock_and_hears_why(
    held: tuple[Store, threading.Thread], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, thread = held
    heard: list[str] = []
    monkeypatch.setitem(WAIT_LISTENERS, "test", heard.append)
    start = time.monotonic()
    with store.session() as s:
        assert s.execute(text("SELECT count(*) FROM datasets")).scalar_one() == 0  # reads go on
        DatasetRepository(s).create("small")
    waited = time.monotonic() - start
    thread.join()
    assert waited > HOLD_S - 1
    assert heard and heard[0].startswith("Waiting for the import of 'big' (process ")
    with store.session() as s:
        assert sorted(d.name for d in DatasetRepository(s).all()) == ["big", "small"]


def test_past_the_wait_limit_the_error_names_the_holder(
    held: tuple[Store, threading.Thread], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, thread = held
    monkeypatch.setenv("RECSYS_SQLITE_WRITE_WAIT_S", "1")
    locked = r"locked \(waited 1 s for the import of 'big'"
    with pytest.raises(StoreError, match=locked), store.session() as s:
        DatasetRepository(s).create("small")
    thread.join()
    with store.session() as s:
        assert [d.name for d in DatasetRepository(s).all()] == ["big"]
    assert not Path(str(store.engine.url.database) + ".writer").exists()


def _page_that_writes() -> None:
    """A page action writing to the store (AppTest runs this function as a script)."""
    import os

    import streamlit as st

    from db import Store
    from db.repositories import DatasetRepository

    with Store(os.environ["RECSYS_DATABASE_URL"]).session() as s:
        DatasetRepository(s).create("small")
    st.success("written")


def test_a_waiting_page_is_told_what_holds_the_lock(
    held: tuple[Store, threading.Thread], monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    from pages._wait import toast_wait

    store, thread = held
    monkeypatch.setenv("RECSYS_DATABASE_URL", store.url_with_password)
    monkeypatch.setitem(WAIT_LISTENERS, "app", toast_wait)
    page = AppTest.from_function(_page_that_writes, default_timeout=30).run()
    thread.join()
    assert not page.exception
    assert any("Waiting for the import of 'big'" in t.value for t in page.toast)
    assert [s.value for s in page.success] == ["written"]


def test_the_app_registers_the_toast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    from pages._wait import toast_wait

    monkeypatch.setenv("RECSYS_DATABASE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    monkeypatch.delitem(WAIT_LISTENERS, "app", raising=False)
    AppTest.from_file(str(Path(__file__).parents[2] / "app.py"), default_timeout=60).run()
    assert WAIT_LISTENERS["app"] is toast_wait
