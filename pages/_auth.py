"""Who may use the app: this machine only by default, a signed-in team when RECSYS_AUTH=oidc.

The app holds the analysts' data and starts jobs, so it never serves the network openly:
bound to a loopback address (the default, ``.streamlit/config.toml``) it needs no sign-in;
bound anywhere else it shows its pages only to users signed in through Streamlit's OIDC
(``st.login``, an ``[auth]`` section in ``.streamlit/secrets.toml``), and refuses to show
them at all when sign-in is not switched on.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

AUTH_ENV = "RECSYS_AUTH"
MODES = ("none", "oidc")
SHARING_DOC = "README, 'Sharing the app with a team'"


@dataclass(frozen=True)
class Access:
    """The gate's verdict: show the pages, or a screen with a message (and maybe sign-in)."""

    allowed: bool
    message: str = ""
    can_sign_in: bool = False


def is_loopback(address: str | None) -> bool:
    """True for addresses only this machine reaches; unset means every interface."""
    if not address:
        return False
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to a public interface


def auth_settings(secrets: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ``[auth]`` section when it has what ``st.login`` needs, else None."""
    auth = secrets.get("auth")
    if not isinstance(auth, Mapping) or not {"redirect_uri", "cookie_secret"} <= set(auth):
        return None
    return auth


def decide(
    address: str | None,
    mode: str,
    secrets: Mapping[str, Any],
    logged_in: bool,
    authlib: bool = True,
) -> Access:
    """The rule, free of Streamlit so every branch is easy to test."""
    where = f"address {address}" if address else "every network interface"
    if mode not in MODES:
        return Access(False, f"{AUTH_ENV}={mode!r} is not a sign-in mode; use one of {MODES}.")
    if mode == "none":
        if is_loopback(address):
            return Access(True)
        return Access(
            False,
            f"The app is served on {where} without sign-in, so anyone on the network could "
            "read the data, upload files and start jobs. Serve it on 127.0.0.1 (the default "
            f"in .streamlit/config.toml), or switch sign-in on with {AUTH_ENV}=oidc "
            f"({SHARING_DOC}).",
        )
    if logged_in:
        return Access(True)
    if auth_settings(secrets) is None:
        return Access(
            False,
            f"{AUTH_ENV}=oidc needs an [auth] section with redirect_uri, cookie_secret and "
            f"your identity provider in .streamlit/secrets.toml ({SHARING_DOC}).",
        )
    if not authlib:
        return Access(False, "Sign-in needs Authlib: pip install 'streamlit[auth]'.")
    return Access(False, "Sign in to use the Recsys Workbench.", can_sign_in=True)


def providers(auth: Mapping[str, Any]) -> list[str | None]:
    """Named providers (``[auth.google]``...), or the single default one (None)."""
    named = [k for k, v in auth.items() if isinstance(v, Mapping)]
    return [None] if "client_id" in auth or not named else named


def gate() -> bool:
    """Run the rule for this session; on refusal, render the only page there is and say why.

    The refusal replaces the navigation itself (not just the page body), so no page of the
    app is reachable by URL either.
    """
    mode = (os.environ.get(AUTH_ENV) or "none").strip().lower()
    access = decide(
        st.get_option("server.address"),
        mode,
        _secrets(),
        bool(st.user.get("is_logged_in", False)),
        importlib.util.find_spec("authlib") is not None,
    )
    if not access.allowed:
        st.navigation([st.Page(lambda: _screen(access), title="Sign in", url_path="sign-in")]).run()
        return False
    if mode == "oidc":
        st.sidebar.caption(f"Signed in as {st.user.get('name') or st.user.get('email')}")
        st.sidebar.button("Sign out", on_click=st.logout, icon=":material/logout:")
    return True


def _secrets() -> dict[str, Any]:
    """``st.secrets`` as a dict; empty when there is no secrets.toml (the usual local case)."""
    try:
        return st.secrets.to_dict()
    except FileNotFoundError:  # StreamlitSecretNotFoundError derives from it
        return {}


def _screen(access: Access) -> None:
    st.title("Recsys Workbench")
    if not access.can_sign_in:
        st.error(access.message, icon=":material/lock:")
        return
    st.info(access.message, icon=":material/lock:")
    auth = auth_settings(_secrets()) or {}
    for provider in providers(auth):
        label = f"Sign in with {provider}" if provider else "Sign in"
        st.button(label, on_click=st.login, args=(provider,) if provider else (), type="primary")
