"""The app never serves the network openly: loopback by default, sign-in to share (item 16)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest

from pages._auth import Access, decide, is_loopback, providers
from tests.pages.conftest import Workspace

ROOT = Path(__file__).resolve().parents[2]
AUTH = {"redirect_uri": "http://team-host:8501/oauth2callback", "cookie_secret": "s3cret",
        "client_id": "id", "client_secret": "x",
        "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}  # fmt: skip


def test_the_default_config_binds_this_machine_only() -> None:
    server = tomllib.loads((ROOT / ".streamlit/config.toml").read_text())["server"]
    assert server["address"] == "127.0.0.1"
    run = re.search(r"^run:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M)
    assert run is not None and "server.address" not in run.group(1)  # nothing overrides it


@pytest.mark.parametrize(
    ("address", "loopback"),
    [("127.0.0.1", True), ("127.0.1.1", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("0.0.0.0", False), ("", False), (None, False), ("::", False),
     ("10.1.2.3", False), ("team-host", False)],
)  # fmt: skip
def test_loopback_addresses(address: str | None, loopback: bool) -> None:
    assert is_loopback(address) is loopback


def test_the_rule() -> None:
    assert decide("127.0.0.1", "none", {}, False) == Access(True)
    assert not decide("0.0.0.0", "none", {}, False).allowed
    assert not decide(None, "none", {}, False).allowed  # unset: every interface
    assert "every network interface" in decide(None, "none", {}, False).message
    assert decide("0.0.0.0", "oidc", {"auth": AUTH}, True) == Access(True)
    assert decide("0.0.0.0", "oidc", {"auth": AUTH}, False).can_sign_in
    assert decide("127.0.0.1", "oidc", {"auth": AUTH}, False).can_sign_in  # on means on
    no_config = decide("0.0.0.0", "oidc", {}, False)
    assert not no_config.allowed and "[auth]" in no_config.message
    half = decide("0.0.0.0", "oidc", {"auth": {"redirect_uri": "x"}}, False)
    assert not half.can_sign_in and "cookie_secret" in half.message
    assert "Authlib" in decide("0.0.0.0", "oidc", {"auth": AUTH}, False, authlib=False).message
    assert "not a sign-in mode" in decide("127.0.0.1", "basic", {}, False).message


def test_providers() -> None:
    assert providers(AUTH) == [None]
    named = {"redirect_uri": "r", "cookie_secret": "c", "google": {}, "okta": {}}
    assert providers(named) == ["google", "okta"]


@pytest.fixture
def address() -> Iterator[None]:
    """Restore the server address the tests change (AppTest shares this process's config)."""
    before = config.get_option("server.address")
    yield
    config.set_option("server.address", before)


def _app(bind: str, user: dict | None = None, secrets: dict | None = None) -> AppTest:
    config.set_option("server.address", bind)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if user is not None:
        at.user = user
    if secrets is not None:
        at.secrets = secrets
    return at.run()


def _shows_pages(at: AppTest) -> bool:
    return any("Store: sqlite" in c.value for c in at.sidebar.caption)


def test_on_loopback_the_pages_show_without_sign_in(app_env: Workspace, address: None) -> None:
    at = _app("127.0.0.1")
    assert not at.exception and _shows_pages(at)


def test_on_the_network_without_sign_in_no_page_is_served(
    app_env: Workspace, address: None
) -> None:
    at = _app("0.0.0.0")
    assert not at.exception and not _shows_pages(at)
    assert [t.value for t in at.title] == ["Recsys Workbench"]
    assert "served on address 0.0.0.0 without sign-in" in at.error[0].value
    assert not at.button and not at.selectbox  # nothing of the Data page


def test_signed_out_users_see_only_the_sign_in_screen(
    app_env: Workspace, address: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECSYS_AUTH", "oidc")
    at = _app("0.0.0.0", user={"is_logged_in": False}, secrets={"auth": AUTH})
    assert not at.exception and not _shows_pages(at)
    assert [t.value for t in at.title] == ["Recsys Workbench"]
    try:
        import authlib  # noqa: F401
    except ImportError:  # st.login cannot work without it: the screen says so
        assert "Authlib" in at.error[0].value and not at.button
    else:
        assert [b.label for b in at.button] == ["Sign in"]


def test_signed_in_users_get_the_pages(
    app_env: Workspace, address: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECSYS_AUTH", "oidc")
    user = {"is_logged_in": True, "name": "Ann Analyst", "email": "ann@example.com"}
    at = _app("0.0.0.0", user=user, secrets={"auth": AUTH})
    assert not at.exception and _shows_pages(at)
    assert any(c.value == "Signed in as Ann Analyst" for c in at.sidebar.caption)
    assert "Sign out" in [b.label for b in at.sidebar.button]


def test_sign_in_switched_on_but_not_configured_says_what_is_missing(
    app_env: Workspace, address: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECSYS_AUTH", "oidc")
    at = _app("0.0.0.0", user={"is_logged_in": False})
    assert not _shows_pages(at)
    assert "[auth] section" in at.error[0].value
