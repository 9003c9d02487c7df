"""Item images from a ZIP: decoded one by one, encoded by a pretrained CNN or a fixed descriptor.

Two encoders exist. A pretrained MobileNetV3Small (ImageNet, average-pooled 576 values) is used
when its weights are already in the Keras cache; the workbench never downloads them. Otherwise
a deterministic descriptor is used: per-channel colour histograms (8 bins each, shares of the
pixels) and an 8 x 8 greyscale thumbnail (area averages in [0, 1]), each part L2-normalised,
then the 88 values L2-normalised together. It sees colour and layout, not objects.
"""

from __future__ import annotations

import importlib.util
import io
import os
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import numpy as np
import pandas as pd

from recsys_core.columns import Columns
from recsys_core.errors import InputError
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
#: A single image file larger than this is refused (decompressed size, guards zip bombs).
MAX_IMAGE_BYTES = 30 * 2**20
_BATCH = 32
_DESCRIPTOR_LABEL = (
    f"colour histograms (3 x {DESCRIPTOR_BINS} bins) + {THUMBNAIL}x{THUMBNAIL} greyscale "
    f"thumbnail, {DESCRIPTOR_DIM} values (no pretrained model in the Keras cache)"
)
_MOBILENET_LABEL = "MobileNetV3Small, ImageNet weights, 576 values (average pooling)"


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
    system files (``__MACOSX/``, names starting with ".") are ignored silently.

    Args:
        data: the ZIP file's bytes.
        item_ids: the catalogue's item ids.
        encoder: "auto" (the pretrained model when its weights are cached, else the
            descriptor), "mobilenet" (requires the cached weights) or "descriptor".

    Raises:
        InputError: the upload is not a ZIP, or "mobilenet" is asked for without weights.
    """
    weights = mobilenet_weights()
    if encoder == "mobilenet" and weights is None:
        raise InputError(
            f"The MobileNetV3Small weights are not in the Keras cache: put {MOBILENET_FILE} "
            f"into {_keras_home() / 'models'} or choose the descriptor encoder."
        )
    use_cnn = encoder != "descriptor" and weights is not None
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InputError("The upload is not a ZIP file: zip the images and upload again.") from None
    with archive:
        ids, arrays, problems = _read_images(archive, {str(i) for i in item_ids})
    if not arrays:
        vectors = np.zeros((0, 576 if use_cnn else DESCRIPTOR_DIM), dtype=np.float32)
    elif use_cnn:
        vectors = mobilenet_vectors(arrays, weights)
    else:
        vectors = np.stack([describe_image(a) for a in arrays])
    series = pd.Series(
        list(vectors), index=pd.Index(ids, name=Columns.item, dtype=str), name="image", dtype=object
    )
    return ImageEncoding(series, _MOBILENET_LABEL if use_cnn else _DESCRIPTOR_LABEL, problems)


def _read_images(
    archive: zipfile.ZipFile, known: set[str]
) -> tuple[list[str], list[np.ndarray], list[str]]:
    """Decoded RGB arrays of the usable files, in file-name order, plus the problems."""
    decode = _decoder()
    ids: list[str] = []
    arrays: list[np.ndarray] = []
    problems: list[str] = []
    taken: dict[str, str] = {}
    for info in sorted(archive.infolist(), key=lambda i: i.filename):
        path = PurePosixPath(info.filename)
        if info.is_dir() or path.name.startswith(".") or "__MACOSX" in path.parts:
            continue
        item = path.name.rsplit(".", 1)[0] if "." in path.name else path.name
        problem = _entry_problem(info, item, known, taken)
        if problem is None:
            array, problem = _decode_entry(archive, info, decode)
        if problem is not None:
            problems.append(f"{info.filename}: {problem}")
            continue
        taken[item] = info.filename
        ids.append(item)
        arrays.append(array)
    return ids, arrays, problems


def _entry_problem(
    info: zipfile.ZipInfo, item: str, known: set[str], taken: dict[str, str]
) -> str | None:
    if item not in known:
        return f"no item with id {item!r} in the catalogue (name files by item id)"
    if item in taken:
        return f"a second image for item {item!r} (kept {taken[item]})"
    if info.file_size == 0:
        return "empty file"
    if info.file_size > MAX_IMAGE_BYTES:
        return f"larger than {MAX_IMAGE_BYTES // 2**20} MB"
    return None


def _decode_entry(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, decode: Callable[[bytes], np.ndarray]
) -> tuple[Any, str | None]:
    try:
        raw = archive.read(info)
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
        return None, f"cannot be extracted ({exc})"
    try:
        array = decode(raw)
    except _DecodeError as exc:
        return None, f"not a readable image ({exc})"
    if array.ndim != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        return None, "not a readable image (no pixels)"
    return array, None


class _DecodeError(Exception):
    """A file that the decoder could not read as an image."""


def _decoder() -> Callable[[bytes], np.ndarray]:
    """Pillow when installed; otherwise TensorFlow's decoder (PNG, JPEG, GIF, BMP)."""
    if importlib.util.find_spec("PIL") is not None:
        return _decode_pillow
    return _decode_tensorflow


