"""Well-known public dataset files, recognised by their shape, so their columns get names.

MovieLens 100k ships ``u.data``, ``u.item``, ``u.user`` and ``u.genre`` without a header;
MovieLens 1M its ``::`` files; Book-Crossing and Last.fm (HetRec 2011) have headers whose
names mean nothing to generic inference (``artistID``) or carry URLs that must not become
text features. Recognition reads the delimiter, the header, the column count and the values
of the first rows; the file name is never needed (an upload may be renamed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final, Literal, NoReturn

import pandas as pd

from recsys_core.data._names import norm
from recsys_core.data.io import RawTable
from recsys_core.errors import InputError

#: The 19 genre flags of MovieLens 100k's u.item, in u.genre's order.
ML100K_GENRES: Final = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
_SAMPLE: Final = 200
# When the ratings were collected (Unix seconds): September 1997 - April 1998 for 100k,
# April 2000 - February 2003 for 1M, with a margin.
_ML100K_TIME: Final = (870_000_000, 895_000_000)
_ML1M_TIME: Final = (950_000_000, 1_050_000_000)
_INT = re.compile(r"\d+")
_GENDER = re.compile(r"[MF]")

Table = Literal["behaviour", "items", "users", "flag_names"]


@dataclass(frozen=True)
class Layout:
    """A recognised file: what it is, the dataset it belongs to, its columns' names and roles.

    Attributes:
        label: shown to the analyst, e.g. "MovieLens 100k u.item (movies)".
        dataset: the default dataset name, e.g. "ml-100k".
        table: which upload it is: behaviour, item or user attributes, or flag names.
        names: column names for a headerless file; None keeps the file's header.
        roles: role of each column by position (see :mod:`recsys_core.data.roles`).
        fold: the multi-valued attribute the layout's 0/1 flag columns fold into.
    """

    label: str
    dataset: str
    table: Table
    names: tuple[str, ...] | None
    roles: tuple[str, ...]
    fold: str = "flags"
    notes: tuple[str, ...] = field(default=())


def recognise(raw: RawTable) -> Layout | None:
    """The known layout ``raw`` has, or None."""
    frame = raw.frame.head(_SAMPLE)
    if raw.fmt.kind != "csv":
        return None
    if raw.fmt.header:
        return _by_header(frame)
    return _headerless(frame, raw.fmt.delimiter or ",")


def _headerless(frame: pd.DataFrame, delimiter: str) -> Layout | None:
    n = frame.shape[1]
    if n not in (2, 3, 4, 5, 24):  # no known headerless layout: wide files cost nothing here
        return None
    cols = [frame.iloc[:, j] for j in range(n)]
    if delimiter == "\t" and n == 4 and _ratings(cols, _ML100K_TIME):
        return Layout("MovieLens 100k u.data (ratings)", "ml-100k", "behaviour", None,
                      ("user", "item", "rating", "timestamp"))  # fmt: skip
    if delimiter == "::" and n == 4 and _ratings(cols, _ML1M_TIME):
        return Layout("MovieLens 1M ratings.dat", "ml-1m", "behaviour", None,
                      ("user", "item", "rating", "timestamp"))  # fmt: skip
    if delimiter == "|" and n == 24 and _all(cols[0], _INT) and all(_flags(c) for c in cols[5:]):
        names = ("movie_id", "title", "release_date", "video_release_date", "imdb_url")
        roles = ("id", "title", "timestamp", "ignore", "ignore")
        return Layout("MovieLens 100k u.item (movies)", "ml-100k", "items",
                      names + ML100K_GENRES, roles + ("flag",) * 19, fold="genres")  # fmt: skip
    if delimiter == "|" and n == 5 and _all(cols[0], _INT) and _all(cols[2], _GENDER):
        return Layout("MovieLens 100k u.user (users)", "ml-100k", "users",
                      ("user_id", "age", "gender", "occupation", "zip_code"),
                      ("id", "number", "category", "category", "ignore"))  # fmt: skip
    if delimiter == "|" and n == 2 and _all(cols[1], _INT) and not _all(cols[0], _INT):
        return Layout("MovieLens 100k u.genre (genre names)", "ml-100k", "flag_names",
                      ("genre", "genre_id"), ("category", "id"))  # fmt: skip
    if delimiter == "::" and n == 3 and _all(cols[0], _INT):
        return Layout("MovieLens 1M movies.dat", "ml-1m", "items",
                      ("movie_id", "title", "genres"), ("id", "title", "multi"))  # fmt: skip
    if delimiter == "::" and n == 5 and _all(cols[0], _INT) and _all(cols[1], _GENDER):
        return Layout("MovieLens 1M users.dat", "ml-1m", "users",
                      ("user_id", "gender", "age", "occupation", "zip_code"),
                      ("id", "category", "category", "category", "ignore"),
                      notes=("age and occupation are codes (1M README): categories",))  # fmt: skip
    return None


_HEADERS: Final[dict[tuple[str, ...], tuple[str, str, Table, tuple[str, ...]]]] = {
    ("userid", "movieid", "rating", "timestamp"): (
        "MovieLens ratings.csv (latest, 20M, 25M, 32M)", "movielens", "behaviour",
        ("user", "item", "rating", "timestamp"),
    ),
    ("movieid", "title", "genres"): (
        "MovieLens movies.csv", "movielens", "items", ("id", "title", "multi"),
    ),
    ("userid", "isbn", "bookrating"): (
        "Book-Crossing BX-Book-Ratings.csv", "book-crossing", "behaviour",
        ("user", "item", "rating"),
    ),
    ("isbn", "booktitle", "bookauthor", "yearofpublication", "publisher", "imageurls",
     "imageurlm", "imageurll"): (
        "Book-Crossing BX-Books.csv", "book-crossing", "items",
        ("id", "title", "category", "number", "category", "ignore", "ignore", "image"),
    ),
    ("userid", "location", "age"): (
        "Book-Crossing BX-Users.csv", "book-crossing", "users", ("id", "category", "number"),
    ),
    ("userid", "artistid", "weight"): (
        "Last.fm user_artists.dat (HetRec 2011)", "lastfm-2k", "behaviour",
        ("user", "item", "rating"),
    ),
    ("id", "name", "url", "pictureurl"): (
        "Last.fm artists.dat (HetRec 2011)", "lastfm-2k", "items",
        ("id", "title", "ignore", "image"),
    ),
}  # fmt: skip


def _by_header(frame: pd.DataFrame) -> Layout | None:
    key = tuple(norm(c) for c in frame.columns)
    found = _HEADERS.get(key)
    if found is None:
        return None
    label, dataset, table, roles = found
    return Layout(label, dataset, table, None, roles)


def _ratings(cols: list[pd.Series], seconds: tuple[int, int]) -> bool:
    """Integer ids, ratings 1-5 and timestamps within the dataset's collection period."""
    if not all(_all(c, _INT) for c in cols):
        return False
    rating, ts = (pd.to_numeric(cols[j].dropna()) for j in (2, 3))
    return bool(rating.between(1, 5).all() and ts.between(*seconds).all())


def _all(column: pd.Series, pattern: re.Pattern[str]) -> bool:
    values = column.dropna().astype(str).str.strip()
    return bool(len(values)) and bool(values.str.fullmatch(pattern).all())


def _flags(column: pd.Series) -> bool:
    values = column.dropna().astype(str).str.strip()
    return bool(len(values)) and bool(values.isin(("0", "1")).all())


def flag_names(raw: RawTable) -> list[str]:
    """The names a flag-names table gives (u.genre: name|index), in index order."""
    frame = raw.frame.dropna(how="all")
    if frame.shape[1] != 2:
        raise_flag_names(raw)
    names, order = frame.iloc[:, 0].astype(str).str.strip(), frame.iloc[:, 1].astype(str)
    if not order.str.strip().str.fullmatch(_INT).all():
        raise_flag_names(raw)
    return names.iloc[order.astype(int).argsort()].tolist()


def raise_flag_names(raw: RawTable) -> NoReturn:
    """Refuse a file given as flag names that is not a name|position table."""
    raise InputError(
        f"{raw.source} is not a table of flag names: it needs two columns, a name and its "
        "position (0, 1, 2...), like MovieLens 100k's u.genre ('Action|1')."
    )
