"""Item images from a ZIP: decoded one by one, encoded by a pretrained CNN or a fixed descriptor.

Two encoders exist. A pretrained MobileNetV3Small (ImageNet, average-pooled 576 values) is used
when its weights are already in the Keras cache; the workbench never downloads them. Otherwise
a deterministic descriptor is used: per-channel colour histograms (8 bins each, shares of the
pixels) and an 8 x 8 greyscale thumbnail (area averages in [0, 1]), each part L2-normalised,
then the 88 values L2-normalised together. It sees colour and layout, not objects.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from recsys_core.columns import Columns
from recsys_core.errors import InputError
from recsys_core.features._image_zip import Entry, decode_entry, open_zip, survey
from recsys_core.features.vectors import attach_item_vectors, read_item_vectors

__all__ = [
    "DESCRIPTOR_DIM",
    "ImageEncoding",
    "attach_item_vectors",
    "describe_image",
    "encode_image_zip",
    "mobilenet_weights",
    "read_item_vectors",
]

ImageEncoderChoice = Literal["auto", "mobilenet", "descriptor"]
#: Keras' file name for MobileNetV3Small ImageNet weights without the classifier.
MOBILENET_FILE = "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5"
MOBILENET_SIZE = 224
DESCRIPTOR_BINS = 8
THUMBNAIL = 8
DESCRIPTOR_DIM = 3 * DESCRIPTOR_BINS + THUMBNAIL * THUMBNAIL
_BATCH = 32
_DESCRIPTOR_LABEL = (
    f"colour histograms (3 x {DESCRIPTOR_BINS} bins) + {THUMBNAIL}x{THUMBNAIL} greyscale "
    f"thumbnail, {DESCRIPTOR_DIM} values (no pretrained model in the Keras cache)"
)
_MOBILENET_LABEL = "MobileNetV3Small, ImageNet weights, 576 values (average pooling)"
_GREY = np.array([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class ImageEncoding:
    """The vectors of the images that could be read, and what happened to the others.

    Attributes:
        vectors: float32 arrays (L2-normalised) indexed by item id (str).
        encoder: human description of the encoder used, for the page.
        problems: one line per file that was skipped, naming the file and why.
    """

    vectors: pd.Series
    encoder: str
    problems: list[str]


def encode_image_zip(
    data: bytes, item_ids: Iterable[object], *, encoder: ImageEncoderChoice = "auto"
) -> ImageEncoding:
    """Encode the images of a ZIP whose file names are item ids ("123.jpg", "shoes/123.png").

    Files for unknown items, duplicates of an id, empty, oversized, corrupt or non-image
    files are skipped and listed in ``problems``; they never stop the others. Folders and
    system files (``__MACOSX/``, names starting with ".") are ignored silently. Limits on
    entries, bytes and decoded pixels (see ``_limits``) are checked before any decoding, and
    images are decoded one at a time: only their vectors are kept.

    Args:
        data: the ZIP file's bytes.
        item_ids: the catalogue's item ids.
        encoder: "auto" (the pretrained model when its weights are cached, else the
            descriptor), "mobilenet" (requires the cached weights) or "descriptor".

    Raises:
        InputError: the upload is not a ZIP, a limit is exceeded (named with its setting), or
            "mobilenet" is asked for without weights.
    """
    weights = mobilenet_weights()
    if encoder == "mobilenet" and weights is None:
        raise InputError(
            f"The MobileNetV3Small weights are not in the Keras cache: put {MOBILENET_FILE} "
            f"into {_keras_home() / 'models'} or choose the descriptor encoder."
        )
    use_cnn = encoder != "descriptor" and weights is not None
    embedder: _Embedder = _MobileNet(weights) if use_cnn else _Descriptor()
    with open_zip(data) as archive:
        entries, problems = survey(archive, {str(i) for i in item_ids})
        ids, vectors, failed = _encode(archive, entries, embedder)
    series = pd.Series(
        list(vectors), index=pd.Index(ids, name=Columns.item, dtype=str), name="image", dtype=object
    )
    label = _MOBILENET_LABEL if use_cnn else _DESCRIPTOR_LABEL
    return ImageEncoding(series, label, sorted(problems + failed))


class _Embedder(Protocol):
    dim: int

    def prepare(self, rgb: np.ndarray) -> np.ndarray:
        """One decoded image -> a small array, at once (the image itself is not kept)."""

    def embed(self, batch: list[np.ndarray]) -> np.ndarray:
        """Prepared arrays -> ``[n, dim]`` float32 vectors."""


def _encode(
    archive: zipfile.ZipFile, entries: list[Entry], embedder: _Embedder
) -> tuple[list[str], np.ndarray, list[str]]:
    """Decode one image at a time; batches of prepared arrays become vectors."""
    ids: list[str] = []
    parts: list[np.ndarray] = []
    problems: list[str] = []
    batch: list[np.ndarray] = []
    for entry in entries:
        prepared, problem = _prepare(archive, entry, embedder)
        if prepared is None:
            problems.append(f"{entry.info.filename}: {problem}")
            continue
        ids.append(entry.item)
        batch.append(prepared)
        if len(batch) == _BATCH:
            parts.append(embedder.embed(batch))
            batch = []
    if batch:
        parts.append(embedder.embed(batch))
    vectors = np.concatenate(parts) if parts else np.zeros((0, embedder.dim), dtype=np.float32)
    return ids, vectors, problems


def _prepare(
    archive: zipfile.ZipFile, entry: Entry, embedder: _Embedder
) -> tuple[np.ndarray | None, str | None]:
    """Decoded pixels live only inside this call."""
    array, problem = decode_entry(archive, entry)
    return (None, problem) if array is None else (embedder.prepare(array), None)


# ---------------------------------------------------------------------------- encoders
def describe_image(rgb: np.ndarray) -> np.ndarray:
    """The deterministic descriptor of an ``[h, w, 3]`` uint8 image (see the module doc).

    Computed one band of thumbnail rows at a time, so the float copies take an eighth of
    the image, never several times its size.
    """
    reps = (-(-THUMBNAIL // rgb.shape[0]), -(-THUMBNAIL // rgb.shape[1]))
    if reps != (1, 1):  # tiny images are enlarged: every pixel repeated, so shares are unchanged
        rgb = np.repeat(np.repeat(rgb, reps[0], axis=0), reps[1], axis=1)
    rows = np.linspace(0, rgb.shape[0], THUMBNAIL + 1).astype(np.int64)
    cols = np.linspace(0, rgb.shape[1], THUMBNAIL + 1).astype(np.int64)
    counts = np.zeros((3, DESCRIPTOR_BINS), dtype=np.int64)  # pixels per bin, per channel
    sums = np.empty((THUMBNAIL, THUMBNAIL))
    for i in range(THUMBNAIL):
        band = rgb[rows[i] : rows[i + 1]]
        counts += _channel_counts(band)
        column_sums = band.sum(axis=0, dtype=np.int64) @ _GREY  # exact integer sums first
        sums[i] = np.add.reduceat(column_sums, cols[:-1])
    hist = counts.ravel() / (rgb.shape[0] * rgb.shape[1])
    thumb = sums / np.outer(np.diff(rows), np.diff(cols)) / 255.0
    out = np.concatenate([_unit(hist), _unit(thumb.ravel())])
    return _unit(out).astype(np.float32)


def _channel_counts(band: np.ndarray) -> np.ndarray:
    """``[3, bins]`` pixel counts: one pass over a joint (r, g, b) bin code, not three."""
    shift = (256 // DESCRIPTOR_BINS).bit_length() - 1
    bits = DESCRIPTOR_BINS.bit_length() - 1
    q = band >> shift
    code = (q[..., 0].astype(np.uint16) << 2 * bits) | (q[..., 1].astype(np.uint16) << bits)
    joint = np.bincount((code | q[..., 2]).ravel(), minlength=DESCRIPTOR_BINS**3)
    joint = joint.reshape(DESCRIPTOR_BINS, DESCRIPTOR_BINS, DESCRIPTOR_BINS)
    return np.stack([joint.sum(axis=(1, 2)), joint.sum(axis=(0, 2)), joint.sum(axis=(0, 1))])


def _unit(x: np.ndarray) -> np.ndarray:
    return x / max(float(np.linalg.norm(x)), 1e-12)


class _Descriptor:
    dim = DESCRIPTOR_DIM

    def prepare(self, rgb: np.ndarray) -> np.ndarray:
        return describe_image(rgb)

    def embed(self, batch: list[np.ndarray]) -> np.ndarray:
        return np.stack(batch)


def _keras_home() -> Path:
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")


def mobilenet_weights() -> Path | None:
    """The cached MobileNetV3Small weights file, or None (nothing is downloaded)."""
    path = _keras_home() / "models" / MOBILENET_FILE
    return path if path.is_file() else None


def mobilenet_vectors(arrays: list[np.ndarray], weights: Path | None) -> np.ndarray:
    """Average-pooled MobileNetV3Small features, L2-normalised, in batches of 32 images.

    ``weights`` is a local weights file (``None`` builds random weights, for tests only).
    """
    net = _MobileNet(weights)
    parts = [
        net.embed([net.prepare(a) for a in arrays[start : start + _BATCH]])
        for start in range(0, len(arrays), _BATCH)
    ]
    return np.concatenate(parts)


class _MobileNet:
    """The CNN, built on first use; TensorFlow is imported here, never at module import."""

    dim = 576

    def __init__(self, weights: Path | None) -> None:
        self.weights = weights
        self.model: Any = None

    def prepare(self, rgb: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        size = (MOBILENET_SIZE, MOBILENET_SIZE)
        return np.asarray(tf.image.resize(rgb, size, antialias=True), dtype=np.float32)

    def embed(self, batch: list[np.ndarray]) -> np.ndarray:
        if self.model is None:
            import keras

            self.model = keras.applications.MobileNetV3Small(
                input_shape=(MOBILENET_SIZE, MOBILENET_SIZE, 3),
                include_top=False,
                pooling="avg",
                weights=None if self.weights is None else str(self.weights),
            )
        feats = np.asarray(self.model.predict_on_batch(np.stack(batch)), dtype=np.float64)
        norms = np.linalg.norm(feats, axis=1, keepdims=True)
        return (feats / np.maximum(norms, 1e-12)).astype(np.float32)
