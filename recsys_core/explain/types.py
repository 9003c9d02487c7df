"""The Explanation record: a score, what it is made of, and the reason in one sentence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

ExplanationKind = Literal["history", "features", "modalities", "components", "none"]
#: Columns of :attr:`Explanation.contributions`.
CONTRIBUTION_COLUMNS = ["name", "value"]


@dataclass(frozen=True)
class Explanation:
    """Why one item was scored as it was for one user.

    Attributes:
        user_id: the external user id.
        item_id: the external item id.
        score: the model's score for the pair.
        kind: what the contributions are: history items, item features, modalities,
            components (a hybrid's models, a baseline's bias terms), or "none" when the model
            offers no breakdown (popularity, random).
        contributions: columns ``name`` and ``value``, sorted by ``|value|`` descending.
        residual: ``score - contributions.value.sum()``: 0 for additive models, the part no
            named reason carries otherwise (e.g. a hybrid's normalisation shift).
        sentence: the reason in words, with names in ``*italics*`` (Markdown).
    """

    user_id: str
    item_id: str
    score: float
    kind: ExplanationKind
    contributions: pd.DataFrame
    residual: float
    sentence: str

    @property
    def plain_sentence(self) -> str:
        """The sentence without Markdown marks, for exports and tooltips."""
        return self.sentence.replace("*", "")


def contribution_frame(names: list[str], values: np.ndarray) -> pd.DataFrame:
    """A [name, value] frame ordered by size (ties by name), strongest first."""
    frame = pd.DataFrame({"name": pd.Series(names, dtype=str), "value": np.asarray(values, float)})
    order = np.lexsort((frame["name"].to_numpy(dtype=str), -np.abs(frame["value"].to_numpy())))
    return frame.iloc[order].reset_index(drop=True)
