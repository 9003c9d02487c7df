"""Argument helpers shared by the command modules (below them, so nothing imports back)."""

from __future__ import annotations

from collections.abc import Sequence

from recsys_core.errors import InputError


def parse_pairs(pairs: Sequence[str] | None, flag: str) -> dict[str, str]:
    """``KEY=VALUE`` flags into a dict, with a clear error for a malformed one."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InputError(f"{flag} takes KEY=VALUE, got {pair!r}.")
        out[key.strip()] = value.strip()
    return out
