"""What keeps a served run safe to expose: where it may listen without a key, body limits."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from recsys_core.errors import InputError

#: Largest request body accepted (a 10,000-item history with weights fits in about 300 kB).
MAX_BODY_BYTES = 1 << 20
#: Environment variable holding the API key.
KEY_ENV = "RECSYS_API_KEY"


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name may resolve to anything: treat it as reachable


def check_binding(host: str, api_key: str | None) -> None:
    """Refuse to listen beyond this machine without an API key.

    Raises:
        InputError: ``host`` is not a loopback address and no key is set.
    """
    if api_key is not None and not api_key.strip():
        raise InputError(f"{KEY_ENV} is set but empty; give it a real key or unset it.")
    if api_key is None and not is_loopback(host):
        raise InputError(
            f"Serving on {host} would answer anyone who can reach this machine: set {KEY_ENV} "
            "to an API key (clients send it in the X-API-Key header), or bind to 127.0.0.1."
        )


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware answering 413 to a body over ``limit`` bytes, declared or streamed."""

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0
        started = False

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        async def tracking(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracking)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        body = json.dumps(
            {"detail": f"Request body too large or unreadable: at most {self.limit:,} bytes."}
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
