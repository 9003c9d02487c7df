"""Reading and sniffing real files written into tmp_path: formats, encodings, bad files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_core.columns import Columns
from recsys_core.data import io
from recsys_core.data.io import FileFormat, read_table, sniff
from recsys_core.errors import InputError

PRESET_COLUMNS = [Columns.user, Columns.item, Columns.rating, Columns.timestamp]


# ---------------------------------------------------------------------------------- formats
def test_movielens_ratings_csv_preset_and_lines(ratings_file):
    raw = read_table(ratings_file())
    assert raw.fmt == FileFormat("csv", ",", True, "utf-8", "movielens-csv")
    assert raw.fmt.describe() == "CSV, delimiter ',', header row, UTF-8 (MovieLens ratings.csv)"
    assert list(raw.frame.columns) == ["userId", "movieId", "rating", "timestamp"]
    assert len(raw.frame) == 20 and raw.source == "ratings.csv" and raw.first_line == 2
    assert raw.frame.iloc[0].tolist() == ["1", "101", "2", "1577836810"]
    assert raw.line(np.array([0, 19])).tolist() == [2, 21]


def test_every_column_is_read_as_strings_keeping_leading_zeros(write):
    raw = read_table(write("z.csv", "user,item,price\n007,0042,1.50\n8,9,\n"))
    assert all(str(t) == "str" for t in raw.frame.dtypes)
    assert raw.frame["user"].tolist() == ["007", "8"]
    assert raw.frame["price"].iloc[0] == "1.50" and pd.isna(raw.frame["price"].iloc[1])


def test_u_data_preset_is_tab_separated_without_header(write):
    raw = read_table(write("u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n"))
    assert raw.fmt.preset == "movielens-udata" and raw.fmt.delimiter == "\t"
    assert not raw.fmt.header and raw.first_line == 1
    assert list(raw.frame.columns) == PRESET_COLUMNS
    assert raw.frame[Columns.item].tolist() == ["242", "302"]
    assert "MovieLens u.data" in raw.fmt.describe() and "no header row" in raw.fmt.describe()


def test_ratings_dat_preset_splits_on_double_colon(write):
    raw = read_table(write("ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n"))
    assert raw.fmt.preset == "movielens-dat" and raw.fmt.delimiter == "::"
    assert list(raw.frame.columns) == PRESET_COLUMNS
    assert raw.frame.iloc[1].tolist() == ["1", "661", "3", "978302109"]
    assert "delimiter '::'" in raw.fmt.describe()


def test_utf8_bom_is_stripped_from_the_first_column_name(write):
    raw = read_table(write("bom.csv", b"\xef\xbb\xbfuserId,movieId,rating\n1,2,4.5\n"))
    assert list(raw.frame.columns) == ["userId", "movieId", "rating"]
    assert raw.fmt.encoding == "utf-8-sig" and "UTF-8 with BOM" in raw.fmt.describe()


def test_latin1_file_falls_back_and_keeps_accents(write):
    raw = read_table(write("latin.csv", "item,title\n1,Café crème\n2,Noël\n", "latin-1"))
    assert raw.fmt.encoding == "latin-1" and "Latin-1" in raw.fmt.describe()
    assert raw.frame["title"].tolist() == ["Café crème", "Noël"]


def test_windows_1252_smart_quotes_are_decoded(write):
    raw = read_table(write("w.csv", "item,title\n1,\u201cHi\u201d \u2013 there\n", "cp1252"))
    assert raw.fmt.encoding == "cp1252"
    assert raw.frame["title"].iloc[0] == "\u201cHi\u201d \u2013 there"


def test_utf16_with_bom_is_read(write):
    raw = read_table(write("x.txt", "user\titem\n1\t2\n", "utf-16"))
    assert raw.fmt.encoding == "utf-16" and raw.frame.iloc[0].tolist() == ["1", "2"]


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("user;item;rating\n1;2;4,5\n2;3;3\n", ";"),  # decimal commas do not fool the sniffer
        ("user|item\n1|2\n3|4\n", "|"),
        ("user\titem\tnote\n1\t2\ta, b\n", "\t"),
        ("1  2   4.0 881250949\n2 3 5 881250950\n", " "),
    ],
)
def test_sniffs_delimiter(write, text, delimiter):
    raw = read_table(write("d.txt", text))
    assert raw.fmt.delimiter == delimiter
    assert len(raw.frame.columns) == len(raw.frame.iloc[0]) >= 2


def test_space_delimited_columns_aligned_with_several_spaces(write):
    raw = read_table(write("s.txt", "1  2   4.0 881250949\n2 3 5 881250950\n"))
    assert raw.frame.iloc[0].tolist() == ["1", "2", "4.0", "881250949"]


def test_headerless_file_gets_numbered_column_names(write):
    raw = read_table(write("h.csv", "1,2,4.0\n2,3,5\n"))
    assert not raw.fmt.header and list(raw.frame.columns) == ["column_1", "column_2", "column_3"]
    assert raw.first_line == 1 and len(raw.frame) == 2


def test_header_detected_on_all_text_columns(write):
    with_header = read_table(write("a.csv", "user,item,event\nu1,i1,click\nu1,i2,view\n"))
    without = read_table(write("b.csv", "u1,i1,click\nu1,i2,view\nu2,i1,click\n"))
    assert with_header.fmt.header and len(with_header.frame) == 2
    assert not without.fmt.header and len(without.frame) == 3


def test_quoted_delimiters_and_newlines_keep_exact_line_numbers(write):
    text = 'item,title\n\n1,"Innocents, The"\n2,"two\nlines"\n\n3,x\r\n'
    raw = read_table(write("q.csv", text))
    assert raw.frame["title"].tolist() == ["Innocents, The", "two\nlines", "x"]
    assert raw.line(np.arange(3)).tolist() == [3, 4, 7]


def test_literal_inch_quotes_with_blank_lines_keep_exact_line_numbers(write):
    text = 'item,title\n\n1,TV 55"\n2,"two\nlines"\n\n3,c\n'
    raw = read_table(write("inch.csv", text))
    assert raw.frame["title"].tolist() == ['TV 55"', "two\nlines", "c"]
    assert raw.line(np.arange(3)).tolist() == [3, 4, 7]


def test_unclosed_quote_is_refused_instead_of_swallowing_the_file(write):
    with pytest.raises(InputError, match=r"line 3 opens a quote \(\"\) that is never closed"):
        read_table(write("open.csv", 'user,title\n1,ok\n2,"unclosed\n3,b\n4,c\n'))


def test_leading_blank_lines_shift_line_numbers(write):
    raw = read_table(write("lead.csv", "\n\nuser,item\n1,2\n3,4\n"))
    assert list(raw.frame.columns) == ["user", "item"]
    assert raw.line(np.arange(2)).tolist() == [4, 5]


def test_crlf_line_endings(write):
    raw = read_table(write("crlf.csv", "user,item\r\n1,2\r\n3,4\r\n"))
    assert raw.frame["item"].tolist() == ["2", "4"] and raw.line(np.arange(2)).tolist() == [2, 3]


def test_bytes_and_path_give_the_same_table(ratings_file):
    path = ratings_file()
    from_path = read_table(path)
    from_bytes = read_table(path.read_bytes(), "ratings.csv")
    pd.testing.assert_frame_equal(from_path.frame, from_bytes.frame)
    assert from_bytes.source == "ratings.csv" and from_bytes.fmt == from_path.fmt


def test_parquet_columns_become_strings_with_row_numbers(tmp_path):
    frame = pd.DataFrame(
        {
            "movieId": [1, 2],
            "price": [1.5, None],
            "genres": [["Comedy", "Drama"], ["Horror"]],
            "released": pd.to_datetime(["2020-01-02", "2021-03-04"]),
        }
    )
    path = tmp_path / "movies.parquet"
    frame.to_parquet(path)
    raw = read_table(path)
    assert raw.fmt.kind == "parquet" and raw.fmt.describe() == "Parquet"
    assert raw.frame["movieId"].tolist() == ["1", "2"]
    assert raw.frame["genres"].tolist() == ["Comedy|Drama", "Horror"]
    assert raw.frame["price"].iloc[0] == "1.5" and pd.isna(raw.frame["price"].iloc[1])
    assert raw.frame["released"].iloc[1].startswith("2021-03-04")
    assert raw.first_line == 1 and raw.line(np.array([1])).tolist() == [2]


def test_sniff_recognises_parquet_magic():
    assert sniff(b"PAR1" + b"\x00" * 10, "x.parquet").kind == "parquet"


# ---------------------------------------------------------------------------------- bad files
def test_empty_file_is_refused_naming_the_file(write):
    with pytest.raises(InputError, match=r"empty\.csv is empty"):
        read_table(write("empty.csv", b""))


def test_whitespace_only_file_is_empty(write):
    with pytest.raises(InputError, match="is empty"):
        read_table(write("blank.csv", "\n \n\n"))


def test_header_only_file_has_no_data_rows(write):
    with pytest.raises(InputError, match=r"only\.csv has a header row but no data rows"):
        read_table(write("only.csv", "userId,movieId,rating,timestamp\n"))


def test_ragged_rows_name_lines_and_field_counts(write):
    text = "user,item,rating\n1,2,4\n2,3,5,6\n3,4,5\n4,5\n"
    with pytest.raises(InputError) as info:
        read_table(write("ragged.csv", text))
    message = str(info.value)
    assert "ragged.csv" in message and "2 rows do not have the 3 fields of the header" in message
    assert "line 3 has 4 fields" in message and "line 5 has 2 fields" in message
    assert "double quotes" in message


def test_mixed_delimiters_in_the_sample_are_named(write):
    text = "user,item,rating\n1,2,4\n2,3,5\n3;4;5\n4;5;1\n5;6;2\n"
    with pytest.raises(InputError) as info:
        read_table(write("mixed.csv", text))
    message = str(info.value)
    assert "mixes delimiters" in message and "','" in message and "';'" in message
    assert "lines 4, 5, 6 use ';'" in message


def test_mixed_delimiters_after_the_sample_show_as_ragged_rows_with_a_hint(write, rating_rows):
    good = ["userId,movieId,rating,timestamp", *rating_rows(n_users=30, per_user=10)]
    bad = rating_rows(n_users=2, per_user=1, sep=";")
    with pytest.raises(InputError) as info:
        read_table(write("late.csv", "\n".join(good + bad) + "\n"))
    message = str(info.value)
    assert "line 302 has 1 fields" in message and "line 303 has 1 fields" in message
    assert "separated by ';', not ','" in message


def test_wrong_delimiter_chosen_explicitly_is_explained(write):
    path = write("semi.csv", "user;item;rating\n1;2;3\n2;3;4\n")
    with pytest.raises(InputError, match=r"separated by ';'\. Choose ';'"):
        read_table(path, fmt=FileFormat("csv", ",", True, "utf-8", None))


def test_xlsx_renamed_to_csv_is_refused(tmp_path):
    path = tmp_path / "sales.csv"
    with zipfile.ZipFile(path, "w") as book:  # a real zip container, as .xlsx files are
        book.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(InputError, match=r"sales\.csv looks like an Excel workbook.*save it as"):
        read_table(path)


def test_old_excel_ole2_file_is_refused(write):
    path = write("old.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 32)
    with pytest.raises(InputError, match="Excel 97-2003 workbook"):
        read_table(path)


def test_gzip_file_is_refused_with_advice(write):
    with pytest.raises(InputError, match="gzip-compressed"):
        read_table(write("r.csv", b"\x1f\x8b\x08\x00rest"))


def test_file_over_the_limit_says_how_to_raise_it(ratings_file):
    with pytest.raises(InputError) as info:
        read_table(ratings_file(), max_bytes=100)
    message = str(info.value)
    assert "ratings.csv" in message and "over the upload limit of 100 bytes" in message
    assert "RECSYS_MAX_UPLOAD_MB" in message and "server.maxUploadSize" in message


def test_upload_limit_from_env(monkeypatch):
    monkeypatch.setenv("RECSYS_MAX_UPLOAD_MB", "5")
    assert io._env_limit() == 5
    monkeypatch.setenv("RECSYS_MAX_UPLOAD_MB", "lots")
    with pytest.warns(UserWarning, match="RECSYS_MAX_UPLOAD_MB"):
        assert io._env_limit() == 200


def test_default_limit_applies_to_uploads(monkeypatch):
    monkeypatch.setattr(io, "MAX_UPLOAD_MB", 0)
    with pytest.raises(InputError, match="over the upload limit"):
        read_table(b"a,b\n1,2\n", "up.csv")


def test_undecodable_bytes_name_the_line(write):
    path = write("forced.csv", "user,title\n1,ok\n2,caf\xe9\n", "latin-1")
    with pytest.raises(InputError, match="line 3 has bytes that are not valid UTF-8"):
        read_table(path, fmt=FileFormat("csv", ",", True, "utf-8", None))


def test_nul_bytes_mean_a_binary_file(write):
    with pytest.raises(InputError, match=r"NUL bytes \(first on line 2\)"):
        read_table(write("bin.csv", b"a,b\n1,\x00\x01\n"))


def test_duplicate_column_names_are_refused(write):
    with pytest.raises(InputError, match=r"'user' appears more than once.*columns 1, 3"):
        read_table(write("dup.csv", "user,item,user\n1,2,3\n"))


def test_missing_path_is_an_input_error(tmp_path: Path):
    with pytest.raises(InputError, match="no such file"):
        read_table(tmp_path / "nope.csv")


def test_broken_parquet_is_an_input_error(write):
    with pytest.raises(InputError, match="not a readable Parquet file"):
        read_table(write("x.parquet", b"PAR1garbage"))
