"""Deep-learning recommenders (TensorFlow/Keras, imported only when a model is fitted).

Keras trains; scoring is numpy on the exported weights, so loading and serving a fitted
model never imports TensorFlow.
"""

from recsys_core.models.deep.fusion import Fusion, FusionConfig
from recsys_core.models.deep.neumf import NeuMF, NeuMFConfig
from recsys_core.models.deep.two_tower import TwoTower, TwoTowerConfig

__all__ = ["Fusion", "FusionConfig", "NeuMF", "NeuMFConfig", "TwoTower", "TwoTowerConfig"]
