"""Item and user features for content models: text, tabular and image encoders."""

from recsys_core.features.encoders import (
    MODALITIES,
    ItemEncoderConfig,
    ItemModalities,
    coverage_warnings,
    encode_items,
    encode_users,
    modality_coverage,
)
from recsys_core.features.images import ImageEncoding, encode_image_zip
from recsys_core.features.vectors import attach_item_vectors, read_item_vectors

__all__ = [
    "MODALITIES",
    "ImageEncoding",
    "ItemEncoderConfig",
    "ItemModalities",
    "attach_item_vectors",
    "coverage_warnings",
    "encode_image_zip",
    "encode_items",
    "encode_users",
    "modality_coverage",
    "read_item_vectors",
]
