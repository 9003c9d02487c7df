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

    History items (EASE, kNN, ALS, content, explainable hybrids) come first since they
    are the most concrete reason; then item features, then modality shares (fusion), then
    popularity; other models get kind "none" rather than an invented reason.

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
        shares = model.modality_shares(*ids)
        return _from_modalities(ids, score, shares)
    if hasattr(model, "popularity_"):
        return _from_popularity(model, ids, i, score)
    sentence = (
        "No reason to give: this model picks items at random."
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
        label = "its id (who interacted with it)" if top["name"] == "id" else f"its {top['name']}"
        sentence = f"Mostly {label} ({abs(top['value']) / total:.0%} of the score)."
    else:
        sentence = "No modality adds to this score."
    return Explanation(
        *ids, score, "modalities", frame, score - float(frame["value"].sum()), sentence
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
