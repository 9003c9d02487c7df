"""The image ZIP encoder on mutated real ZIPs, random bytes and generated archives: vectors
for the readable images and a line per skipped file, or an InputError (issue 11 item 1)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from recsys_core.errors import InputError
from recsys_core.features import encode_image_zip
from recsys_core.features.images import DESCRIPTOR_DIM
from tests.features.hostile_files import solid_png
from tests.fuzz.mutations import FUZZ_READER, Mutation, mutate, mutations

pytestmark = [
    pytest.mark.fuzz,
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
    # expected: the archives written here repeat names; Pillow warns about damaged TIFF tags
    pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin"),
    pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning"),
]

IDS = ["1", "2", "3", "4", "5", "6"]


@pytest.fixture(autouse=True)
def _descriptor_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # never a CNN, never a download


def _image(fmt: str, size: tuple[int, int] = (9, 7), mode: str = "RGB") -> bytes:
    rgb = np.arange(size[0] * size[1] * 3, dtype=np.uint8).reshape(size[1], size[0], 3)
    buf = io.BytesIO()
    Image.fromarray(rgb).convert(mode).save(buf, format=fmt)
    return buf.getvalue()


IMAGES = {
    "png": _image("PNG"),
    "jpeg": _image("JPEG"),
    "gif": _image("GIF", mode="P"),
    "bmp": _image("BMP"),
    "webp": _image("WEBP"),
    "tiff": _image("TIFF"),
    "grey": _image("PNG", mode="L"),
    "rgba": _image("PNG", mode="RGBA"),
}


def _zip(files: list[tuple[str, bytes, int]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data, method in files:
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buf.getvalue()


SEED = _zip(
    [
        ("1.png", IMAGES["png"], zipfile.ZIP_DEFLATED),
        ("photos/2.jpg", IMAGES["jpeg"], zipfile.ZIP_STORED),
        ("3.gif", IMAGES["gif"], zipfile.ZIP_DEFLATED),
        ("4.bmp", IMAGES["bmp"], zipfile.ZIP_DEFLATED),
        ("5.webp", IMAGES["webp"], zipfile.ZIP_STORED),
        ("6.tiff", IMAGES["tiff"], zipfile.ZIP_STORED),
    ]
)


def check_encode(data: bytes) -> None:
    try:
        enc = encode_image_zip(data, IDS)
    except InputError as exc:
        assert len(str(exc)) > 20, str(exc)
        return
    assert set(enc.vectors.index) <= set(IDS) and enc.vectors.index.is_unique
    assert all(isinstance(p, str) and ": " in p for p in enc.problems)
    if len(enc.vectors):
        matrix = np.stack(enc.vectors.to_list())
        assert matrix.shape[1] == DESCRIPTOR_DIM and np.isfinite(matrix).all()


def test_the_seed_encodes_every_image():
    enc = encode_image_zip(SEED, IDS)
    assert sorted(enc.vectors.index) == IDS and enc.problems == []


@FUZZ_READER
@given(edits=mutations())
def test_mutated_zip(edits: list[Mutation]) -> None:
    check_encode(mutate(SEED, edits))


@FUZZ_READER
@given(kind=st.sampled_from(sorted(IMAGES)), edits=mutations(max_edits=3))
def test_mutated_image_inside_a_valid_zip(kind: str, edits: list[Mutation]) -> None:
    check_encode(_zip([("1.img", mutate(IMAGES[kind], edits), zipfile.ZIP_DEFLATED)]))


@FUZZ_READER
@given(data=st.binary(max_size=2000))
def test_random_bytes(data: bytes) -> None:
    check_encode(b"PK\x03\x04" + data if data[:1] == b"\x00" else data)


SOLIDS = [solid_png(w, h) for w, h in [(1, 1), (1, 30000), (30000, 1), (6000, 6000)]]
_names = st.one_of(
    st.sampled_from(IDS).map(lambda i: f"{i}.png"),
    st.sampled_from(["../1.png", "/2.png", "a/b/3.jpg", "4", ".5.png", "__MACOSX/6.png", "1/"]),
    st.text(min_size=1, max_size=12),
)
_contents = st.one_of(
    st.sampled_from(sorted(IMAGES)).map(IMAGES.__getitem__),
    st.sampled_from(SOLIDS),
    st.binary(max_size=64),
)


@FUZZ_READER
@given(
    files=st.lists(
        st.tuples(_names, _contents, st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])),
        max_size=5,
    )
)
def test_generated_archives(files: list[tuple[str, bytes, int]]) -> None:
    """Odd names (paths, folders, unicode, duplicates), images of odd shapes, junk."""
    check_encode(_zip(files))
