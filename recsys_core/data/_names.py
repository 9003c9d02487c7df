"""Column names as inference reads them: normalised names per role, and finding a column."""

from __future__ import annotations

import re
from typing import Final

from recsys_core.columns import Columns

#: Behaviour-file roles, in the order inference claims columns.
ROLES: Final = ("user", "item", "rating", "timestamp", "event", "split")

# Normalised names (lower case, letters and digits only) per role, most specific first.
# fmt: off
EXACT: Final[dict[str, tuple[str, ...]]] = {
    "user": ("userid", "user", "uid", "customerid", "customer", "clientid", "client", "visitorid",
             "visitor", "memberid", "member", "accountid", "account", "reviewerid", "reviewer",
             "readerid", "viewerid", "buyerid", "shopperid", "subscriberid", "playerid",
             "studentid", "personid"),
    "item": ("itemid", "item", "movieid", "movie", "productid", "product", "sku", "skuid", "iid",
             "articleid", "article", "bookid", "book", "isbn", "asin", "trackid", "track",
             "songid", "song", "contentid", "content", "videoid", "video", "postid", "courseid",
             "offerid", "listingid", "recipeid", "businessid", "restaurantid", "hotelid", "jobid",
             "gameid", "animeid", "artistid", "artist", "showid", "documentid", "docid", "newsid",
             "itemcode"),
    "rating": ("rating", "ratings", "score", "stars", "star", "value", "rate", "grade",
               "ratingvalue", "userrating", "preference"),
    "timestamp": ("timestamp", "time", "date", "ts", "datetime", "eventtime", "createdat",
                  "created", "unixtime", "epoch", "dt", "eventdate", "ratingtime", "occurredat",
                  "viewedat", "purchasedat", "orderdate", "when"),
    "event": ("event", "eventtype", "action", "actiontype", "type", "interaction",
              "interactiontype", "behavior", "behaviour", "behaviortype", "activity", "eventname"),
    "split": ("istest", "split", "traintest", "subset", "set"),
}
# fmt: on
STEMS: Final[dict[str, tuple[str, ...]]] = {
    "user": ("user", "customer", "client", "visitor", "member"),
    "item": (
        "item",
        "product",
        "movie",
        "sku",
        "article",
        "book",
        "track",
        "song",
        "video",
        "artist",
    ),
    "rating": ("rating", "score", "star"),
    "timestamp": ("timestamp", "time", "date"),
    "event": ("event", "action"),
    "split": ("istest", "split"),
}


def norm(name: object) -> str:
    """Lower case, letters and digits only: "User-ID" and "user_id" both read "userid"."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def find(columns: list[str], role: str, taken: set[str]) -> str | None:
    """First free column named like ``role``: exact names first, then names containing a stem."""
    free = [c for c in columns if c not in taken]
    names = {norm(c): c for c in reversed(free)}
    for candidate in (*EXACT[role], norm(getattr(Columns, role))):
        if candidate in names:
            return names[candidate]
    return next((c for s in STEMS[role] for c in free if s in norm(c)), None)


def shown_names(names: list[str], limit: int = 20) -> str:
    """A list of column names for messages, cut after ``limit`` names."""
    if len(names) <= limit:
        return str(names)
    return f"{names[:limit]} (and {len(names) - limit:,} more)"
