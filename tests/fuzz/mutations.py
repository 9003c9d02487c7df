"""Seeds (real files) and mutations for the fuzz suite, plus its one hypothesis setting.

Every mutation is a small edit a broken export, a bad copy or a hostile sender makes: a
flipped byte, a cut, a duplicated stretch, a delimiter, quote, line break, NUL, BOM or an
overflowing number put in, a stretch deleted. Hypothesis draws a few and shrinks a failure
to the fewest, smallest edits.
"""

from __future__ import annotations

import io
import os
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SAMPLE = Path(__file__).resolve().parents[2] / "recsys_core/data/samples/ml-latest-small"

#: ``RECSYS_FUZZ_SCALE=20`` runs 20 times the examples, drawn afresh each run (a long local
#: hunt); unset, CI and a laptop run the same derandomized cases in about a minute.
SCALE = int(os.environ.get("RECSYS_FUZZ_SCALE", "0") or 0)
FUZZ = settings(
    max_examples=40 * max(SCALE, 1),
    deadline=timedelta(seconds=5),
    derandomize=SCALE == 0,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: For the readers alone (milliseconds per case): more cases in the same time.
FUZZ_READER = settings(FUZZ, max_examples=5 * FUZZ.max_examples)

INJECT = [
    b",", b";", b"\t", b"|", b'"', b"'", b"\n", b"\r", b"\r\n", b"\x00", b"\\", b" ", b"\xff",
    b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xe2\x80\xae", b"\x1b[31m", b"=1+1", b"NaN",
    b"1e400", b"-1e308", b"-99999999999", b"9" * 60, b"9" * 400, b'"a,b"', b'""', b"\n\n\n",
]  # fmt: skip
_KINDS = ["flip", "truncate", "duplicate", "insert", "delete", "replace"]

Mutation = tuple[str, int, int, bytes]


def mutations(max_edits: int = 4) -> st.SearchStrategy[list[Mutation]]:
    chunk = st.sampled_from(INJECT) | st.binary(min_size=1, max_size=8)
    edit = st.tuples(st.sampled_from(_KINDS), st.integers(0, 2**16), st.integers(0, 300), chunk)
    return st.lists(edit, min_size=1, max_size=max_edits)


def mutate(data: bytes, edits: list[Mutation]) -> bytes:
    """``data`` with the edits applied in turn (positions wrap around the current length)."""
    out = bytearray(data)
    for kind, pos, n, chunk in edits:
        p = pos % (len(out) + 1)
        if kind == "flip" and out:
            out[p % len(out)] ^= n % 255 + 1
        elif kind == "truncate":
            del out[p:]
        elif kind == "duplicate":
            out[p:p] = out[p : p + n + 1]
        elif kind == "insert":
            out[p:p] = chunk
        elif kind == "delete":
            del out[p : p + n + 1]
        elif kind == "replace":
            out[p : p + len(chunk)] = chunk
    return bytes(out)


def _head(path: Path, size: int = 4096) -> bytes:
    data = path.read_bytes()[:size]
    return data[: data.rindex(b"\n") + 1]


def ratings_seed() -> bytes:
    """The first 15 ratings of the first 8 MovieLens users (importable: 8 users, 120 rows)."""
    lines = (SAMPLE / "ratings.csv").read_bytes().splitlines(keepends=True)
    by_user: dict[bytes, list[bytes]] = {}
    for line in lines[1:]:
        user = line.split(b",", 1)[0]
        if user in by_user or len(by_user) < 8:
            by_user.setdefault(user, []).append(line)
        if len(by_user) == 8 and min(len(v) for v in by_user.values()) >= 15:
            break
    return lines[0] + b"".join(line for rows in by_user.values() for line in rows[:15])


def movies_seed() -> bytes:
    """The first few KB of MovieLens movies.csv (titles with commas, quotes and '|' genres)."""
    return _head(SAMPLE / "movies.csv")


def parquet_seed() -> bytes:
    buf = io.BytesIO()
    pd.read_csv(io.BytesIO(ratings_seed())).to_parquet(buf)
    return buf.getvalue()


def vector_seeds() -> dict[str, bytes]:
    """One small valid file per accepted vector layout, keyed by file name."""
    rng = np.random.default_rng(0)
    ids = np.array([f"i{k}" for k in range(6)])
    matrix = rng.normal(size=(6, 4)).round(3)
    frame = pd.DataFrame(matrix, columns=[f"v{k}" for k in range(4)]).assign(item_id=ids)
    text = pd.DataFrame({"id": ids, "vector": [" ".join(map(str, row)) for row in matrix]})
    seeds = {
        "v.csv": frame.to_csv(index=False).encode(),
        "v.tsv": text.to_csv(index=False, sep="\t").encode(),
    }
    buf = io.BytesIO()
    frame.assign(vector=list(matrix))[["item_id", "vector"]].to_parquet(buf)
    seeds["v.parquet"] = buf.getvalue()
    record = np.zeros(6, dtype=[("item_id", "U4"), ("vector", "f4", (4,))])
    record["item_id"], record["vector"] = ids, matrix
    with_ids = np.hstack([np.arange(6)[:, None], matrix])
    for name, array in [("s.npy", record), ("m.npy", with_ids)]:
        buf = io.BytesIO()
        np.save(buf, array)
        seeds[name] = buf.getvalue()
    for name, save in [("v.npz", np.savez), ("c.npz", np.savez_compressed)]:
        buf = io.BytesIO()
        save(buf, ids=ids, vectors=matrix)
        seeds[name] = buf.getvalue()
    return seeds
