"""`recsys import` refusals (issue 11): exit 2, one message, no traceback, nothing written.

Every case runs on SQLite and PostgreSQL, where COPY and jsonb once failed with tracebacks.
"""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

from db import Store

TABLES = ("datasets", "dataset_versions", "users", "items", "interactions")


def _counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def _url(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=False)


def _ratings(rows: int = 12, extra: str = "", header: str = "user,item,rating,ts") -> str:
    body = "".join(f"u{k % 4},i{k % 6},{k % 5 + 1},{1_600_000_000 + k}\n" for k in range(rows))
    return f"{header}\n{body}{extra}"


def _refused(run, capsys, store: Store, *argv: str) -> str:
    """Run an import that must be refused; return its message after checking the contract."""
    before = _counts(store)
    code, out, err = run(capsys, "import", *argv, "--db", _url(store))
    assert code == 2, err
    assert out == "" and err.startswith("error: ")  # no warnings printed beside the refusal
    assert "Traceback" not in err and "Exception ignored" not in err
    assert _counts(store) == before
    return err


def test_map_overrides_rescue_a_file_inference_cannot_read(
    run, capsys, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "ab.csv"
    path.write_text("a,b\n" + "".join(f"x{k % 5},y{k % 7}\n" for k in range(40)))
    err = _refused(run, capsys, store, str(path), "--name", "ab")
    assert "--map user=COLUMN --map item=COLUMN" in err
    code, out, err = run(
        capsys, "import", str(path), "--name", "ab", "--map", "user=a", "--map", "item=b",
        "--db", _url(store), "--json",
    )  # fmt: skip
    assert code == 0, err
    assert (out["users"], out["items"], out["interactions"]) == (5, 7, 40)


def test_only_one_role_given_still_names_the_missing_one(
    run, capsys, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "ab.csv"
    path.write_text("a,b\n1,2\n")
    err = _refused(run, capsys, store, str(path), "--name", "ab", "--map", "user=a")
    assert "--map item=COLUMN" in err and "--map user=COLUMN" not in err


@pytest.mark.parametrize(
    ("cell", "code"),
    [("1e308", "rating_overflow"), ("1e400", "rating_overflow"), ("-1e400", "rating_overflow")],
)
def test_ratings_that_overflow_are_refused_with_their_line(
    run, capsys, store: Store, tmp_path: Path, cell: str, code: str
) -> None:
    path = tmp_path / "r.csv"
    path.write_text(_ratings(extra=f"u9,i9,{cell},1600000100\n"))
    err = _refused(run, capsys, store, str(path), "--name", "r")
    assert f"[{code}]" in err and "(line 14)" in err and "3.4e+38" in err


@pytest.mark.parametrize("cell", ["-99999999999", "1800-01-01", "2300-01-01T00:00:00Z"])
def test_timestamps_outside_1900_to_2200_are_refused(
    run, capsys, store: Store, tmp_path: Path, cell: str
) -> None:
    path = tmp_path / "t.csv"
    body = "user,item,rating,ts\n" + "".join(
        f"u{k % 4},i{k % 6},3,2020-01-0{k % 9 + 1}\n" for k in range(12)
    )
    path.write_text(body + f"u1,i9,3,{cell}\n" if "-" in cell[1:] else _ratings(
        extra=f"u1,i9,3,{cell}\n"))  # fmt: skip
    err = _refused(run, capsys, store, str(path), "--name", "t")
    assert "[timestamp_out_of_range]" in err and "(line 14)" in err
    assert "before 1900-01-01 or from 2200-01-01 on" in err


def test_item_number_with_5000_digits_is_refused_on_both_backends(
    run, capsys, store: Store, tmp_path: Path
) -> None:
    ratings, items = tmp_path / "r.csv", tmp_path / "items.csv"
    ratings.write_text(_ratings())
    rows = "".join(f"i{k},Title {k},{k}.5\n" for k in range(6))
    items.write_text("item,title,price\n" + rows + "i7,Huge," + "9" * 5000 + "\n")
    err = _refused(run, capsys, store, str(ratings), "--items", str(items), "--name", "r")
    assert "[number_overflow]" in err and "column 'price'" in err and "(line 8)" in err


def test_nul_in_a_csv_title_is_refused_naming_column_and_line(
    run, capsys, store: Store, tmp_path: Path
) -> None:
    ratings, items = tmp_path / "r.csv", tmp_path / "items.csv"
    ratings.write_text(_ratings())
    rows = "".join(f"i{k},A rather long title number {k} for padding,drama\n" for k in range(6))
    items.write_bytes(("item,title,genre\n" + rows).encode() + b"i3b,Bad\x00Title,comedy\n")
    err = _refused(run, capsys, store, str(ratings), "--items", str(items), "--name", "r")
    assert "[nul_character]" in err and "column 'title'" in err and "(line 8)" in err


def test_nul_in_a_parquet_title_is_refused(run, capsys, store: Store, tmp_path: Path) -> None:
    ratings, items = tmp_path / "r.csv", tmp_path / "items.parquet"
    ratings.write_text(_ratings())
    titles = [f"A long enough title {k}" for k in range(6)] + ["Bad\x00Title"]
    table = pa.table({"item": [f"i{k}" for k in range(7)], "title": titles})
    pq.write_table(table, items)
    err = _refused(run, capsys, store, str(ratings), "--items", str(items), "--name", "r")
    assert "[nul_character]" in err and "column 'title'" in err and "(line 7)" in err


def test_nul_in_an_id_is_refused(run, capsys, store: Store, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(_ratings(rows=200).encode() + b"u\x001,i1,3,1600000000\n")
    err = _refused(run, capsys, store, str(path), "--name", "r")
    assert "[malformed_id]" in err and "column 'user'" in err and "(line 202)" in err


@pytest.mark.parametrize("name", ["evil\x1b[2J\x1b[31mred", "two\nlines", "tab\there", "nul\x00"])
def test_dataset_names_with_control_characters_are_refused(
    run, capsys, store: Store, tmp_path: Path, name: str
) -> None:
    path = tmp_path / "r.csv"
    path.write_text(_ratings())
    err = _refused(run, capsys, store, str(path), "--name", name)
    assert "no control or formatting characters" in err
    assert "\x1b" not in err and "\x00" not in err  # the name is shown escaped


def test_utf16_bom_with_invalid_utf16_exits_2(run, capsys, store: Store, tmp_path: Path) -> None:
    path = tmp_path / "u16.csv"
    path.write_bytes(b"\xff\xfeu\x00s\x00e\x00r\x00,\x00i\x00\n")
    err = _refused(run, capsys, store, str(path), "--name", "u")
    assert "not valid UTF-16" in err


def test_row_limit_is_checked_before_parsing(
    run, capsys, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECSYS_MAX_ROWS", "10")
    path = tmp_path / "r.csv"
    path.write_text(_ratings(rows=20))
    err = _refused(run, capsys, store, str(path), "--name", "r")
    assert "21 lines, over the limit of 10 rows (RECSYS_MAX_ROWS)" in err
    table = tmp_path / "r.parquet"
    pq.write_table(pa.table({"user": ["u1"] * 11, "item": ["i1"] * 11}), table)
    err = _refused(run, capsys, store, str(table), "--name", "r")
    assert "11 rows, over the limit of 10 rows (RECSYS_MAX_ROWS)" in err


def test_parquet_size_limit_is_read_from_the_footer(
    run, capsys, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECSYS_MAX_TABLE_MB", "1")
    path = tmp_path / "zeros.parquet"
    zeros = pa.array([0] * 300_000, pa.int64())  # 2.3 MB of plain int64, a few KB compressed
    table = pa.table({"user": zeros, "item": zeros})
    pq.write_table(table, path, use_dictionary=False, compression="zstd")
    assert path.stat().st_size < 100_000
    err = _refused(run, capsys, store, str(path), "--name", "z")
    assert "uncompressed, over the limit of 1 MB (RECSYS_MAX_TABLE_MB)" in err


def test_parquet_dictionary_bomb_is_refused_before_expanding(
    run, capsys, store: Store, tmp_path: Path
) -> None:
    """One 4 MB title repeated 1,000 times: 4 GB as text from a file of a few KB."""
    path = tmp_path / "bomb.parquet"
    codes = pa.array([0] * 1000, pa.int32())
    titles = pa.DictionaryArray.from_arrays(codes, pa.array(["x" * (4 << 20)]))
    ids = pa.array([f"i{k}" for k in range(1000)])
    buf = io.BytesIO()
    pq.write_table(pa.table({"user": ids, "item": ids, "title": titles}), buf, compression="zstd")
    path.write_bytes(buf.getvalue())
    err = _refused(run, capsys, store, str(path), "--name", "b")
    assert "as text, over the limit of 2,000 MB (RECSYS_MAX_TABLE_MB)" in err


def test_ragged_file_prints_one_message(run, capsys, store: Store, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(_ratings(extra="u1,i1\n"))
    err = _refused(run, capsys, store, str(path), "--name", "r")
    assert err.count("\n") == 1 and "line 14 has 2 fields" in err


def test_parquet_dictionary_bomb_inside_lists_is_refused(
    run, capsys, store: Store, tmp_path: Path
) -> None:
    """The same 4 MB genre in the list of each of 1,000 items."""
    path = tmp_path / "bomb.parquet"
    ids = pa.array([f"i{k}" for k in range(1000)])
    genre = pa.DictionaryArray.from_arrays(pa.array([0] * 1000, pa.int32()), ["x" * (4 << 20)])
    genres = pa.ListArray.from_arrays(pa.array(range(1001), pa.int32()), genre)
    table = pa.table({"user": ids, "item": ids, "genres": genres})
    pq.write_table(table, path, compression="zstd", dictionary_pagesize_limit=64 << 20)
    assert path.stat().st_size < 1_000_000
    err = _refused(run, capsys, store, str(path), "--name", "b")
    assert "as text, over the limit of 2,000 MB (RECSYS_MAX_TABLE_MB)" in err