def _decode_pillow(raw: bytes) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(raw)) as img:
            img.draft("RGB", (2 * MOBILENET_SIZE, 2 * MOBILENET_SIZE))  # JPEG: decode smaller
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise _DecodeError(str(exc) or type(exc).__name__) from None


def _decode_tensorflow(raw: bytes) -> np.ndarray:
    import tensorflow as tf

    try:
        image = tf.io.decode_image(raw, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as exc:
        raise _DecodeError(exc.message.split("\n")[0]) from None
    return np.asarray(image.numpy(), dtype=np.uint8)


# ---------------------------------------------------------------------------- encoders
def describe_image(rgb: np.ndarray) -> np.ndarray:
    """The deterministic descriptor of an ``[h, w, 3]`` uint8 image (see the module doc)."""
    pixels = rgb.reshape(-1, 3).astype(np.int64)
    codes = pixels // (256 // DESCRIPTOR_BINS) + np.arange(3) * DESCRIPTOR_BINS
    hist = np.bincount(codes.ravel(), minlength=3 * DESCRIPTOR_BINS) / len(pixels)
    grey = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114]) / 255.0
    thumb = _area_resize(grey, THUMBNAIL).ravel()
    out = np.concatenate([_unit(hist), _unit(thumb)])
    return _unit(out).astype(np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / max(float(np.linalg.norm(x)), 1e-12)


def _area_resize(grey: np.ndarray, size: int) -> np.ndarray:
    """Mean over a ``size`` x ``size`` grid of blocks (small images are enlarged first)."""
    reps = (-(-size // grey.shape[0]), -(-size // grey.shape[1]))
    if reps != (1, 1):
        grey = np.repeat(np.repeat(grey, reps[0], axis=0), reps[1], axis=1)
    rows = np.linspace(0, grey.shape[0], size + 1).astype(np.int64)
    cols = np.linspace(0, grey.shape[1], size + 1).astype(np.int64)
    sums = np.add.reduceat(np.add.reduceat(grey, rows[:-1], axis=0), cols[:-1], axis=1)
    return sums / np.outer(np.diff(rows), np.diff(cols))


def _keras_home() -> Path:
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")


def mobilenet_weights() -> Path | None:
    """The cached MobileNetV3Small weights file, or None (nothing is downloaded)."""
    path = _keras_home() / "models" / MOBILENET_FILE
    return path if path.is_file() else None


def mobilenet_vectors(arrays: list[np.ndarray], weights: Path | None) -> np.ndarray:
    """Average-pooled MobileNetV3Small features, L2-normalised, in batches of 32 images.

    ``weights`` is a local weights file (``None`` builds random weights, for tests only).
    TensorFlow is imported here, never at module import.
    """
    import keras
    import tensorflow as tf

    model = keras.applications.MobileNetV3Small(
        input_shape=(MOBILENET_SIZE, MOBILENET_SIZE, 3),
        include_top=False,
        pooling="avg",
        weights=None if weights is None else str(weights),
    )
    out = []
    for start in range(0, len(arrays), _BATCH):
        batch = [
            tf.image.resize(a, (MOBILENET_SIZE, MOBILENET_SIZE), antialias=True)
            for a in arrays[start : start + _BATCH]
        ]
        out.append(np.asarray(model.predict_on_batch(tf.stack(batch)), dtype=np.float64))
    feats = np.concatenate(out)
    norms = np.linalg.norm(feats, axis=1, keepdims=True)
    return (feats / np.maximum(norms, 1e-12)).astype(np.float32)
