"""Image ZIPs under limits (issue 11 item 1): refused from headers, decoded one at a time."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from recsys_core.errors import InputError
from recsys_core.features import encode_image_zip
from recsys_core.features._limits import IMAGE_MEGAPIXELS
from recsys_core.features.images import describe_image
from tests.features.hostile_files import RawMember, repeated_deflate, solid_png, zip_of


@pytest.fixture(autouse=True)
def _no_cached_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # the descriptor, always


def _stored(files: dict[str, bytes]) -> bytes:
    """A ZIP of the given files, each deflated (repeated content stays tiny)."""
    return zip_of(
        [RawMember(name, *repeated_deflate(data, b"", 0)) for name, data in files.items()]
    )


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _image(rgb: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=fmt)
    return buf.getvalue()


def _peak_mb(call: Callable[[], Any]) -> tuple[Any, float]:
    """The call's result (or the InputError it raised) and its peak traced allocation."""
    tracemalloc.start()
    try:
        result: Any = call()
    except InputError as exc:
        result = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return result, peak


@pytest.mark.parametrize("side", [6000, 9000])
def test_a_kilobyte_png_bomb_is_refused_from_its_header(side: int):
    data = _stored({"a.png": solid_png(side, side)})
    assert len(data) < 2000  # the reproduction: about 1 KB on disk
    err, peak = _peak_mb(lambda: encode_image_zip(data, ["a"]))
    assert isinstance(err, InputError)
    message = str(err)
    assert f"a.png: decodes to {side:,} x {side:,}" in message
    assert "over the limit of 25 megapixels (RECSYS_MAX_IMAGE_MEGAPIXELS)" in message
    assert peak < 10  # decoding would allocate 3 bytes per pixel: 108 MB and more


def test_many_images_under_the_image_limit_are_refused_by_the_zip_limit():
    one = solid_png(5000, 5000)  # 25 megapixels: exactly at the per-image limit
    data = _stored({f"{i}.png": one for i in range(41)})  # 1,025 megapixels in ~30 KB
    err, peak = _peak_mb(lambda: encode_image_zip(data, [str(i) for i in range(41)]))
    assert isinstance(err, InputError)
    assert "decode to 1,025 megapixels together" in str(err)
    assert "1,000 megapixels (RECSYS_MAX_ZIP_MEGAPIXELS)" in str(err)
    assert peak < 20  # nothing was decoded: one image alone is 75 MB


def test_limits_are_set_by_environment_and_stated(monkeypatch: pytest.MonkeyPatch):
    small = _image(np.full((40, 40, 3), 9, dtype=np.uint8))
    data = _zip({f"{i}.png": small for i in range(6)})
    ids = [str(i) for i in range(6)]
    monkeypatch.setenv("RECSYS_MAX_ZIP_ENTRIES", "5")
    with pytest.raises(InputError, match=r"holds 6 entries, over .*5 entries \(RECSYS_MAX_ZIP"):
        encode_image_zip(data, ids)
    monkeypatch.setenv("RECSYS_MAX_ZIP_ENTRIES", "6")
    monkeypatch.setenv("RECSYS_MAX_IMAGE_MEGAPIXELS", "1")
    big = _zip({"a.png": _image(np.zeros((1001, 1000, 3), dtype=np.uint8))})
    with pytest.raises(InputError, match=r"1,000 x 1,001 = 1.0 megapixels, over the limit of 1 "):
        encode_image_zip(big, ["a"])
    monkeypatch.setenv("RECSYS_MAX_ZIP_MB", "1")
    bulky = _zip({"a.bmp": _image(np.zeros((700, 700, 3), np.uint8), "BMP"), "b.png": small})
    with pytest.raises(InputError, match=r"uncompressed, over the limit of 1 MB \(RECSYS_MAX_ZIP"):
        encode_image_zip(bulky, ["a", "b"])
    monkeypatch.setenv("RECSYS_MAX_IMAGE_MB", "1")  # one large file is skipped, not fatal
    enc = encode_image_zip(bulky, ["a", "b"])
    assert enc.vectors.index.tolist() == ["b"]
    assert enc.problems == ["a.bmp: larger than 1 MB (RECSYS_MAX_IMAGE_MB)"]


def test_a_malformed_limit_warns_and_keeps_the_default(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RECSYS_MAX_IMAGE_MEGAPIXELS", "lots")
    with pytest.warns(UserWarning, match="not a positive whole number; using 25"):
        assert IMAGE_MEGAPIXELS.value() == 25


def test_jpegs_count_the_pixels_they_decode_at_draft_scale(monkeypatch: pytest.MonkeyPatch):
    """A 2400 x 2400 JPEG decodes at 1/4 scale (600 x 600), a PNG at full size."""
    monkeypatch.setenv("RECSYS_MAX_IMAGE_MEGAPIXELS", "1")
    rgb = np.full((2400, 2400, 3), 120, dtype=np.uint8)
    enc = encode_image_zip(_zip({"a.jpg": _image(rgb, "JPEG")}), ["a"])
    assert enc.vectors.index.tolist() == ["a"] and enc.problems == []
    with pytest.raises(InputError, match="2,400 x 2,400"):
        encode_image_zip(_zip({"a.png": _image(rgb)}), ["a"])


def test_images_are_decoded_one_at_a_time_and_batches_keep_every_vector():
    rng = np.random.default_rng(3)
    arrays = {f"{i:02d}": rng.integers(0, 256, (12, 10, 3), dtype=np.uint8) for i in range(70)}
    enc = encode_image_zip(_zip({f"{k}.png": _image(a) for k, a in arrays.items()}), arrays)
    assert enc.vectors.index.tolist() == sorted(arrays)  # 70 > 2 batches of 32
    for key in ("00", "33", "69"):
        np.testing.assert_array_equal(enc.vectors[key], describe_image(arrays[key]))
    # six 4-megapixel images: 72 MB if all were kept, one image's worth when decoded in turn
    rows, cols = np.indices((2000, 2000))
    png = _image(np.stack([rows % 256, cols % 256, (rows + cols) % 256], axis=-1).astype(np.uint8))
    data = _zip({f"{i}.png": png for i in range(6)})
    enc, peak = _peak_mb(lambda: encode_image_zip(data, [str(i) for i in range(6)]))
    assert len(enc.vectors) == 6
    assert peak < 45, peak


def test_damaged_directories_found_by_the_fuzz_suite_are_reported_not_raised():
    """A NUL-led entry name (read back as "") and offsets shifted by a missing first byte."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo("\x00"), b"abc")
        zf.writestr("a.png", _image(np.zeros((4, 4, 3), np.uint8)))
    named_nul = buf.getvalue()
    assert encode_image_zip(named_nul, ["a"]).vectors.index.tolist() == ["a"]
    shifted = _zip({"a.png": _image(np.zeros((4, 4, 3), np.uint8))})[1:]
    enc = encode_image_zip(shifted, ["a"])
    assert enc.vectors.empty and enc.problems[0].startswith("a.png: cannot be extracted")
