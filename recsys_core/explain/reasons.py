"""Per-recommendation reasons: history items, features or modalities, in numbers and words."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.explain.types import Explanation, contribution_frame
from recsys_core.models.base import Recommender

if TYPE_CHECKING:
    from db import Store
    from db.runs import Run

#: How a sentence names a modality of the fusion model.
MODALITY_WORDS = {
    "id": "its id (who interacted with it)",
    "text": "its text",
    "categorical": "its categories",
    "numeric": "its numeric attributes",
    "image": "its image",
}
#: Item table columns tried, in order, for a readable item name.
NAME_COLUMNS = ("title", "name", "item_name", "product_name")


def item_names(train: Interactions, item_ids: Sequence[Any]) -> list[str]:
    """Readable names of items: the title/name column of the item table, else the id."""
    ids = [str(i) for i in item_ids]
    table = train.item_features
    if table is None:
        return ids
    lower = {str(c).lower(): c for c in table.columns}
    column = next((lower[c] for c in NAME_COLUMNS if c in lower), None)
    if column is None:
        return ids
    names = table[column].copy()
    names.index = names.index.astype(str)
    found = names.reindex(ids)
    return [
        str(n) if pd.notna(n) and str(n).strip() else i for n, i in zip(found, ids, strict=True)
    ]


def _indices(model: Recommender, user_id: Any, item_id: Any) -> tuple[int, int]:
    train = model.train_ if model.fitted else None
    if train is None:
        raise InputError(f"Model {model.name!r} is not fitted: train it before explaining.")
    (u,) = train.user_index([str(user_id)])
    (i,) = train.item_index([str(item_id)])
    if u < 0:
        raise InputError(f"No user {user_id!r} in the model's training data; pick a known user.")
    if i < 0:
        raise InputError(f"No item {item_id!r} in the model's catalogue; pick a known item.")
    return int(u), int(i)


def explain(
    model: Recommender, train: Interactions, user_id: Any, item_id: Any, n: int = 5
) -> Explanation:
    """Why ``model`` scores ``item_id`` for ``user_id``, with what the model family offers.

    History items come first since they are the most concrete reason: exact parts for
    EASE, kNN, ALS, content and their hybrids, parts of the learned user vector for the
    embedding models (two-tower, BPR, NeuMF; their residual says what the history leaves
    unexplained). Then item features, modality shares (fusion, with the nearest history
    items), a hybrid's component shares, a baseline's bias terms, popularity; Random says
    that its pick is chance rather than inventing a reason.

    Args:
        model: a fitted model.
        train: the training side of the model's split; its item table names the items.
        user_id: an external user id of the training data.
        item_id: an external item id of the catalogue.
        n: at most this many names in the sentence (the contributions keep every part).

    Raises:
        InputError: unknown user or item, or ``n < 1``.
    """
    if n < 1:
        raise InputError(f"n (reasons shown) must be at least 1; got {n}.")
    u, i = _indices(model, user_id, item_id)
    if hasattr(model, "candidate_features"):  # a two-stage ranker: SHAP over its features
        from recsys_core.explain.shap_ import ranker_reasons

        try:
            return ranker_reasons(model, u, i, n=n)
        except InputError:  # not a candidate: its score is the popularity fallback
            expl = _explain_scored(model, train, user_id, item_id, (u, i), n)
            return replace(expl, sentence=f"Not among the ranker's candidates. {expl.sentence}")
    return _explain_scored(model, train, user_id, item_id, (u, i), n)


def explain_many(
    model: Recommender,
    train: Interactions,
    user_ids: Sequence[Any] | np.ndarray,
    item_ids: Sequence[Any] | np.ndarray,
) -> list[Explanation | None]:
    """:func:`explain` for many pairs; None where a pair cannot be explained (unknown ids).

    Two-stage rankers are explained in one batch (their candidate features are built once
    for all users); other models pair by pair, each a few milliseconds.
    """
    if hasattr(model, "candidate_features"):
        from recsys_core.explain.shap_ import ranker_reasons_many

        users = model.train_.user_index([str(u) for u in user_ids])
        items = model.train_.item_index([str(i) for i in item_ids])
        known = np.flatnonzero((users >= 0) & (items >= 0))
        batch = ranker_reasons_many(model, users[known], items[known])
        out: list[Explanation | None] = [None] * len(users)
        for pos, expl in zip(known, batch, strict=True):
            out[pos] = expl
        missing = [int(pos) for pos in known if out[pos] is None]  # non-candidates: fallback
    else:
        out, missing = [None] * len(user_ids), list(range(len(user_ids)))
    for at in missing:
        try:
            out[at] = explain(model, train, user_ids[at], item_ids[at])
        except InputError:
            out[at] = None
    return out


def _explain_scored(
    model: Recommender,
    train: Interactions,
    user_id: Any,
    item_id: Any,
    pair: tuple[int, int],
    n: int,
) -> Explanation:
    u, i = pair
    score = float(model.score(np.array([u]), np.array([i]))[0, 0])
    ids = (str(user_id), str(item_id))
    if bool(model.explains):
        return _from_history(model, train, ids, (u, i), score, n)
    if hasattr(model, "explain_features"):
        return _from_features(model, ids, (u, i), score, n)
    if hasattr(model, "modality_shares"):
        expl = _from_modalities(ids, score, model.modality_shares(*ids))
        near = _history_names(model, train, u, i, n)
        if not near:
            return expl
        return replace(expl, sentence=f"{expl.sentence} Close to {_join(near)} in your history.")
    if hasattr(model, "component_parts"):
        return _from_components(model, train, ids, (u, i), score, n)
    if hasattr(model, "score_parts"):
        return _from_biases(ids, score, model.score_parts(u, i))
    if hasattr(model, "popularity_"):
        return _from_popularity(model, ids, i, score)
    sentence = (
        "Drawn at random: the Random baseline uses nothing about you or the item, so this "
        "pick shows what chance alone scores."
        if model.name == "random"
        else f"No reason to give: the {model.name} model does not break its scores down."
    )
    return Explanation(*ids, score, "none", contribution_frame([], np.zeros(0)), score, sentence)


def _from_history(
    model: Recommender,
    train: Interactions,
    ids: tuple[str, str],
    pair: tuple[int, int],
    score: float,
    n: int,
) -> Explanation:
    hist, contrib = model.explain_parts(*pair)
    names = item_names(train, np.asarray(model.train_.item_ids)[hist]) if len(hist) else []
    frame = contribution_frame(_unique(names), contrib)
    residual = score - float(frame["value"].sum())
    verb = "rated" if model.train_.feedback == "explicit" else "interacted with"
    top = frame.loc[frame["value"] > 0, "name"].head(n).tolist()
    if top:
        tail = " highly" if verb == "rated" else ""
        sentence = f"Because you {verb} {_join(top)}{tail}."
    else:
        sentence = "Nothing in your history points to this item; it fills the list."
    if model.approximate_explanations and top:
        covered = abs(score - residual)
        share = covered / max(covered + abs(residual), 1e-12)
        sentence += (
            f" (Your history carries about {share:.0%} of this score; the rest is what the "
            "model learned about you and the item beyond it.)"
        )
    if hasattr(model, "explain_features"):
        features = model.explain_features(*pair, n=min(n, 3))
        if features:
            sentence += f" It matches your interest in {_join([f for f, _ in features])}."
    return Explanation(*ids, score, "history", frame, residual, sentence)


def _from_features(
    model: Any, ids: tuple[str, str], pair: tuple[int, int], score: float, n: int
) -> Explanation:
    features = model.explain_features(*pair, n=n)
    frame = contribution_frame([f for f, _ in features], np.array([v for _, v in features]))
    sentence = (
        f"Matches your interest in {_join(frame['name'].tolist())}."
        if len(frame)
        else "None of its attributes match your history."
    )
    return Explanation(
        *ids, score, "features", frame, score - float(frame["value"].sum()), sentence
    )


def _from_modalities(ids: tuple[str, str], score: float, shares: dict[str, float]) -> Explanation:
    frame = contribution_frame(list(shares), np.array(list(shares.values()), dtype=float))
    total = float(np.abs(frame["value"]).sum())
    if total > 0:
        top = frame.iloc[0]
        label = MODALITY_WORDS.get(str(top["name"]), f"its {top['name']}")
        sentence = f"Mostly {label} ({abs(top['value']) / total:.0%} of the score)."
    else:
        sentence = "No modality adds to this score."
    return Explanation(
        *ids, score, "modalities", frame, score - float(frame["value"].sum()), sentence
    )


def _history_names(model: Recommender, train: Interactions, u: int, i: int, n: int) -> list[str]:
    """Names of the history items that most support the score, for models that can tell."""
    parts = getattr(model, "history_parts", model.explain_parts)
    try:
        hist, contrib = parts(u, i)
    except InputError:
        return []
    top = np.asarray(hist)[np.asarray(contrib) > 0][:n]
    return item_names(train, np.asarray(model.train_.item_ids)[top]) if len(top) else []


def _from_components(
    model: Any,
    train: Interactions,
    ids: tuple[str, str],
    pair: tuple[int, int],
    score: float,
    n: int,
) -> Explanation:
    """A hybrid that cannot split by history: each component's share, then its own reason."""
    parts = model.component_parts(*pair)
    frame = contribution_frame([p[0] for p in parts], np.array([p[2] for p in parts]))
    if not len(frame) or float(np.abs(frame["value"]).sum()) == 0:
        sentence = "No component scores this item above its lowest."
    else:
        name = str(frame["name"].iloc[0])
        share = abs(float(frame["value"].iloc[0])) / float(np.abs(frame["value"]).sum())
        comp = next(c for label, c, _ in parts if label == name)
        inner = _explain_scored(comp, train, *ids, pair, n).sentence
        sentence = f"Mostly from its *{name}* part ({share:.0%} of the score): {inner}"
    residual = score - float(frame["value"].sum())
    return Explanation(*ids, score, "components", frame, residual, sentence)


