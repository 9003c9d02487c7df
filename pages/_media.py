"""Data page tab: item modalities — image vectors or images, and what each modality covers."""

from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from pages._ui import dataset_picker, get_store, load_version
from recsys_core.errors import InputError
from recsys_core.features import (
    coverage_warnings,
    encode_image_zip,
    modality_coverage,
    read_item_vectors,
)
from recsys_core.jobs import datasets as jobs


@st.cache_resource(show_spinner=False, max_entries=4)
def _coverage(url: str, dataset_id: int, version: int) -> tuple[go.Figure | None, list[str]]:
    """The coverage chart and warnings, once per version for every session: scanning the
    item table for values took a third of a Data view's server time on every rerun."""
    inter = load_version(url, dataset_id, version)
    coverage = modality_coverage(inter)
    if coverage.empty:
        return None, []
    fig = px.bar(
        coverage, x="modality", y="share", hover_data=["columns", "items_with_value"],
        title="Share of catalogue items with a value, per modality", range_y=[0, 1],
    )  # fmt: skip
    return fig, list(coverage_warnings(inter))


def media_tab() -> None:
    picked = dataset_picker("media")
    if picked is None:
        return
    ds, version = picked
    inter = load_version(get_store().url, ds.id, version.version)
    fig, warnings = _coverage(get_store().url, ds.id, version.version)
    if fig is None:
        st.info("This dataset has no item table yet: import one with the behaviour file.")
    else:
        for warning in warnings:
            st.warning(warning)
        st.plotly_chart(fig, width="stretch")
    if encoder := ds.source.get("image_encoder"):
        st.caption(f"Image vectors of this dataset were made by: {encoder}")
    st.markdown("**Add image vectors** — a file of vectors keyed by item id, or a ZIP of images")
    file = st.file_uploader(
        "Vectors (CSV, Parquet, NPY/NPZ) or images (ZIP, files named by item id)",
        type=["csv", "tsv", "parquet", "npy", "npz", "zip"],
        key="media_upload",
    )
    if file is not None and st.button("Attach to the dataset", icon=":material/image:"):
        _attach(ds.name, file.name, file.getvalue(), list(inter.item_ids))


def _attach(dataset: str, name: str, data: bytes, item_ids: list[str]) -> None:
    try:
        if name.lower().endswith(".zip"):
            with st.spinner("Encoding images…"):
                encoded = encode_image_zip(data, item_ids)
            vectors, encoder = encoded.vectors, encoded.encoder
            for problem in encoded.problems[:20]:
                st.warning(problem)
            if len(encoded.problems) > 20:
                st.warning(f"…and {len(encoded.problems) - 20} more skipped files.")
        else:
            vectors, encoder = read_item_vectors(data, name), f"uploaded vectors ({name})"
        counts = jobs.store_item_vectors(get_store(), dataset, vectors, encoder=encoder)
    except InputError as exc:
        st.error(str(exc))
        return
    load_version.clear()  # item features changed: reload cached datasets
    st.success(
        f"Attached {counts['attached']:,} vectors with {encoder}; "
        f"{counts['unknown_items']:,} ids were not in the catalogue."
    )
