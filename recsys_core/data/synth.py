"""Synthetic interactions with planted structure, for tests, demos and benchmarks."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.progress import Progress, report

CATEGORY_NAMES = (
    "Action", "Comedy", "Drama", "Documentary", "Sci-Fi", "Romance",
    "Horror", "Kids", "Music", "Sports", "Travel", "Cooking",
)  # fmt: skip
AGE_GROUPS = ("18-24", "25-34", "35-44", "45-54", "55+")
COUNTRIES = ("US", "GB", "DE", "FR", "BR", "IN", "JP", "ES", "CA", "AU")
COMMON_WORDS = (
    "the", "a", "of", "and", "story", "new", "great", "classic", "edition", "collection",
    "best", "with", "for", "life", "world", "people", "day", "original", "complete", "little",
)  # fmt: skip
GLOBAL_TAGS = ("bestseller", "new-release", "award-winner", "classic", "family", "indie")
_SYLLABLES = (
    "ka", "lo", "mi", "ren", "tos", "va", "zu", "pel", "dor", "qui",
    "sha", "ben", "tri", "gal", "mon", "fes", "ur", "nix", "ola", "bri",
)  # fmt: skip
_WORDS_PER_CATEGORY = 15
_WORDS_PER_POLE = 6
_CHUNK = 1_000_000  # interaction slots per chunk: bounds memory whatever the total size
_CANDIDATES = 4  # popularity-drawn candidates per slot; the best by affinity + noise wins
_OVERSAMPLE = 1.2  # extra draws per missing interaction, since repeated pairs are dropped
_CATEGORY_ROUNDS = 3  # later rounds draw uniformly: heavy users may exhaust their categories
_MAX_ROUNDS = 40
_DAY = 86_400


@dataclass(frozen=True)
class SyntheticTruth:
    """The planted structure (row ``k`` of a user array is user id ``k``; same for items).

    Attributes:
        user_factors: latent user factors, shape (n_users, n_factors), float32.
        item_factors: latent item factors, shape (n_items, n_factors), float32.
        item_categories: category index per item (into ``category_names``).
        user_preferences: each user's probabilities over categories, (n_users, n_categories).
        item_popularity: the power-law weight each item is drawn with inside its category.
        category_names: name per category index.
    """

    user_factors: np.ndarray
    item_factors: np.ndarray
    item_categories: np.ndarray
    user_preferences: np.ndarray
    item_popularity: np.ndarray
    category_names: tuple[str, ...]


@dataclass(frozen=True)
class SyntheticData:
    """Generated tables, shaped like an analyst's upload, plus the right answers.

    Ids are integers: users 0..n_users-1, items 0..n_items-1, equal to the rows of the
    ``truth`` arrays. ``interactions`` has Columns.user, Columns.item, Columns.rating (1-5,
    only when explicit) and Columns.timestamp (Unix seconds), sorted by user then time, with
    unique (user, item) pairs. ``items`` has Columns.item, title, description, category, tags
    ("a|b|c") and price; ``users`` has Columns.user, age_group and country.
    """

    interactions: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame
    truth: SyntheticTruth


def generate(
    n_users: int,
    n_items: int,
    n_interactions: int,
    *,
    seed: int = 0,
    n_factors: int = 8,
    n_categories: int = 12,
    popularity_skew: float = 1.0,
    explicit: bool = True,
    days: int = 365,
    start: str = "2024-01-01",
    progress: Progress | None = None,
    signal: Literal["all", "text", "categorical"] = "all",
) -> SyntheticData:
    """Generate a dataset whose structure is known, exactly reproducible from ``seed``.

    Each user gets an activity level (log-normal, so a few users are very active and every
    user has at least one interaction). Each interaction draws a category from the user's
    category preferences (Dirichlet, concentrated on a few categories), then a few candidate
    items of that category by power-law popularity (weight ``rank ** -popularity_skew``), and
    keeps the candidate with the best latent affinity ``user · item`` plus Gumbel noise: about
    a draw proportional to popularity x exp(affinity). Ratings rise with the affinity. Pairs
    are unique per user; the total is exactly ``n_interactions`` (the redraw rounds would have
    to fail 40 times in a row to fall short).

    ``signal`` plants the item structure in one modality only: "text" keeps titles and
    descriptions tied to each item's category and factors but gives category, tags and price
    those of a random other item (noise); "categorical" does the reverse. Fusion and content
    models can then be checked for finding the modality that carries the signal.

    Raises:
        InputError: sizes that cannot hold the request (e.g. more than half of all pairs).
    """
    if signal not in ("all", "text", "categorical"):
        raise InputError(f"signal must be 'all', 'text' or 'categorical'; got {signal!r}.")
    _check(n_users, n_items, n_interactions, n_factors, n_categories, popularity_skew, days)
    t0 = _start_seconds(start)
    rng = np.random.default_rng(seed)
    truth = _plant(rng, n_users, n_items, n_factors, n_categories, popularity_skew)
    counts = _user_counts(rng, n_users, n_items, n_interactions)
    users, items = _Sampler(truth).sample(rng, counts, progress)
    frame = _interaction_frame(rng, truth, users, items, explicit, t0, days)
    text_truth = meta_truth = truth
    if signal != "all":
        order = rng.permutation(n_items)  # another item's structure: no signal left
        noise = replace(
            truth,
            item_categories=truth.item_categories[order],
            item_factors=truth.item_factors[order],
        )
        text_truth, meta_truth = (truth, noise) if signal == "text" else (noise, truth)
    table = _item_table(rng, text_truth, meta_truth)
    return SyntheticData(frame, table, _user_table(rng, truth), truth)


def _start_seconds(start: str) -> int:
    """Unix seconds of ``start``; a date without a zone is UTC."""
    try:
        moment = pd.Timestamp(start)
    except ValueError:
        raise InputError(f"start={start!r} is not a date; use the form 2024-01-01.") from None
    if moment.tzinfo is None:
        moment = moment.tz_localize("UTC")
    return int(moment.timestamp())


def to_interactions(data: SyntheticData) -> Interactions:
    """The data as an :class:`Interactions`, with tags split into lists (as the importer does)."""
    items = data.items.set_index(Columns.item)
    items = items.assign(tags=items["tags"].str.split("|")).set_axis(items.index.astype(str))
    users = data.users.set_index(Columns.user)
    users = users.set_axis(users.index.astype(str))
    return Interactions.from_frame(data.interactions, item_features=items, user_features=users)


def _check(
    n_users: int, n_items: int, n: int, n_factors: int, n_cat: int, skew: float, days: int
) -> None:
    problems = []
    if n_users < 1 or n_factors < 1 or days < 1:
        problems.append("n_users, n_factors and days must be at least 1")
    if not 1 <= n_cat <= 200:
        problems.append("n_categories must be between 1 and 200")
    if n_items < n_cat:
        problems.append(f"n_items ({n_items}) must be at least n_categories ({n_cat})")
    if skew < 0:
        problems.append("popularity_skew must be >= 0 (0 means no popularity bias)")
    cap = max(1, n_items // 2)
    if not n_users <= n <= n_users * cap:
        problems.append(
            f"n_interactions must lie between n_users ({n_users:,}) and n_users x half the"
            f" items ({n_users * cap:,}), so that every user has one and pairs stay unique"
        )
    if problems:
        raise InputError("Cannot generate synthetic data: " + "; ".join(problems) + ".")


def _plant(
    rng: np.random.Generator, n_users: int, n_items: int, f: int, n_cat: int, skew: float
) -> SyntheticTruth:
    """Categories, latent factors around category centroids, preferences and popularity."""
    scale = f**-0.25  # so that a user · item affinity has a spread of about 1
    cats = rng.permutation(np.arange(n_items) % n_cat)  # every category has items
    centroids = rng.normal(0.0, scale, (n_cat, f))
    item_f = centroids[cats] + rng.normal(0.0, scale * 0.5, (n_items, f))
    prefs = rng.dirichlet(np.full(n_cat, 0.3), size=n_users)
    user_f = prefs @ centroids
    user_f *= scale / max(float(user_f.std()), 1e-12)
    user_f += rng.normal(0.0, scale * 0.5, (n_users, f))
    popularity = (1.0 + rng.permutation(n_items)) ** -skew
    names = CATEGORY_NAMES + tuple(f"Category {k + 1}" for k in range(len(CATEGORY_NAMES), n_cat))
    return SyntheticTruth(
        user_f.astype(np.float32),
        item_f.astype(np.float32),
        cats,
        prefs.astype(np.float32),
        popularity,
        names[:n_cat],
    )


def _user_counts(rng: np.random.Generator, n_users: int, n_items: int, n: int) -> np.ndarray:
    """Log-normal activity, at least 1 and at most half the catalogue per user, summing to n."""
    cap = max(1, n_items // 2)
    weight = rng.lognormal(0.0, 1.0, n_users)
    counts = np.ones(n_users, dtype=np.int64)
    while (deficit := n - int(counts.sum())) > 0:
        p = weight * (counts < cap)
        counts = np.minimum(counts + rng.multinomial(deficit, p / p.sum()), cap)
    return counts


class _Sampler:
    """Draws unique (user, item) pairs in chunks of users, fully vectorised."""

    def __init__(self, truth: SyntheticTruth) -> None:
        self.truth = truth
        cats = truth.item_categories
        n_users, n_cat = truth.user_preferences.shape
        cum = np.cumsum(truth.user_preferences, axis=1, dtype=np.float64)
        cum /= cum[:, -1:]
        # one sorted array: row u holds u + cumulative preferences, so a single searchsorted
        # draws a category for every slot whatever its user
        self.flat_pref = (cum + np.arange(n_users)[:, None]).ravel()
        self.n_cat = n_cat
        self.order = np.argsort(cats, kind="stable")  # items grouped by category
        self.cum_pop = np.cumsum(truth.item_popularity[self.order])
        sizes = np.bincount(cats, minlength=n_cat)
        self.seg_end = np.cumsum(sizes)
        self.seg_start = self.seg_end - sizes
        self.base = np.r_[0.0, self.cum_pop][self.seg_start]
        self.mass = self.cum_pop[self.seg_end - 1] - self.base

    def sample(
        self, rng: np.random.Generator, counts: np.ndarray, progress: Progress | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Users and items (int32), grouped by user, ``counts[u]`` distinct items for user u."""
        cum = np.cumsum(counts)
        cuts = np.searchsorted(cum, np.arange(_CHUNK, cum[-1], _CHUNK), side="left") + 1
        bounds = np.unique(np.r_[0, cuts, len(counts)])
        users, items = [], []
        for lo, hi in itertools.pairwise(bounds):
            u, i = self._chunk(rng, lo, counts[lo:hi])
            users.append(u)
            items.append(i)
            report(progress, int(cum[hi - 1]), int(cum[-1]), "drawing synthetic interactions")
        return np.concatenate(users), np.concatenate(items)

    def _chunk(
        self, rng: np.random.Generator, lo: int, counts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        n_items = len(self.truth.item_categories)
        kept_u = np.empty(0, dtype=np.int32)
        kept_i = np.empty(0, dtype=np.int32)
        need = counts
        for rnd in range(_MAX_ROUNDS):
            slots = np.ceil(need * _OVERSAMPLE).astype(np.int64)
            u = np.repeat(np.arange(lo, lo + len(counts), dtype=np.int32), slots)
            i = self._draw(rng, u) if rnd < _CATEGORY_ROUNDS else rng.integers(n_items, size=len(u))
            all_u, all_i = np.r_[kept_u, u], np.r_[kept_i, i.astype(np.int32)]
            fresh = ~pd.Series(all_u.astype(np.int64) * n_items + all_i).duplicated().to_numpy()
            all_u, all_i = all_u[fresh], all_i[fresh]
            grouped = np.argsort(all_u, kind="stable")  # kept pairs stay ahead of new ones
            all_u, all_i = all_u[grouped], all_i[grouped]
            first = np.r_[0, np.flatnonzero(np.diff(all_u)) + 1]
            rank = np.arange(len(all_u)) - np.repeat(first, np.diff(np.r_[first, len(all_u)]))
            ok = rank < counts[all_u - lo]
            kept_u, kept_i = all_u[ok], all_i[ok]
            need = counts - np.bincount(kept_u - lo, minlength=len(counts))
            if not need.any():
                break
        return kept_u, kept_i

    def _draw(self, rng: np.random.Generator, users: np.ndarray) -> np.ndarray:
        """One item per slot: category by preference, candidates by popularity, best affinity."""
        idx = np.searchsorted(self.flat_pref, users + rng.random(len(users)), side="right")
        cats = np.clip(idx - users.astype(np.int64) * self.n_cat, 0, self.n_cat - 1)[:, None]
        target = self.base[cats] + rng.random((len(users), _CANDIDATES)) * self.mass[cats]
        pos = np.searchsorted(self.cum_pop, target, side="right")
        cand = self.order[np.clip(pos, self.seg_start[cats], self.seg_end[cats] - 1)]
        score = rng.gumbel(size=cand.shape)
        uf = self.truth.user_factors[users]
        for k in range(_CANDIDATES):  # a loop over 4 candidates, not over interactions
            score[:, k] += (uf * self.truth.item_factors[cand[:, k]]).sum(axis=1)
        return cand[np.arange(len(users)), score.argmax(axis=1)]


def _affinity(truth: SyntheticTruth, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    out = np.empty(len(users), dtype=np.float32)
    for lo in range(0, len(users), _CHUNK):
        sl = slice(lo, lo + _CHUNK)
        uf, itf = truth.user_factors[users[sl]], truth.item_factors[items[sl]]
        out[sl] = (uf * itf).sum(axis=1)
    return out


def _interaction_frame(
    rng: np.random.Generator,
    truth: SyntheticTruth,
    users: np.ndarray,
    items: np.ndarray,
    explicit: bool,
    t0: int,
    days: int,
) -> pd.DataFrame:
    """Timestamps after each user's join date; ratings from affinity plus biases and noise."""
    n_users, n_items = len(truth.user_factors), len(truth.item_factors)
    end = t0 + days * _DAY
    join = t0 + rng.random(n_users) * 0.7 * days * _DAY
    ts = (join[users] + rng.random(len(users)) * (end - join[users])).astype(np.int64)
    order = np.lexsort((ts, users))
    out = {Columns.user: users[order], Columns.item: items[order]}
    if explicit:
        aff = _affinity(truth, users, items)
        aff = (aff - aff.mean()) / max(float(aff.std()), 1e-6)
        bias = rng.normal(0.0, 0.3, n_users)[users] + rng.normal(0.0, 0.3, n_items)[items]
        raw = 3.4 + 0.9 * aff + bias + rng.normal(0.0, 0.6, len(users))
        out[Columns.rating] = np.clip(np.rint(raw), 1, 5).astype(np.int8)[order]
    out[Columns.timestamp] = ts[order]
    return pd.DataFrame(out)


def _vocabulary(rng: np.random.Generator, n_words: int) -> np.ndarray:
    """Distinct made-up words of three syllables, so that vocabularies never overlap."""
    s = len(_SYLLABLES)
    codes = rng.choice(s**3, size=n_words, replace=False)
    syl = np.array(_SYLLABLES, dtype=object)
    return syl[codes // (s * s)] + syl[(codes // s) % s] + syl[codes % s]


def _join(columns: list[np.ndarray], sep: str) -> np.ndarray:
    """Element-wise string join of equal-length object arrays."""
    out = np.asarray(columns[0], dtype=object)
    for col in columns[1:]:  # a loop over a few columns; each + runs over all rows
        out = out + sep + np.asarray(col, dtype=object)
    return out


def _item_table(
    rng: np.random.Generator, truth: SyntheticTruth, meta: SyntheticTruth | None = None
) -> pd.DataFrame:
    """Titles and descriptions from per-category (and per-factor) vocabularies of ``truth``;
    category, tags and price from ``meta`` (the same structure unless noise was asked for)."""
    meta = meta or truth
    cats = truth.item_categories
    n_items, n_cat, n_factors = len(cats), len(truth.category_names), truth.item_factors.shape[1]
    vocab = _vocabulary(rng, n_cat * _WORDS_PER_CATEGORY + 2 * n_factors * _WORDS_PER_POLE)
    cat_words = vocab[: n_cat * _WORDS_PER_CATEGORY].reshape(n_cat, _WORDS_PER_CATEGORY)
    words = _description_words(rng, truth, cat_words, vocab[n_cat * _WORDS_PER_CATEGORY :])
    first = rng.integers(_WORDS_PER_CATEGORY, size=n_items)
    second = (first + 1 + rng.integers(_WORDS_PER_CATEGORY - 1, size=n_items)) % _WORDS_PER_CATEGORY
    title = [
        pd.Series(cat_words[cats, k]).str.capitalize().to_numpy(dtype=object)
        for k in (first, second)
    ]
    base_price = rng.uniform(5.0, 60.0, n_cat)
    price = np.round(base_price[meta.item_categories] * np.exp(rng.normal(0.0, 0.4, n_items)), 2)
    return pd.DataFrame(
        {
            Columns.item: np.arange(n_items, dtype=np.int32),
            "title": _join([*title, np.arange(n_items).astype(str).astype(object)], " "),
            "description": _join(list(words.T), " "),
            "category": pd.Categorical.from_codes(
                meta.item_categories, categories=pd.Index(truth.category_names)
            ),
            "tags": _tags(rng, meta, cat_words[:, -4:]),
            "price": price,
        }
    )


def _description_words(
    rng: np.random.Generator, truth: SyntheticTruth, cat_words: np.ndarray, rest: np.ndarray
) -> np.ndarray:
    """Per item 11 words: 6 of its category, 2 of its strongest latent factor, 3 common."""
    cats, item_f = truth.item_categories, truth.item_factors
    n_items, f = item_f.shape
    pole_words = rest[: 2 * f * _WORDS_PER_POLE].reshape(2 * f, _WORDS_PER_POLE)
    top = np.abs(item_f).argmax(axis=1)
    pole = 2 * top + (item_f[np.arange(n_items), top] < 0)
    common = np.array(COMMON_WORDS, dtype=object)
    words = np.column_stack(
        [
            cat_words[cats[:, None], rng.integers(_WORDS_PER_CATEGORY, size=(n_items, 6))],
            pole_words[pole[:, None], rng.integers(_WORDS_PER_POLE, size=(n_items, 2))],
            common[rng.integers(len(common), size=(n_items, 3))],
        ]
    )
    return rng.permuted(words, axis=1)


def _tags(rng: np.random.Generator, truth: SyntheticTruth, tag_words: np.ndarray) -> np.ndarray:
    """One or two tags of the item's category, sometimes a global tag: "drama-kalomi|indie"."""
    cats = truth.item_categories
    n_items, n_pool = len(cats), tag_words.shape[1]
    prefix = np.array([c.lower() + "-" for c in truth.category_names], dtype=object)[cats]
    first = rng.integers(n_pool, size=n_items)
    second = (first + 1 + rng.integers(n_pool - 1, size=n_items)) % n_pool
    glob = np.array(GLOBAL_TAGS, dtype=object)[rng.integers(len(GLOBAL_TAGS), size=n_items)]
    return _join(
        [
            prefix + tag_words[cats, first],
            np.where(rng.random(n_items) < 0.5, "|" + prefix + tag_words[cats, second], ""),
            np.where(rng.random(n_items) < 0.4, "|" + glob, ""),
        ],
        "",
    )


def _user_table(rng: np.random.Generator, truth: SyntheticTruth) -> pd.DataFrame:
    """Age group depends on the user's favourite category, so user features carry signal."""
    prefs = truth.user_preferences
    n_users, n_cat = len(prefs), int(prefs.shape[1])
    age_probs = np.cumsum(rng.dirichlet(np.ones(len(AGE_GROUPS)), size=n_cat), axis=1)
    favourite = prefs.argmax(axis=1)
    age = (rng.random(n_users)[:, None] > age_probs[favourite]).sum(axis=1)
    age = np.minimum(age, len(AGE_GROUPS) - 1)
    country_p = 1.0 / np.arange(1, len(COUNTRIES) + 1, dtype=np.float64)
    country = rng.choice(len(COUNTRIES), size=n_users, p=country_p / country_p.sum())
    return pd.DataFrame(
        {
            Columns.user: np.arange(n_users, dtype=np.int32),
            "age_group": pd.Categorical.from_codes(age, categories=pd.Index(AGE_GROUPS)),
            "country": pd.Categorical.from_codes(country, categories=pd.Index(COUNTRIES)),
        }
    )


def write_csv(data: SyntheticData, folder: Path) -> dict[str, Path]:
    """Write interactions.csv, items.csv and users.csv (pyarrow: 10M rows in seconds)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tables = {"interactions": data.interactions, "items": data.items, "users": data.users}
    paths = {}
    for name, frame in tables.items():
        plain = frame.astype({c: str for c in frame.columns if frame[c].dtype == "category"})
        path = folder / f"{name}.csv"
        pacsv.write_csv(pa.Table.from_pandas(plain, preserve_index=False), path)
        paths[name] = path
    return paths
