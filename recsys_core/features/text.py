"""Text encoders: TF-IDF reduced by a seeded SVD, or a locally installed sentence model."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_core.features.tabular import is_list_cell

#: Environment variable naming a local sentence-transformers model folder (never downloaded).
TEXT_MODEL_ENV = "RECSYS_TEXT_MODEL"
#: From this many non-empty documents on, a word must occur in two of them to count.
_MIN_DF_FROM = 10
TextEncoderChoice = Literal["auto", "tfidf"]


@dataclass(frozen=True)
class TextEncoding:
    """Dense text vectors plus the TF-IDF they came from (kept to name matching words).

    Attributes:
        vectors: float32 ``[n_docs, d]``, rows L2-normalised; empty documents are all 0.
        names: one name per column of ``vectors``.
        encoder: human description of the encoder used, for the page.
        term_weights: L2-normalised TF-IDF, CSR float32 ``[n_docs, n_terms]``.
        terms: the word of each column of ``term_weights``.
    """

    vectors: np.ndarray
    names: list[str]
    encoder: str
    term_weights: sp.csr_matrix
    terms: list[str]


def documents(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """One document per row: the columns' text joined by spaces, list cells word by word."""
    out = pd.Series("", index=pd.RangeIndex(len(frame)), dtype=object)
    for col in columns:
        series = frame[col].reset_index(drop=True)
        categorical = isinstance(series.dtype, pd.CategoricalDtype)
        if not categorical and series.dropna().map(is_list_cell).any():
            # a comprehension over items: groupby-join is 50x slower on 10k short lists
            words = [" ".join(map(str, v)) if is_list_cell(v) else "" for v in series]
            text = pd.Series(words, index=out.index, dtype=object)
        else:
            text = series.astype(object).where(series.notna(), "").astype(str)
        out = out + " " + text
    return out.str.strip()


def tfidf(docs: pd.Series) -> tuple[sp.csr_matrix, list[str]]:
    """Sublinear TF-IDF rows, L2-normalised; words in one document only are dropped once
    there are enough documents, since they cannot make two items similar.

    Returns:
        CSR float32 ``[n_docs, n_terms]`` (no columns when there is no word at all), terms.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer  # lazy: 0.7 s to import

    filled = int((docs.str.len() > 0).sum())
    for min_df in (2, 1) if filled >= _MIN_DF_FROM else (1,):
        vec = TfidfVectorizer(
            sublinear_tf=True, min_df=min_df, strip_accents="unicode", dtype=np.float32
        )
        try:
            mat = vec.fit_transform(docs.astype(str).tolist())
        except ValueError:  # sklearn's "empty vocabulary": no word passes min_df
            continue
        return sp.csr_matrix(mat, dtype=np.float32), vec.get_feature_names_out().tolist()
    return sp.csr_matrix((len(docs), 0), dtype=np.float32), []


def encode_text(
    docs: pd.Series, dim: int = 64, *, random_state: int = 0, encoder: TextEncoderChoice = "auto"
) -> TextEncoding | None:
    """Encode documents; None when no document holds a word.

    With ``encoder="auto"`` a sentence-transformers model is used when ``RECSYS_TEXT_MODEL``
    names a local model folder and the package is installed; otherwise, and always with
    ``"tfidf"``, TF-IDF goes through a seeded TruncatedSVD to ``dim`` components (skipped
    when there are no more words than ``dim``). Rows are L2-normalised so that dot
    products are cosines.
    """
    terms_mat, terms = tfidf(docs)
    if not terms:
        return None
    model_path, reason = sentence_model() if encoder == "auto" else (None, "")
    if model_path is not None:
        vectors = _sentence_vectors(docs, model_path)
        names = [f"text~emb{j}" for j in range(vectors.shape[1])]
        label = f"sentence-transformers model {Path(model_path).name}"
    else:
        vectors, names = _reduce(terms_mat, terms, dim, random_state)
        label = f"TF-IDF ({len(terms)} words)" + (
            f" -> SVD {vectors.shape[1]}" if names[0].startswith("text~svd") else ""
        )
        label += f"; {reason}" if reason else ""
    return TextEncoding(vectors, names, label, terms_mat, terms)


def _reduce(
    mat: sp.csr_matrix, terms: list[str], dim: int, random_state: int
) -> tuple[np.ndarray, list[str]]:
    """TruncatedSVD to at most ``dim`` components, each named by its three heaviest words."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    k = min(dim, mat.shape[1] - 1, mat.shape[0] - 1)
    if mat.shape[1] <= dim or k < 1:
        return mat.toarray(), [f"text={t}" for t in terms]
    svd = TruncatedSVD(n_components=k, algorithm="arpack", random_state=random_state)
    dense = normalize(svd.fit_transform(mat)).astype(np.float32)
    top = np.argsort(-svd.components_, axis=1, kind="stable")[:, :3]
    vocab = np.asarray(terms, dtype=object)
    names = [f"text~svd{j}:{'/'.join(vocab[row])}" for j, row in enumerate(top)]
    return dense, names


def sentence_model() -> tuple[str | None, str]:
    """The local sentence model folder to use, or None and why not (empty when not asked)."""
    path = os.environ.get(TEXT_MODEL_ENV, "").strip()
    if not path:
        return None, ""
    if importlib.util.find_spec("sentence_transformers") is None:
        return None, f"{TEXT_MODEL_ENV} is set but sentence-transformers is not installed"
    if not Path(path).is_dir():
        return None, f"{TEXT_MODEL_ENV}={path} is not a folder"
    return path, ""


def _sentence_vectors(docs: pd.Series, model_path: str) -> np.ndarray:
    """Embeddings from a local model folder (loaded without remote code, on the CPU)."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path, device="cpu", trust_remote_code=False)
    text = docs.astype(str).tolist()
    out = model.encode(text, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    vectors = np.asarray(out, dtype=np.float32)
    vectors[(docs.str.len() == 0).to_numpy()] = 0.0  # an empty document has no meaning to embed
    return vectors
