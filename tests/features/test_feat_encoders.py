"""encode_items / encode_users / modality_coverage over an Interactions' index spaces."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_core.columns import Columns
from recsys_core.data import synth
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.features import (
    ItemEncoderConfig,
    encode_items,
    encode_users,
    modality_coverage,
)


@pytest.fixture(scope="module")
def synthetic() -> Interactions:
    return synth.to_interactions(synth.generate(120, 90, 900, seed=5))


def _tiny(items: pd.DataFrame | None, users: pd.DataFrame | None = None) -> Interactions:
    """Users a, b over items i1..i3; the item table may add catalogue-only items."""
    frame = pd.DataFrame({Columns.user: ["a", "a", "b"], Columns.item: ["i1", "i2", "i3"]})
    return Interactions.from_frame(frame, item_features=items, user_features=users)


def test_synthetic_items_get_every_modality_aligned_with_the_item_index(synthetic):
    mods = encode_items(synthetic, ItemEncoderConfig(text_dim=16))
    assert set(mods.blocks) == {"text", "categorical", "numeric"}
    np.testing.assert_array_equal(mods.item_ids, synthetic.item_ids)
    for name, block in mods.blocks.items():
        assert block.shape[0] == synthetic.n_items and block.dtype == np.float32
        assert len(mods.feature_names[name]) == block.shape[1]
        assert mods.present[name].all()
    assert mods.blocks["text"].shape[1] == 16
    assert "category=Action" in mods.feature_names["categorical"]
    assert mods.feature_names["numeric"] == ["price"]
    assert "TF-IDF" in mods.encoders["text"]
    # the numeric block is the standard-scaled price, row by row in item-index order
    price = synthetic.item_features.loc[synthetic.item_ids, "price"].to_numpy()
    z = (price - price.mean()) / price.std()
    np.testing.assert_allclose(mods.blocks["numeric"][:, 0], z, rtol=1e-5)


def test_encode_items_is_deterministic(synthetic):
    a = encode_items(synthetic, ItemEncoderConfig(text_dim=8, random_state=1))
    b = encode_items(synthetic, ItemEncoderConfig(text_dim=8, random_state=1))
    for name in a.blocks:
        np.testing.assert_array_equal(a.blocks[name], b.blocks[name])


def test_items_without_metadata_get_zero_rows_and_catalogue_only_items_get_vectors():
    items = pd.DataFrame(
        {"genre": ["x", "y", "x"], "price": [1.0, 2.0, np.nan]},
        index=pd.Index(["i1", "i3", "i9"], name=Columns.item),
    )
    inter = _tiny(items)
    assert inter.item_ids.tolist() == ["i1", "i2", "i3", "i9"]  # i9: metadata only (cold)
    mods = encode_items(inter)
    assert mods.feature_names["categorical"] == ["genre=x", "genre=y"]
    np.testing.assert_array_equal(mods.blocks["categorical"], [[1, 0], [0, 0], [0, 1], [1, 0]])
    np.testing.assert_array_equal(mods.present["categorical"], [True, False, True, True])
    np.testing.assert_array_equal(mods.present["numeric"], [True, False, True, False])
    assert mods.feature_names["numeric"] == ["price", "price_missing"]


def test_no_item_table_gives_no_blocks():
    mods = encode_items(_tiny(None))
    assert mods.blocks == {} and mods.present == {} and mods.term_weights is None


def test_configured_columns_override_the_guess_and_unknown_ones_are_refused(synthetic):
    mods = encode_items(synthetic, ItemEncoderConfig(categorical_columns=["category"]))
    assert all(n.startswith("category=") for n in mods.feature_names["categorical"])
    with pytest.raises(InputError, match="no column"):
        encode_items(synthetic, ItemEncoderConfig(text_columns=["plot"]))


def test_image_vectors_become_a_block_and_mixed_sizes_are_refused():
    vec = np.array([3.0, 4.0], dtype=np.float32)
    items = pd.DataFrame(
        {"image": [vec, None, vec * 2]}, index=pd.Index(["i1", "i2", "i3"], name=Columns.item)
    )
    mods = encode_items(_tiny(items))
    np.testing.assert_array_equal(mods.blocks["image"], [[3, 4], [0, 0], [6, 8]])
    np.testing.assert_array_equal(mods.present["image"], [True, False, True])
    bad = items.assign(image=[vec, np.zeros(3), None])
    with pytest.raises(InputError, match="differ in size"):
        encode_items(_tiny(bad))


def test_encode_users_multi_hot_and_scaled():
    users = pd.DataFrame(
        {"age_group": ["18-24", "25-34"], "country": ["US", "US"], "age": [20.0, 30.0]},
        index=pd.Index(["b", "a"], name=Columns.user),
    )
    out = encode_users(_tiny(None, users))
    assert out is not None
    matrix, names = out
    assert names == ["age_group=18-24", "age_group=25-34", "country=US", "age"]
    # rows follow the user index (a, b), not the table's order
    np.testing.assert_array_equal(matrix, [[0, 1, 1, 1], [1, 0, 1, -1]])
    assert encode_users(_tiny(None)) is None


def test_modality_coverage_counts_items_with_a_value():
    items = pd.DataFrame(
        {
            "title": ["A long title for a movie", None, "Another long title of a film"],
            "genre": ["x", "y", None],
        },
        index=pd.Index(["i1", "i2", "i3"], name=Columns.item),
    )
    cov = modality_coverage(_tiny(items)).set_index("modality")
    assert cov.loc["text", "items_with_value"] == 2
    assert cov.loc["categorical", "items_with_value"] == 2
    assert cov.loc["text", "share"] == pytest.approx(2 / 3)
    assert modality_coverage(_tiny(None)).empty


def test_coverage_warnings_name_a_mostly_empty_text_column() -> None:
    import pandas as pd

    from recsys_core.data.interactions import Interactions
    from recsys_core.features import coverage_warnings

    ids = [str(i) for i in range(50)]
    text = [f"a long description number {i}" if i < 2 else "" for i in range(50)]
    feats = pd.DataFrame({"description": text, "genre": ["a", "b"] * 25}, index=ids)
    frame = pd.DataFrame({"user_id": ["u1", "u2"] * 25, "item_id": ids})
    (warning,) = coverage_warnings(Interactions.from_frame(frame, item_features=feats))
    assert warning.startswith("Only 4% of the items have text (description)")
