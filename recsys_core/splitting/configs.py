"""Pydantic configs of the split protocols, one discriminated union that round-trips JSON."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from recsys_core.errors import InputError

_VALIDATION = (
    "Share of the training interactions carved out as a validation side with the same "
    "protocol, for tuning hyper-parameters; 0 means no validation side."
)


class _SplitBase(BaseModel):
    """Fields every protocol shares."""

    model_config = ConfigDict(extra="forbid")

    validation_fraction: float = Field(default=0.0, ge=0.0, lt=1.0, description=_VALIDATION)


class RandomHoldout(_SplitBase):
    """Each user's interactions are shuffled and a share of them is held out for test.

    Sampling is over distinct (user, item) pairs, so a pair never lands on both sides.
    Every user keeps at least one training interaction; users with one pair stay in train.
    """

    kind: Literal["random"] = Field(default="random", description="Protocol tag used in JSON.")
    test_fraction: float = Field(
        default=0.2,
        gt=0.0,
        lt=1.0,
        description="Expected share of each user's pairs held out for test.",
    )


class TemporalCutoff(_SplitBase):
    """One global cut-off instant: everything at or after it is test, everything before train.

    This mimics deploying a model trained on the past; test users may have no history.
    """

    kind: Literal["temporal"] = Field(default="temporal", description="Protocol tag used in JSON.")
    cutoff: datetime | None = Field(
        default=None,
        description=(
            "First instant of the test period (naive times are UTC). When empty the cut-off is "
            "placed by test_fraction."
        ),
    )
    test_fraction: float = Field(
        default=0.2,
        gt=0.0,
        lt=1.0,
        description="Share held out when no cut-off is given (see fraction_of).",
    )
    fraction_of: Literal["interactions", "time_range"] = Field(
        default="interactions",
        description=(
            "Whether test_fraction is a share of the interactions (the latest ones) or of the "
            "time range between the first and the last interaction."
        ),
    )


class LeaveLastN(_SplitBase):
    """Each user's n most recent interactions are test (leave-one-out when n = 1).

    Every user keeps at least one training interaction, so users with n or fewer
    interactions hold out fewer than n.
    """

    kind: Literal["leave_last_n"] = Field(
        default="leave_last_n", description="Protocol tag used in JSON."
    )
    n: int = Field(
        default=1, ge=1, description="How many of each user's latest interactions to hold out."
    )


class UserHoldout(_SplitBase):
    """A share of users is set aside; their most recent interactions are test.

    The rest of a test user's history stays in train as the input a model sees, like a new
    visitor whose first clicks are known. Without timestamps the held-out share is random.
    """

    kind: Literal["user_holdout"] = Field(
        default="user_holdout", description="Protocol tag used in JSON."
    )
    test_user_fraction: float = Field(
        default=0.1,
        gt=0.0,
        lt=1.0,
        description="Share of users (with two or more pairs) set aside.",
    )
    holdout_fraction: float = Field(
        default=0.2,
        gt=0.0,
        lt=1.0,
        description="Share of each test user's latest interactions held out.",
    )


class ItemHoldout(_SplitBase):
    """A share of items is set aside: all their interactions are test, none are train.

    This measures cold-item recommendation (new products with metadata but no history); only
    models with ``supports_cold_items`` can rank the held-out items, the others score about
    0. A user whose every interaction falls on drawn items would reach test with no training
    data, so such a user's items go back to train (the realised share can be a little lower).
    """

    kind: Literal["item_holdout"] = Field(
        default="item_holdout", description="Protocol tag used in JSON."
    )
    test_item_fraction: float = Field(
        default=0.1,
        gt=0.0,
        lt=1.0,
        description="Share of the items with interactions whose interactions all go to test.",
    )


class KFold(_SplitBase):
    """Each user's shuffled pairs are dealt into n_folds folds; fold ``fold`` is test.

    Running fold = 0 .. n_folds - 1 with the same seed tests every pair exactly once.
    """

    kind: Literal["kfold"] = Field(default="kfold", description="Protocol tag used in JSON.")
    n_folds: int = Field(
        default=5, ge=2, description="Number of folds each user's pairs are dealt into."
    )
    fold: int = Field(default=0, ge=0, description="Which fold (0-based) is the test side.")

    @model_validator(mode="after")
    def _fold_in_range(self) -> KFold:
        if self.fold >= self.n_folds:
            raise ValueError(f"fold must be below n_folds ({self.n_folds}); got {self.fold}.")
        return self


class Predefined(_SplitBase):
    """The analyst's own split: a boolean column that is true for test interactions."""

    kind: Literal["predefined"] = Field(
        default="predefined", description="Protocol tag used in JSON."
    )
    column: str = Field(
        default="is_test",
        min_length=1,
        description="Name of the is-test column in the analyst's file (the import stores it as "
        "the 'split' role; this name is kept for the record).",
    )


SplitConfig = Annotated[
    RandomHoldout | TemporalCutoff | LeaveLastN | UserHoldout | ItemHoldout | KFold | Predefined,
    Field(discriminator="kind"),
]

_ADAPTER: TypeAdapter[SplitConfig] = TypeAdapter(SplitConfig)


def parse_split_config(data: str | dict[str, Any]) -> SplitConfig:
    """Build a config from its JSON text or dict, with an analyst-readable error.

    Raises:
        InputError: unknown kind, unknown field or a value out of range.
    """
    try:
        if isinstance(data, str):
            return _ADAPTER.validate_json(data)
        return _ADAPTER.validate_python(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in err.errors()
        )
        raise InputError(f"Invalid split settings: {problems}.") from None


def split_config_json(config: SplitConfig) -> str:
    """The JSON the store keeps for a config (``parse_split_config`` reads it back)."""
    return json.dumps(config.model_dump(mode="json"), sort_keys=True)
