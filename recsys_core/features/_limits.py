"""Size limits for uploaded images and vector files, each set by an environment variable.

They hold before the expensive work: pixel counts come from image headers, array sizes from
NPY headers and ZIP directories, so a small hostile file is refused before it is expanded.
Each limit is read when a file is read (so a changed setting applies without a restart) and
is named, with its variable, in the error that it causes.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """One limit: its environment variable, its default and the unit it is written in."""

    env: str
    default: int
    unit: str

    def value(self) -> int:
        """The configured value; a malformed setting warns and falls back to the default."""
        raw = os.environ.get(self.env, "").strip()
        if not raw:
            return self.default
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value <= 0:  # reading must not fail, but a typo in the setting must not pass silently
            message = f"{self.env}={raw!r} is not a positive whole number; using {self.default}."
            warnings.warn(message, stacklevel=3)
            return self.default
        return value

    def describe(self) -> str:
        """``"25 megapixels (RECSYS_MAX_IMAGE_MEGAPIXELS)"``, for error messages."""
        return f"{self.value():,} {self.unit} ({self.env})"


MB = 2**20
MEGAPIXEL = 1_000_000

#: Decoded pixels of one image (after JPEG draft scaling), in megapixels.
IMAGE_MEGAPIXELS = Limit("RECSYS_MAX_IMAGE_MEGAPIXELS", 25, "megapixels")
#: Decoded pixels of all the images of one ZIP together, in megapixels.
ZIP_MEGAPIXELS = Limit("RECSYS_MAX_ZIP_MEGAPIXELS", 1000, "megapixels")
#: Entries (files and folders) of one image ZIP.
ZIP_ENTRIES = Limit("RECSYS_MAX_ZIP_ENTRIES", 100_000, "entries")
#: One image file inside a ZIP, uncompressed; larger files are skipped and listed.
IMAGE_FILE_MB = Limit("RECSYS_MAX_IMAGE_MB", 30, "MB")
#: All image files of one ZIP together, uncompressed.
ZIP_MB = Limit("RECSYS_MAX_ZIP_MB", 2048, "MB")
#: The arrays of a vector file (rows x dims x bytes per value, or Parquet's uncompressed size).
VECTOR_MB = Limit("RECSYS_MAX_VECTOR_MB", 512, "MB")
