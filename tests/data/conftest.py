"""Fixtures that write small good and bad import files into tmp_path (no data is committed)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

Write = Callable[..., Path]
Rows = Callable[..., list[str]]

#: Unix seconds of 2020-01-01T00:00:00Z, the base time of generated rows.
T0 = 1_577_836_800


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """write(name, content, encoding="utf-8") -> path; bytes are written as they are."""

    def _write(name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        return path

    return _write


@pytest.fixture
def rating_rows() -> Rows:
    """rating_rows(n_users=4, per_user=5, sep=",") -> data lines "user,item,rating,ts".

    User u rates items u..u+per_user-1, ratings cycle 1..5, one second apart: no duplicates,
    every user repeats, so only the size warnings of validation fire.
    """

    def _rows(n_users: int = 4, per_user: int = 5, sep: str = ",") -> list[str]:
        out = []
        for u in range(1, n_users + 1):
            for k in range(per_user):
                rating = (u + k) % 5 + 1
                out.append(sep.join(map(str, (u, 100 + u + k, rating, T0 + 10 * u + k))))
        return out

    return _rows


@pytest.fixture
def ratings_file(write: Write, rating_rows: Rows) -> Callable[..., Path]:
    """ratings_file(extra_lines=(), name="ratings.csv") -> a header, 20 good rows, then extras."""

    def _file(extra: Sequence[str] = (), name: str = "ratings.csv") -> Path:
        lines = ["userId,movieId,rating,timestamp", *rating_rows(), *extra]
        return write(name, "\n".join(lines) + "\n")

    return _file
