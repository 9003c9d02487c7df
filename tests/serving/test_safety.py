"""Where a served run may listen without a key."""

from __future__ import annotations

import pytest

from recsys_core.errors import InputError
from recsys_core.serving.safety import check_binding, is_loopback


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)
    check_binding(host, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.4", "example.org"])
def test_other_hosts_need_a_key(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(InputError, match="set RECSYS_API_KEY"):
        check_binding(host, None)
    check_binding(host, "a-key")


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(InputError, match="set but empty"):
        check_binding("0.0.0.0", "  ")