def _from_biases(ids: tuple[str, str], score: float, parts: dict[str, float]) -> Explanation:
    """The rating baseline: mean + user habit + item standing, which add up to the score."""
    frame = contribution_frame(list(parts), np.array(list(parts.values())))
    standing = parts["this item's standing"]
    side = "above" if standing >= 0 else "below"
    sentence = (
        f"Rated {abs(standing):.2f} {side} the average of {parts['average rating']:.2f} by "
        "the people who rated it, after allowing for how generously each of them rates."
    )
    return Explanation(
        *ids, score, "components", frame, score - float(frame["value"].sum()), sentence
    )


def _from_popularity(model: Any, ids: tuple[str, str], item: int, score: float) -> Explanation:
    popularity = np.asarray(model.popularity_, dtype=np.float64)
    share = float((popularity >= popularity[item]).sum()) / len(popularity)
    percent = max(1, int(np.ceil(share * 100)))
    sentence = f"Popular with everyone: in the top {percent}% of items."
    frame = contribution_frame(["popularity"], np.array([score]))
    return Explanation(*ids, score, "none", frame, 0.0, sentence)


def _join(names: list[str]) -> str:
    quoted = [f"*{name}*" for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" and {quoted[-1]}"


def _unique(names: list[str]) -> list[str]:
    """Two items with one title stay distinguishable in a chart: repeats get a suffix."""
    seen: dict[str, int] = {}
    out = []
    for name in names:  # a loop over one user's history, not over interactions
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def explain_run(
    store: Store, run: Run, user_id: Any, items: Sequence[Any], n: int = 5
) -> list[Explanation]:
    """Explanations of ``items`` for ``user_id`` by a stored run's model, on its own split."""
    from recsys_core.jobs.preview import run_split
    from recsys_core.jobs.runs import load_model

    model = load_model(run, store)
    train = run_split(store, run).train
    return [explain(model, train, user_id, item, n) for item in items]
