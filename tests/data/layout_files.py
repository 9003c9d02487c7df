"""Small faithful copies of public dataset files: a few lines each, in the real format.

MovieLens 100k (u.data tab-separated; u.item, u.user, u.genre pipe-separated, Latin-1, no
header), MovieLens 1M ('::'), Book-Crossing (';', quoted, header) and Last.fm HetRec 2011
(tab, header). The rating lines give every user several items, so the files validate.
"""

from __future__ import annotations

from pathlib import Path

_FLAGS = {
    1: "0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0",
    2: "0|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0|1|0|0",
    3: "0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|1|0|0",
    4: "0|1|0|0|0|1|0|0|1|0|0|0|0|0|0|0|0|0|0",
    5: "0|0|0|0|0|0|1|0|1|0|0|0|0|0|0|0|1|0|0",
    6: "0|0|0|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0",
}
_TITLES = {
    1: "Toy Story (1995)",
    2: "GoldenEye (1995)",
    3: "Four Rooms (1995)",
    4: "Get Shorty (1995)",
    5: "Copycat (1995)",
    6: "Misérables, Les (1995)",
}
U_ITEM = "".join(
    f"{i}|{t}|01-Jan-1995||http://us.imdb.com/M/title-exact?{t.replace(' ', '%20')}|{_FLAGS[i]}\n"
    for i, t in _TITLES.items()
).encode("latin-1")
GENRES = [
    *("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime"),
    *("Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery"),
    *("Romance", "Sci-Fi", "Thriller", "War", "Western"),
]
U_GENRE = ("".join(f"{g}|{j}\n" for j, g in enumerate(GENRES)) + "\n").encode("latin-1")
U_USER = b"""1|24|M|technician|85711
2|53|F|other|94043
3|23|M|writer|32067
4|24|M|technician|43537
5|33|F|other|15213
6|42|M|executive|98101
"""
#: 6 users x 5 items (item 6 is rated by nobody: a cold catalogue item).
U_DATA = "".join(
    f"{u}\t{i}\t{1 + (u * i) % 5}\t{881250949 + 1000 * u + i}\n"
    for u in range(1, 7)
    for i in range(1, 6)
).encode()
ML1M_RATINGS = b"1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n"
ML1M_MOVIES = (
    "1::Toy Story (1995)::Animation|Children's|Comedy\n"
    "2::Jumanji (1995)::Adventure|Children's|Fantasy\n"
    "3::Grumpier Old Men (1995)::Comedy|Romance\n"
).encode("latin-1")
ML1M_USERS = b"1::F::1::10::48067\n2::M::56::16::70072\n3::M::25::15::55117\n"
BX_RATINGS = (
    b'"User-ID";"ISBN";"Book-Rating"\n"276725";"034545104X";"0"\n"276726";"0155061224";"5"\n'
)
_IMG = "http://images.amazon.com/images/P/0195153448.01"
BX_BOOKS = (
    '"ISBN";"Book-Title";"Book-Author";"Year-Of-Publication";"Publisher";"Image-URL-S";'
    '"Image-URL-M";"Image-URL-L"\n'
    f'"0195153448";"Classical Mythology";"Mark P. O. Morford";"2002";"Oxford University Press";'
    f'"{_IMG}.THUMBZZZ.jpg";"{_IMG}.MZZZZZZZ.jpg";"{_IMG}.LZZZZZZZ.jpg"\n'
).encode()
BX_USERS = (
    b'"User-ID";"Location";"Age"\n"1";"nyc, new york, usa";NULL\n'
    b'"2";"stockton, california, usa";"18"\n'
)
LASTFM_USER_ARTISTS = b"userID\tartistID\tweight\n2\t51\t13883\n2\t52\t11690\n3\t51\t228\n"
LASTFM_ARTISTS = (
    b"id\tname\turl\tpictureURL\n"
    b"51\tDuran Duran\thttp://www.last.fm/music/Duran+Duran\t"
    b"http://userserve-ak.last.fm/serve/252/155668.jpg\n"
    b"52\tMorcheeba\thttp://www.last.fm/music/Morcheeba\t"
    b"http://userserve-ak.last.fm/serve/252/54697835.png\n"
)


def write_ml100k(folder: Path) -> dict[str, Path]:
    """u.data, u.item, u.user, u.genre in ``folder``; their paths by name."""
    files = {"u.data": U_DATA, "u.item": U_ITEM, "u.user": U_USER, "u.genre": U_GENRE}
    out = {}
    for name, data in files.items():
        (folder / name).write_bytes(data)
        out[name] = folder / name
    return out
