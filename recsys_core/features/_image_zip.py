"""An image ZIP read under limits: entries, sizes and pixels are checked before any decoding.

A ZIP of a kilobyte can hold a PNG that decodes to 6000 x 6000 pixels (100 MB) or many of
them. So the directory is checked first (entry count, declared sizes, which ``zipfile``
enforces while inflating), then each image's header is read (Pillow opens lazily: the size,
after JPEG draft scaling, is known before any pixel is decoded), and the per-image and
per-ZIP pixel limits are applied. Only then are images decoded, one at a time.
"""

from __future__ import annotations

import importlib.util
import io
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np

from recsys_core.errors import InputError
from recsys_core.features._limits import (
    IMAGE_FILE_MB,
    IMAGE_MEGAPIXELS,
    MB,
    MEGAPIXEL,
    ZIP_ENTRIES,
    ZIP_MB,
    ZIP_MEGAPIXELS,
)

#: JPEGs are decoded at the smallest 1/2, 1/4 or 1/8 scale still this large on each side.
DRAFT = 448
_HEAD = 64 * 1024  # bytes read to find an image's size; more only if the header is longer
#: What zipfile and zlib raise for a damaged, encrypted or exotic entry (ValueError: a
#: header offset pointing outside the file).
_ZIP_ERRORS = (
    zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError, ValueError, OSError
)  # fmt: skip
_CENTRAL_ENTRY = b"PK\x01\x02"


@dataclass(frozen=True)
class Entry:
    """A file that passed every check before decoding: its ZIP entry, item id and pixels."""

    info: zipfile.ZipInfo
    item: str
    pixels: int  # 0 when the size is unknown before decoding (no Pillow)


class DecodeError(Exception):
    """A file that could not be extracted or decoded; the message says which, for the page."""


def open_zip(data: bytes) -> zipfile.ZipFile:
    """The archive, once its entry count is within the limit (counted before parsing)."""
    limit = ZIP_ENTRIES.value()
    # Each directory entry starts with this signature: an upper bound found without parsing
    # (parsing a directory of millions of entries alone costs gigabytes).
    if data.count(_CENTRAL_ENTRY) > limit:
        raise _too_many(data.count(_CENTRAL_ENTRY))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_ERRORS as exc:
        raise InputError(
            f"The upload is not a ZIP file ({exc}): zip the images and upload again."
        ) from None
    if len(archive.infolist()) > limit:
        archive.close()
        raise _too_many(len(archive.infolist()))
    return archive


def _too_many(count: int) -> InputError:
    return InputError(
        f"The ZIP holds {count:,} entries, over the limit of {ZIP_ENTRIES.describe()}: "
        "split it into several uploads or raise the limit."
    )


def survey(archive: zipfile.ZipFile, known: set[str]) -> tuple[list[Entry], list[str]]:
    """The files to decode, in file-name order, and one problem line per skipped file.

    Raises:
        InputError: an image over the per-image pixel limit, or all usable images together
            over the per-ZIP byte or pixel limit; nothing has been decoded yet.
    """
    entries: list[Entry] = []
    problems: list[str] = []
    taken: dict[str, str] = {}
    for info in sorted(archive.infolist(), key=lambda i: i.filename):
        path = PurePosixPath(info.filename)
        # not ZipInfo.is_dir(): it fails on an empty name (a NUL-led name reads as "")
        folder = not info.filename or info.filename.endswith("/")
        if folder or path.name.startswith(".") or "__MACOSX" in path.parts:
            continue
        item = path.name.rsplit(".", 1)[0] if "." in path.name else path.name
        problem = _entry_problem(info, item, known, taken)
        pixels = 0
        if problem is None:
            pixels, problem = _header_pixels(archive, info)
        if problem is not None:
            problems.append(f"{info.filename}: {problem}")
            continue
        taken[item] = info.filename
        entries.append(Entry(info, item, pixels))
    _check_totals(entries)
    return entries, problems


def _entry_problem(
    info: zipfile.ZipInfo, item: str, known: set[str], taken: dict[str, str]
) -> str | None:
    if item not in known:
        return f"no item with id {item!r} in the catalogue (name files by item id)"
    if item in taken:
        return f"a second image for item {item!r} (kept {taken[item]})"
    if info.file_size == 0:
        return "empty file"
    if info.file_size > IMAGE_FILE_MB.value() * MB:
        return f"larger than {IMAGE_FILE_MB.describe()}"
    return None


