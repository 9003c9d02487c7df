"""Keyed pseudonymisation of user ids, so screens and exports never show raw ids."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import numpy as np

ENV_KEY = "RECSYS_PSEUDONYM_KEY"


def pseudonym_key(home: Path) -> bytes:
    """The secret key: ``$RECSYS_PSEUDONYM_KEY``, else a random key kept in ``home``.

    A keyed hash (HMAC-SHA256) rather than a plain hash: without the key nobody can rebuild
    the mapping by hashing candidate ids. Keep the key file to get the same pseudonyms for the
    same users in later imports; delete it to make old pseudonyms unlinkable.
    """
    env = os.environ.get(ENV_KEY)
    if env:
        return env.encode()
    path = home / "pseudonym.key"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()


def pseudonymise(ids: np.ndarray, key: bytes) -> np.ndarray:
    """Map each distinct id to ``u_`` + 16 hex digits of its HMAC; same id, same pseudonym."""
    uniq, inverse = np.unique(np.asarray(ids, dtype=str), return_inverse=True)
    mapped = np.array(
        ["u_" + hmac.new(key, u.encode(), hashlib.sha256).hexdigest()[:16] for u in uniq.tolist()],
        dtype=object,
    )
    return mapped[inverse]
