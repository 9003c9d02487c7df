"""The hand-written model registry: every family by its stable key, and loading a model file.

A new family adds its class here and nothing else outside its own module.
"""

from __future__ import annotations

from pathlib import Path

from recsys_core.errors import InputError
from recsys_core.models._lookup import REGISTRY, make_model
from recsys_core.models._persist import read_model, restore
from recsys_core.models.base import Recommender
from recsys_core.models.bias import BiasBaseline
from recsys_core.models.bpr import BPR
from recsys_core.models.content import ContentBased
from recsys_core.models.deep import Fusion, NeuMF, TwoTower
from recsys_core.models.deep.multvae import MultVAE
from recsys_core.models.ease import EASE
from recsys_core.models.hybrid import Hybrid
from recsys_core.models.ials import IALS
from recsys_core.models.implicit_mf import ALS
from recsys_core.models.knn import ItemKNN
from recsys_core.models.popular import MostPopular, Random
from recsys_core.models.ranker import TwoStageRanker
from recsys_core.models.rp3beta import RP3beta
from recsys_core.models.slim import SLIM
from recsys_core.models.user_knn import UserKNN

__all__ = ["REGISTRY", "load_model_file", "make_model"]

REGISTRY.update(
    {
        cls.name: cls
        for cls in (
            MostPopular,
            Random,
            ItemKNN,
            UserKNN,
            RP3beta,
            SLIM,
            EASE,
            ALS,
            BPR,
            IALS,
            BiasBaseline,
            Hybrid,
            ContentBased,
            NeuMF,
            TwoTower,
            MultVAE,
            Fusion,
            TwoStageRanker,
        )
    }
)


def load_model_file(path: Path) -> Recommender:
    """A model saved by :meth:`Recommender.save`, of the family named in the file.

    Raises:
        InputError: for a file of another format version or of an unknown family.
    """
    meta, arrays = read_model(path)
    cls = REGISTRY.get(meta["model"])
    if cls is None:
        raise InputError(f"{path} holds a {meta['model']!r} model, which is not registered.")
    return restore(cls(cls.config_class.model_validate(meta["config"])), meta, arrays)
