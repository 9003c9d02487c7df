"""Item and user attribute tables turned into per-modality numeric blocks for content models."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.features.tabular import (
    ColumnKinds,
    classify_columns,
    has_value,
    multi_hot,
    scaled_numeric,
)
from recsys_core.features.text import TextEncoderChoice, documents, encode_text

#: Modalities in block order.
MODALITIES = ("text", "categorical", "numeric", "image")


class ItemEncoderConfig(BaseModel):
    """Which item columns feed which encoder, and how big the text block is."""

    model_config = ConfigDict(extra="forbid")

    text_dim: int = Field(
        default=64,
        ge=2,
        le=1024,
        description="Size of the text block: TF-IDF -> TruncatedSVD components.",
    )
    text_columns: list[str] | None = Field(
        default=None,
        description=(
            "Columns joined into each item's document; empty = every free-text column plus the "
            "words of multi-valued columns (tags)."
        ),
    )
    categorical_columns: list[str] | None = Field(
        default=None,
        description=(
            "Columns turned into 'column=value' indicators; empty = every low-cardinality text "
            "column and every multi-valued column (lists or 'A|B')."
        ),
    )
    numeric_columns: list[str] | None = Field(
        default=None, description="Number columns, standard-scaled; empty = every number column."
    )
    image_column: str = Field(
        default="image", description="Item column holding one image vector (float array) per item."
    )
    max_categories: int = Field(
        default=200,
        ge=1,
        le=10_000,
        description="Most frequent values kept per categorical column.",
    )
    text_encoder: TextEncoderChoice = Field(
        default="auto",
        description=(
            "auto: a local sentence-transformers model when RECSYS_TEXT_MODEL names one, else "
            "TF-IDF; tfidf: always TF-IDF."
        ),
    )
    random_state: int = Field(default=0, ge=0, description="Seed of the SVD, so encodings repeat.")


@dataclass(frozen=True)
class ItemModalities:
    """Per-modality item blocks over an Interactions' item index space.

    Attributes:
        item_ids: external item id per row, aligned with the Interactions' item index.
        blocks: modality ("text", "categorical", "numeric", "image") -> float32 [n_items, d];
            modalities absent from the data are absent here.
        present: modality -> bool [n_items]: the item has a value for it.
        encoders: modality -> human description of the encoder used.
        feature_names: modality -> names of the block's columns (e.g. "genres=Drama").
        term_weights: L2-normalised TF-IDF [n_items, n_terms] behind the text block, kept so
            explanations can name the words two items share; None without text.
        terms: the word of each column of ``term_weights``.
    """

    item_ids: np.ndarray
    blocks: dict[str, np.ndarray]
    present: dict[str, np.ndarray]
    encoders: dict[str, str]
    feature_names: dict[str, list[str]]
    term_weights: sp.csr_matrix | None = None
    terms: list[str] = field(default_factory=list)


def _aligned(table: pd.DataFrame | None, ids: np.ndarray) -> pd.DataFrame | None:
    """The table's rows in the order of ``ids`` (missing ids give empty rows)."""
    if table is None or table.empty or not len(table.columns):
        return None
    frame = table.set_axis(table.index.astype(str))
    frame = frame[~frame.index.duplicated()]
    return frame.reindex(pd.Index(np.asarray(ids, dtype=str)))


def _kinds(frame: pd.DataFrame, config: ItemEncoderConfig) -> ColumnKinds:
    """Columns per encoder: the config's lists where given, the guesses otherwise."""
    exclude = [config.image_column]
    guessed = classify_columns(frame, exclude=exclude)
    chosen = {
        "text": config.text_columns,
        "categorical": config.categorical_columns,
        "numeric": config.numeric_columns,
    }
    unknown = sorted({c for cols in chosen.values() for c in cols or []} - set(frame.columns))
    if unknown:
        raise InputError(
            f"The item table has no column(s) {unknown}; its columns are {list(frame.columns)}."
        )

    def pick(given: list[str] | None, guess: list[str]) -> list[str]:
        return guess if given is None else given

    return ColumnKinds(
        text=pick(config.text_columns, guessed.text + guessed.multi_valued),
        categorical=pick(config.categorical_columns, guessed.categorical + guessed.multi_valued),
        numeric=pick(config.numeric_columns, guessed.numeric),
    )


