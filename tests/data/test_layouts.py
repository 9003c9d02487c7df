"""Known dataset layouts by shape, roles per column, flag folding and import of MovieLens 100k."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys_core.columns import Columns
from recsys_core.data.io import read_table, renamed
from recsys_core.data.layouts import ML100K_GENRES, flag_names, recognise
from recsys_core.data.mapping import ItemMapping, infer_item_mapping
from recsys_core.data.roles import (
    behaviour_mapping,
    dataset_name,
    propose_behaviour,
    propose_side,
    set_roles,
    side_mapping,
)
from recsys_core.data.validate import validate
from recsys_core.errors import InputError
from tests.data import layout_files as files


@pytest.mark.parametrize(
    ("data", "name", "label", "dataset"),
    [
        (files.U_DATA, "u.data", "MovieLens 100k u.data (ratings)", "ml-100k"),
        (files.U_ITEM, "u.item", "MovieLens 100k u.item (movies)", "ml-100k"),
        (files.U_USER, "u.user", "MovieLens 100k u.user (users)", "ml-100k"),
        (files.U_GENRE, "u.genre", "MovieLens 100k u.genre (genre names)", "ml-100k"),
        (files.ML1M_RATINGS, "ratings.dat", "MovieLens 1M ratings.dat", "ml-1m"),
        (files.ML1M_MOVIES, "movies.dat", "MovieLens 1M movies.dat", "ml-1m"),
        (files.ML1M_USERS, "users.dat", "MovieLens 1M users.dat", "ml-1m"),
        (files.BX_RATINGS, "BX-Book-Ratings.csv", "Book-Crossing BX-Book-Ratings.csv",
         "book-crossing"),
        (files.BX_BOOKS, "BX-Books.csv", "Book-Crossing BX-Books.csv", "book-crossing"),
        (files.BX_USERS, "BX-Users.csv", "Book-Crossing BX-Users.csv", "book-crossing"),
        (files.LASTFM_USER_ARTISTS, "user_artists.dat",
         "Last.fm user_artists.dat (HetRec 2011)", "lastfm-2k"),
        (files.LASTFM_ARTISTS, "artists.dat", "Last.fm artists.dat (HetRec 2011)", "lastfm-2k"),
    ],
)  # fmt: skip
def test_layouts_are_recognised_by_content_whatever_the_file_name(data, name, label, dataset):
    for source in (name, "upload", "x.txt"):  # renamed uploads read the same
        layout = recognise(read_table(data, source))
        assert layout is not None and layout.label == label and layout.dataset == dataset
    assert dataset_name(read_table(data, name)) == dataset


def test_movielens_csv_files_of_the_bundled_sample():
    sample = Path(__file__).resolve().parents[2] / "recsys_core/data/samples/ml-latest-small"
    ratings, movies = (read_table(sample / f) for f in ("ratings.csv", "movies.csv"))
    assert dataset_name(ratings, movies) == "movielens"
    proposal = propose_side(movies, "item")
    assert proposal.roles == ["id", "title", "multi"] and proposal.names == list(movies.frame)


def test_other_integer_ratings_files_are_not_taken_for_movielens():
    today = b"".join(
        b"%d\t%d\t%d\t1700000000\n" % (u, i, 1 + i % 5) for u in range(3) for i in range(3)
    )
    raw = read_table(today, "u.data")  # the name does not matter: 2023 is not 1997-98
    assert raw.fmt.preset == "movielens-udata" and recognise(raw) is None
    assert dataset_name(raw) == "u"
    stars = files.U_DATA.replace(b"\t1\t", b"\t10\t")  # ratings 1-5 only
    assert recognise(read_table(stars, "u.data")) is None


def test_a_plain_csv_has_no_layout_and_its_name_is_the_file_stem():
    raw = read_table(b"user,item\n1,2\n3,4\n", "clicks.log.csv")
    assert recognise(raw) is None and dataset_name(raw) == "clicks.log"


def test_u_item_gets_names_roles_and_nineteen_flags_fold_into_genres():
    raw = read_table(files.U_ITEM, "u.item")
    assert raw.fmt.delimiter == "|" and raw.fmt.encoding == "latin-1" and not raw.fmt.header
    proposal = propose_side(raw, "item")
    assert proposal.names[:5] == [
        "movie_id", "title", "release_date", "video_release_date", "imdb_url"
    ]  # fmt: skip
    assert proposal.names[5:] == list(ML100K_GENRES) and proposal.fold == "genres"
    assert proposal.roles[:5] == ["id", "title", "timestamp", "ignore", "ignore"]
    mapping = side_mapping(proposal.names, proposal.roles, "item", fold=proposal.fold)
    assert isinstance(mapping, ItemMapping) and mapping.title == "title"
    assert mapping.flags == {"genres": list(ML100K_GENRES)} and mapping.numeric == []


def test_u_genre_names_the_flags_of_an_unrecognised_item_file():
    # u.item without its empty video-release-date column: 23 columns, no known layout
    lines = files.U_ITEM.decode("latin-1").splitlines()
    item = "".join("|".join(p[:3] + p[4:]) + "\n" for p in (x.split("|") for x in lines))
    raw = read_table(item.encode("latin-1"), "movies.item")
    assert recognise(raw) is None
    names = flag_names(read_table(files.U_GENRE, "u.genre"))
    assert names == list(ML100K_GENRES)
    proposal = propose_side(raw, "item", flag_names=names)
    assert proposal.layout is None and proposal.names[4:] == list(ML100K_GENRES)
    assert proposal.roles[:4] == ["id", "title", "timestamp", "ignore"]  # the URL: ignore
    assert proposal.roles[4:] == ["flag"] * 19
    with pytest.raises(InputError, match=r"3 flag names were given, but .* has 19"):
        propose_side(raw, "item", flag_names=["a", "b", "c"])
    with pytest.raises(InputError, match="not a table of flag names"):
        flag_names(read_table(files.U_USER, "u.user"))


def test_inference_folds_a_block_of_flags_ignores_urls_and_picks_a_title():
    frame = pd.DataFrame(
        {
            "id": ["1", "2", "3"],
            "label": ["Heat", "Up", "Alien"],
            "homepage": ["http://a.org/1", "http://a.org/2", "https://b.org/3"],
            "cover": ["img/1.jpg", "img/2.jpg", "img/3.png"],
            "f1": ["0", "1", "0"],
            "f2": ["1", "1", "0"],
            "f3": ["0", "0", "1"],
            "postcode": ["10115", "20095", "80331"],
        },
        dtype="str",
    )
    mapping = infer_item_mapping(frame)
    assert mapping.title == "label" and mapping.flags == {"flags": ["f1", "f2", "f3"]}
    assert mapping.image == ["cover"] and mapping.text == [] and mapping.numeric == []
    assert mapping.categorical == []  # the URL and the postcode are left out (role ignore)


def test_validation_stores_title_folded_genres_and_release_year(tmp_path):
    raws = {n: read_table(p) for n, p in files.write_ml100k(tmp_path).items()}
    behaviour = raws["u.data"]
    proposal = propose_side(raws["u.item"], "item")
    items = renamed(raws["u.item"], proposal.names)
    mapping = side_mapping(proposal.names, proposal.roles, "item", fold=proposal.fold)
    b = propose_behaviour(behaviour)
    data = validate(
        behaviour, behaviour_mapping(b.names, b.roles), items=items, item_mapping=mapping
    )
    assert data.report.ok, data.report.problems
    table = data.items
    assert table is not None and list(table.columns) == ["title", "release_date", "genres"]
    assert table.loc["1", "genres"] == ["Animation", "Children's", "Comedy"]
    assert table.loc["6", "title"] == "Misérables, Les (1995)"
    assert table.loc["1", "release_date"] == pytest.approx(1995.0)
    assert data.interactions[Columns.item].nunique() == 5


def test_bad_flags_and_dates_are_errors_naming_the_line(tmp_path):
    bad = files.U_ITEM.replace(b"01-Jan-1995", b"someday", 1).replace(b"|1|1|1|", b"|1|7|1|", 1)
    raw = read_table(bad, "u.item")
    p = propose_side(read_table(files.U_ITEM, "u.item"), "item")  # the flags of a good file
    mapping = side_mapping(p.names, p.roles, "item", fold=p.fold)
    behaviour = read_table(files.U_DATA, "u.data")
    b = propose_behaviour(behaviour)
    data = validate(behaviour, behaviour_mapping(b.names, b.roles), items=renamed(raw, p.names),
                    item_mapping=mapping)  # fmt: skip
    codes = {x.code: x for x in data.report.errors}
    assert set(codes) >= {"bad_flag", "bad_date"}
    assert "line 1" in codes["bad_date"].message


def test_roles_are_checked_and_a_new_title_demotes_the_old():
    names = ["id", "name", "blurb"]
    roles = set_roles(names, ["id", "title", "text"], {"blurb": "title"}, "items.csv")
    assert roles == ["id", "text", "title"]
    with pytest.raises(InputError, match="no column 'nope'"):
        set_roles(names, roles, {"nope": "text"}, "items.csv")
    with pytest.raises(InputError, match="one id column"):
        side_mapping(names, ["text", "text", "text"], "item")
    with pytest.raises(InputError, match="'title' is not a role of user columns"):
        side_mapping(names, ["id", "title", "text"], "user")
    with pytest.raises(InputError, match="both have the role user"):
        behaviour_mapping(["a", "b", "c"], ["user", "user", "item"])


def test_renaming_refuses_a_wrong_count_and_duplicates():
    raw = read_table(files.U_USER, "u.user")
    with pytest.raises(InputError, match="has 5 columns but 2 names"):
        renamed(raw, ["a", "b"])
    with pytest.raises(InputError, match="appears more than once"):
        renamed(raw, ["a", "a", "b", "c", "d"])


def test_unreadable_files_say_which_formats_work():
    with pytest.raises(InputError, match=r"is empty.*any one-character delimiter.*Parquet"):
        read_table(b"   \n", "u.item")


def test_uncommon_and_chosen_delimiters():
    raw = read_table(b"user^item^rating\n1^2^5\n3^4^1\n", "x.data")
    assert raw.fmt.delimiter == "^" and list(raw.frame.columns) == ["user", "item", "rating"]
    raw = read_table("user¦item\n1¦2\n3¦4\n".encode("latin-1"), "x", delimiter="¦")
    assert raw.frame.iloc[1].tolist() == ["3", "4"]
    raw = read_table(b"1;2\n3;4\n", "x", header=False, encoding="Latin-1")
    assert raw.fmt.encoding == "latin-1" and len(raw.frame) == 2
    assert np.array_equal(raw.frame.to_numpy(), [["1", "2"], ["3", "4"]])


_CELL = st.sampled_from(["0", "1", "", "2", "x", "1.0", "true", "01-Jan-1995", "2024-02-30",
                         "=cmd()", "\x00", "Misérables, Les", "9" * 400, "NULL"])  # fmt: skip


@settings(max_examples=60, deadline=5000)
@given(st.lists(st.tuples(_CELL, _CELL, _CELL, _CELL, _CELL), min_size=1, max_size=8))
def test_hostile_attribute_cells_give_a_report_never_a_crash(rows):
    """Flags, dates and titles of any content: a report (errors name lines), or an
    InputError; never another exception."""
    text = "".join(f"{j + 1}|" + "|".join(r).replace("\n", " ") + "\n" for j, r in enumerate(rows))
    behaviour = read_table(files.U_DATA, "u.data")
    b = propose_behaviour(behaviour)
    names = ["id", "label", "released", "f1", "f2", "f3"]
    roles = ["id", "title", "timestamp", "flag", "flag", "flag"]
    try:
        items = renamed(read_table(text.encode(), "x.item", delimiter="|", header=False), names)
        mapping = side_mapping(names, roles, "item", fold="kinds")
        data = validate(behaviour, behaviour_mapping(b.names, b.roles), items=items,
                        item_mapping=mapping)  # fmt: skip
    except InputError:
        return
    assert data.items is not None and set(data.items.columns) <= {"title", "released", "kinds"}
    for problem in data.report.errors:
        assert problem.message and problem.code
