"""Text encoding: TF-IDF similarities by hand, SVD reduction, determinism, encoder choice."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from recsys_core.features.text import (
    TEXT_MODEL_ENV,
    documents,
    encode_text,
    sentence_model,
    tfidf,
)


def test_documents_join_text_and_list_columns():
    frame = pd.DataFrame(
        {"title": ["Alien", None, "Up"], "tags": [["space", "horror"], ["kids"], None]}
    )
    assert documents(frame, ["title", "tags"]).tolist() == ["Alien space horror", "kids", "Up"]


def test_tfidf_on_three_documents_the_two_similar_ones_have_the_higher_cosine():
    docs = pd.Series(["red apple fruit", "green apple fruit", "fast red car"])
    mat, terms = tfidf(docs)
    assert terms == ["apple", "car", "fast", "fruit", "green", "red"]
    sim = (mat @ mat.T).toarray()
    np.testing.assert_allclose(np.diag(sim), 1.0, rtol=1e-6)  # rows are L2-normalised
    assert sim[0, 1] > sim[0, 2] > 0
    assert sim[1, 2] == 0.0  # no shared word
    # hand-computed: idf(apple) = idf(fruit) = idf(red) = ln(4/3) + 1, idf(green) = ln 2 + 1
    common, rare = np.log(4 / 3) + 1, np.log(2) + 1
    expected = (2 * common**2) / (np.sqrt(3 * common**2) * np.sqrt(2 * common**2 + rare**2))
    assert sim[0, 1] == pytest.approx(expected, rel=1e-5)


def test_words_of_a_single_document_are_dropped_once_there_are_many_documents():
    docs = pd.Series([f"shared unique{i}" for i in range(12)])
    _, terms = tfidf(docs)
    assert terms == ["shared"]


def test_encode_text_without_any_word_is_none():
    assert encode_text(pd.Series(["", "", "  "])) is None


def test_small_vocabulary_is_kept_as_words_and_rows_are_unit_length():
    enc = encode_text(pd.Series(["red apple", "green apple", ""]), dim=64)
    assert enc is not None
    assert enc.names == ["text=apple", "text=green", "text=red"]
    np.testing.assert_allclose(np.linalg.norm(enc.vectors, axis=1), [1.0, 1.0, 0.0], rtol=1e-6)
    assert enc.encoder.startswith("TF-IDF (3 words)")


@pytest.fixture
def corpus(rng: np.random.Generator) -> pd.Series:
    """Two topics of 10 words each; documents draw 6 words of one topic."""
    topics = [[f"space{i}" for i in range(10)], [f"cook{i}" for i in range(10)]]
    return pd.Series([" ".join(rng.choice(topics[d % 2], size=6)) for d in range(40)], dtype=object)


def test_svd_reduces_to_the_asked_size_and_keeps_topics_apart(corpus):
    enc = encode_text(corpus, dim=4, random_state=0)
    assert enc is not None
    assert enc.vectors.shape == (40, 4) and enc.vectors.dtype == np.float32
    assert enc.names[0].startswith("text~svd0:")
    assert enc.term_weights.shape == (40, 20) and len(enc.terms) == 20
    sim = enc.vectors @ enc.vectors.T
    same = sim[0, 2::2].mean()  # documents 0, 2, 4, ... share a topic
    other = sim[0, 1::2].mean()
    assert same > 0.8 and abs(other) < 0.2


def test_encode_text_is_deterministic(corpus):
    a = encode_text(corpus, dim=4, random_state=3)
    b = encode_text(corpus, dim=4, random_state=3)
    assert a is not None and b is not None
    np.testing.assert_array_equal(a.vectors, b.vectors)


def test_sentence_model_is_used_only_when_configured_and_installed(monkeypatch, tmp_path):
    monkeypatch.delenv(TEXT_MODEL_ENV, raising=False)
    assert sentence_model() == (None, "")
    monkeypatch.setenv(TEXT_MODEL_ENV, str(tmp_path))
    # The dev environment has sentence-transformers (test_feat_sentence uses it); an analyst's
    # may not. Hiding it from the package lookup stands in for that machine.
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "sentence_transformers" else real(name, *a),
    )
    path, reason = sentence_model()
    assert path is None and "not installed" in reason
    enc = encode_text(pd.Series(["red apple", "green apple"]))
    assert enc is not None and "not installed" in enc.encoder
    forced = encode_text(pd.Series(["red apple", "green apple"]), encoder="tfidf")
    assert forced is not None and "not installed" not in forced.encoder