def encode_items(inter: Interactions, config: ItemEncoderConfig | None = None) -> ItemModalities:
    """Encode ``inter.item_features`` for every item of ``inter``'s item index space.

    Fitted on the item table alone (no interactions), so items nobody interacted with get
    vectors too. Text: TF-IDF -> SVD (see :func:`encode_text`); categorical: multi-hot
    "column=value"; numeric: standard-scaled with missing flags; image: the vectors of
    ``config.image_column`` as given. Rows of items without a value are 0.

    Raises:
        InputError: a configured column is not in the table, or image vectors differ in size.
    """
    config = config or ItemEncoderConfig()
    ids = np.asarray(inter.item_ids, dtype=object)
    out = ItemModalities(ids, {}, {}, {}, {})  # _put fills its dicts block by block
    frame = _aligned(inter.item_features, ids)
    if frame is None:
        return out
    kinds = _kinds(frame, config)
    term_weights, terms = None, []
    if kinds.text:
        enc = encode_text(
            documents(frame, kinds.text),
            config.text_dim,
            random_state=config.random_state,
            encoder=config.text_encoder,
        )
        if enc is not None:
            label = f"{enc.encoder} over {kinds.text}"
            _put(out, "text", enc.vectors, enc.names, label, _nonzero(enc.vectors))
            term_weights, terms = enc.term_weights, enc.terms
    cat, cat_names = multi_hot(frame, kinds.categorical, config.max_categories)
    if cat_names:
        label = f"multi-hot, top {config.max_categories} values per column of {kinds.categorical}"
        _put(out, "categorical", cat.toarray(), cat_names, label, np.diff(cat.indptr) > 0)
    num, num_names = scaled_numeric(frame, kinds.numeric)
    if num_names:
        label = f"standard-scaled {kinds.numeric}, missing -> 0"
        _put(out, "numeric", num, num_names, label, has_value(frame, kinds.numeric))
    if config.image_column in frame.columns:
        image = _image_block(frame[config.image_column])
        if image is not None:
            names = [f"image~{j}" for j in range(image.shape[1])]
            label = f"uploaded vectors ({image.shape[1]} values)"
            _put(out, "image", image, names, label, _nonzero(image))
    return ItemModalities(
        ids, out.blocks, out.present, out.encoders, out.feature_names, term_weights, terms
    )


def _nonzero(block: np.ndarray) -> np.ndarray:
    return np.asarray(np.abs(block).sum(axis=1) > 0)


def _put(
    out: ItemModalities,
    name: str,
    block: np.ndarray,
    names: list[str],
    label: str,
    present: np.ndarray,
) -> None:
    """Store a block with its presence mask, encoder description and column names."""
    out.blocks[name] = np.ascontiguousarray(block, dtype=np.float32)
    out.present[name] = np.asarray(present, dtype=bool)
    out.encoders[name] = label
    out.feature_names[name] = names


def _image_block(column: pd.Series) -> np.ndarray | None:
    """Stack per-item vectors; items without one get a zero row."""
    has = column.map(lambda v: isinstance(v, np.ndarray | list | tuple)).to_numpy(dtype=bool)
    if not has.any():
        return None
    values = column[has]
    sizes = values.map(len).to_numpy()
    if (sizes != sizes[0]).any():
        bad = values.index[sizes != sizes[0]][:5].tolist()
        raise InputError(
            f"Image vectors differ in size ({sorted(set(sizes.tolist()))} values), e.g. items "
            f"{bad}: upload one vector file with the same size for every item."
        )
    block = np.zeros((len(column), int(sizes[0])), dtype=np.float32)
    block[has] = np.stack(list(values)).astype(np.float32)
    return np.nan_to_num(block, nan=0.0, posinf=0.0, neginf=0.0)


def encode_users(inter: Interactions) -> tuple[np.ndarray, list[str]] | None:
    """User attributes over ``inter``'s user index: multi-hot categories, scaled numbers.

    Free-text columns are left out (user tables rarely hold any). None when the data has no
    user table or no usable column.
    """
    frame = _aligned(inter.user_features, inter.user_ids)
    if frame is None:
        return None
    kinds = classify_columns(frame)
    cat, cat_names = multi_hot(frame, kinds.categorical + kinds.multi_valued)
    num, num_names = scaled_numeric(frame, kinds.numeric)
    if not cat_names and not num_names:
        return None
    return np.hstack([cat.toarray(), num]).astype(np.float32), cat_names + num_names


def modality_coverage(inter: Interactions, config: ItemEncoderConfig | None = None) -> pd.DataFrame:
    """Per modality: the columns feeding it, items with a value and their share of the catalogue.

    Cheap (no encoding), for the Data page. Columns: modality, columns, items_with_value,
    share. Empty (same columns) when there is no item table.
    """
    config = config or ItemEncoderConfig()
    cols = ["modality", "columns", "items_with_value", "share"]
    frame = _aligned(inter.item_features, inter.item_ids)
    if frame is None:
        return pd.DataFrame({c: [] for c in cols})
    kinds = _kinds(frame, config)
    feeds = {"text": kinds.text, "categorical": kinds.categorical, "numeric": kinds.numeric}
    rows = []
    for name, columns in feeds.items():
        if columns:
            n = int(has_value(frame, columns).sum())
            rows.append((name, ", ".join(columns), n, n / max(len(frame), 1)))
    if config.image_column in frame.columns:
        column = frame[config.image_column]
        n = int(column.map(lambda v: isinstance(v, np.ndarray | list | tuple)).sum())
        rows.append(("image", config.image_column, n, n / max(len(frame), 1)))
    return pd.DataFrame(rows, columns=cols)


#: Below this share of the catalogue a modality says little about most items.
SPARSE_MODALITY_SHARE = 0.2


def coverage_warnings(inter: Interactions, config: ItemEncoderConfig | None = None) -> list[str]:
    """Plain warnings for modalities that most items lack (e.g. a text column mostly empty)."""
    table = modality_coverage(inter, config)
    sparse = table[table["share"] < SPARSE_MODALITY_SHARE]
    return [
        f"Only {row.share:.0%} of the items have {row.modality} "
        f"({row.columns}): content and multimodal models learn little about the others "
        "from it; fill it in or rely on the other modalities."
        for row in sparse.itertuples()
    ]