def _header_pixels(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, str | None]:
    """Decoded pixels from the image header, or a problem; refuses an image over the limit."""
    if importlib.util.find_spec("PIL") is None:
        return 0, None  # the TensorFlow decoder: checked after decoding instead
    try:
        head = _extract(archive, info, _HEAD)
        size = _pillow_size(head)
        if size is None and len(head) == _HEAD:  # a long header (EXIF, ICC): read it all
            size = _pillow_size(_extract(archive, info))
    except DecodeError as exc:
        return 0, str(exc)
    if size is None:
        return 0, "not a readable image (its size cannot be read)"
    check_pixels(info.filename, *size)
    return size[0] * size[1], None


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int = -1) -> bytes:
    """The entry's bytes (at most ``limit``); inflating never exceeds its declared size."""
    try:
        with archive.open(info) as fp:
            return fp.read(limit)
    except _ZIP_ERRORS as exc:  # a damaged archive fails in zipfile or zlib
        raise DecodeError(f"cannot be extracted ({exc})") from None


def _pillow_size(raw: bytes) -> tuple[int, int] | None:
    """(width, height) as decoded (after JPEG draft scaling), without decoding; None if the
    bytes end before the size is known."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(raw)) as img:
            img.draft("RGB", (DRAFT, DRAFT))
            return img.size
    except UnidentifiedImageError:
        return None
    except Image.DecompressionBombError as exc:
        raise InputError(f"{exc} Resize the image; Pillow refuses to decode it.") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise DecodeError(f"not a readable image ({exc or type(exc).__name__})") from None


def check_pixels(name: str, width: int, height: int) -> None:
    """Refuse one image that would decode to more pixels than the per-image limit."""
    if width * height > IMAGE_MEGAPIXELS.value() * MEGAPIXEL:
        raise InputError(
            f"{name}: decodes to {width:,} x {height:,} = {width * height / MEGAPIXEL:,.1f} "
            f"megapixels, over the limit of {IMAGE_MEGAPIXELS.describe()}: resize the image "
            "or raise the limit. Nothing was imported."
        )


def _check_totals(entries: list[Entry]) -> None:
    size = sum(e.info.file_size for e in entries)
    if size > ZIP_MB.value() * MB:
        raise InputError(
            f"The ZIP's images take {size / MB:,.0f} MB uncompressed, over the limit of "
            f"{ZIP_MB.describe()}: split it into several uploads or raise the limit."
        )
    pixels = sum(e.pixels for e in entries)
    if pixels > ZIP_MEGAPIXELS.value() * MEGAPIXEL:
        raise InputError(
            f"The ZIP's images decode to {pixels / MEGAPIXEL:,.0f} megapixels together, over "
            f"the limit of {ZIP_MEGAPIXELS.describe()}: split it into several uploads, use "
            "smaller images or raise the limit. Nothing was decoded."
        )


def decode_entry(archive: zipfile.ZipFile, entry: Entry) -> tuple[np.ndarray | None, str | None]:
    """The ``[h, w, 3]`` uint8 pixels of one surveyed file, or why it cannot be read."""
    try:
        array = decoder()(_extract(archive, entry.info))
    except DecodeError as exc:
        return None, str(exc)
    if array.ndim != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        return None, "not a readable image (no pixels)"
    check_pixels(entry.info.filename, array.shape[1], array.shape[0])
    return array, None


def decoder() -> Callable[[bytes], np.ndarray]:
    """Pillow when installed (Streamlit requires it); otherwise TensorFlow's decoder."""
    if importlib.util.find_spec("PIL") is not None:
        return decode_pillow
    return decode_tensorflow


def decode_pillow(raw: bytes) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(raw)) as img:
            img.draft("RGB", (DRAFT, DRAFT))  # JPEG: decode smaller
            check_pixels("image", *img.size)  # the survey checked it; a guard for direct use
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        if isinstance(exc, InputError):
            raise
        raise DecodeError(f"not a readable image ({exc or type(exc).__name__})") from None


def decode_tensorflow(raw: bytes) -> np.ndarray:
    import tensorflow as tf

    try:
        image = tf.io.decode_image(raw, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as exc:
        raise DecodeError(f"not a readable image ({exc.message.splitlines()[0]})") from None
    return np.asarray(image.numpy(), dtype=np.uint8)
