"""Recommender models: the base contract, the registry and one module per family."""

from recsys_core.models.base import NotFittedError, Recommender, RecommenderConfig
from recsys_core.models.bias import BiasBaseline, BiasConfig
from recsys_core.models.bpr import BPR, BPRConfig
from recsys_core.models.ease import EASE, EASEConfig
from recsys_core.models.implicit_mf import ALS, ALSConfig
from recsys_core.models.knn import ItemKNN, KNNConfig
from recsys_core.models.popular import MostPopular, MostPopularConfig, Random, RandomConfig
from recsys_core.models.registry import REGISTRY, make_model
from recsys_core.models.user_knn import UserKNN

__all__ = [
    "ALS",
    "BPR",
    "EASE",
    "REGISTRY",
    "ALSConfig",
    "BPRConfig",
    "BiasBaseline",
    "BiasConfig",
    "EASEConfig",
    "ItemKNN",
    "KNNConfig",
    "MostPopular",
    "MostPopularConfig",
    "NotFittedError",
    "Random",
    "RandomConfig",
    "Recommender",
    "RecommenderConfig",
    "UserKNN",
    "make_model",
]
