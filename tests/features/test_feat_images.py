"""Images in a ZIP: decoding, per-file problems, the descriptor by hand, encoder choice."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recsys_core.errors import InputError
from recsys_core.features import encode_image_zip
from recsys_core.features._image_zip import decode_pillow, decode_tensorflow
from recsys_core.features.images import (
    DESCRIPTOR_DIM,
    MOBILENET_FILE,
    describe_image,
    mobilenet_vectors,
    mobilenet_weights,
)


@pytest.fixture(autouse=True)
def _no_cached_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Keras home: tests never see (or download) real weights."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    return tmp_path / "keras"


def _image(rgb: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb.astype(np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


def _solid(colour: tuple[int, int, int], size: int = 16) -> np.ndarray:
    return np.broadcast_to(np.array(colour, dtype=np.uint8), (size, size, 3)).copy()


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_descriptor_of_a_solid_colour_hand_checked():
    vec = describe_image(_solid((255, 0, 0)))
    assert vec.shape == (DESCRIPTOR_DIM,) and vec.dtype == np.float32
    # histograms: all pixels in R bin 7, G bin 0, B bin 0 -> (1,1,1)/sqrt 3 before mixing;
    # thumbnail: constant grey 0.299 -> each of 64 cells 1/8 after normalising
    hist = np.zeros(24)
    hist[[7, 8, 16]] = 1 / np.sqrt(3)
    expected = np.concatenate([hist, np.full(64, 1 / 8)]) / np.sqrt(2)
    np.testing.assert_allclose(vec, expected, rtol=1e-5)


def test_descriptor_thumbnail_sees_layout_and_small_images_work():
    left_dark = np.zeros((20, 20, 3), dtype=np.uint8)
    left_dark[:, 10:] = 255
    right_dark = left_dark[:, ::-1].copy()
    a, b = describe_image(left_dark), describe_image(right_dark)
    assert np.allclose(a[:24], b[:24])  # same colours
    assert not np.allclose(a[24:], b[24:])  # different layout
    assert describe_image(np.full((3, 5, 3), 100, dtype=np.uint8)).shape == (DESCRIPTOR_DIM,)


def test_zip_images_are_encoded_per_item_and_similar_images_are_closer():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 20, size=(16, 16, 3))
    files = {
        "red1.png": _image(_solid((230, 10, 10)) + noise),
        "photos/red2.jpg": _image(_solid((220, 0, 20)) + noise, "JPEG"),
        "blue.png": _image(_solid((10, 10, 230)) + noise),
    }
    enc = encode_image_zip(_zip(files), ["red1", "red2", "blue", "other"])
    assert enc.problems == []
    assert enc.encoder.startswith("colour histograms")
    # file-name order; a folder in the zip does not change the id ("photos/red2.jpg" -> red2)
    assert enc.vectors.index.tolist() == ["blue", "red2", "red1"]
    v = {k: np.asarray(x) for k, x in enc.vectors.items()}
    assert float(v["red1"] @ v["red2"]) > float(v["red1"] @ v["blue"])
    np.testing.assert_allclose(np.linalg.norm(v["blue"]), 1.0, rtol=1e-5)


def test_bad_files_are_reported_per_file_and_never_stored():
    good = _image(_solid((0, 200, 0)))
    files = {
        "ok.png": good,
        "broken.png": good[: len(good) // 2],
        "notes.txt": b"these are not pixels",
        "ghost.png": good,
        "ok.jpg": _image(_solid((0, 200, 0)), "JPEG"),
        "empty.png": b"",
        "folder/": b"",
        "__MACOSX/._ok.png": b"junk",
        ".DS_Store": b"junk",
    }
    enc = encode_image_zip(_zip(files), ["ok", "broken", "notes", "empty"])
    assert enc.vectors.index.tolist() == ["ok"]
    problems = "\n".join(enc.problems)
    assert len(enc.problems) == 5, problems
    assert "broken.png: not a readable image" in problems
    assert "notes.txt: not a readable image" in problems
    assert "ghost.png: no item with id 'ghost'" in problems
    assert "ok.png: a second image for item 'ok' (kept ok.jpg)" in problems
    assert "empty.png: empty file" in problems


def test_encoding_is_deterministic():
    data = _zip({"a.png": _image(_solid((10, 120, 200)))})
    a = encode_image_zip(data, ["a"]).vectors["a"]
    b = encode_image_zip(data, ["a"]).vectors["a"]
    np.testing.assert_array_equal(a, b)


def test_an_upload_that_is_not_a_zip_is_an_input_error():
    with pytest.raises(InputError, match="not a ZIP"):
        encode_image_zip(b"PK-not-really", ["a"])


def test_empty_zip_gives_no_vectors():
    enc = encode_image_zip(_zip({}), ["a"])
    assert enc.vectors.empty and enc.problems == []


def test_pretrained_encoder_needs_cached_weights(_no_cached_weights):
    data = _zip({"a.png": _image(_solid((1, 2, 3)))})
    assert mobilenet_weights() is None
    with pytest.raises(InputError, match=MOBILENET_FILE):
        encode_image_zip(data, ["a"], encoder="mobilenet")
    weights = _no_cached_weights / "models" / MOBILENET_FILE
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"")  # only its presence is checked here; nothing is loaded
    assert mobilenet_weights() == weights
    assert encode_image_zip(data, ["a"], encoder="descriptor").encoder.startswith("colour")


@pytest.mark.slow
def test_tensorflow_decoder_matches_pillow_and_cnn_path_runs_without_weights():
    """The fallback decoder and the CNN code path (random weights: nothing is downloaded)."""
    png = _image(np.arange(12 * 10 * 3).reshape(12, 10, 3) % 256)
    np.testing.assert_array_equal(decode_tensorflow(png), decode_pillow(png))
    vectors = mobilenet_vectors([decode_pillow(png), _solid((9, 9, 9), 40)], weights=None)
    assert vectors.shape == (2, 576) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-4)
