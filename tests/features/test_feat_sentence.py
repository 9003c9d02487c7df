"""The sentence-model text encoder, on a tiny BERT model the test builds and saves itself.

Weights cannot be downloaded here, so the model is random (seeded): the test checks the real
loading and encoding path (local folder, no remote code, CPU), not the quality of the vectors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_core.data.synth import generate, to_interactions
from recsys_core.features.text import TEXT_MODEL_ENV, encode_text, sentence_model
from recsys_core.models.registry import make_model

WORDS = ["red", "green", "apple", "pear", "car", "truck", "fast", "sweet", "fruit", "vehicle"]
HIDDEN = 16


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-layer, 16-wide BERT with 15 tokens, saved as a sentence-transformers folder."""
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")  # nothing may reach for the network
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    root = tmp_path_factory.mktemp("sentence_model")
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(WORDS) + 5,
        hidden_size=HIDDEN,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    BertModel(config).save_pretrained(root / "hf")
    BertTokenizerFast(vocab_file=str(vocab)).save_pretrained(root / "hf")
    word = Transformer(str(root / "hf"), max_seq_length=16)
    pooling = Pooling(word.get_embedding_dimension())
    SentenceTransformer(modules=[word, pooling], device="cpu").save(str(root / "tiny-st"))
    yield root / "tiny-st"
    mp.undo()


def test_configured_local_model_encodes_documents_to_unit_vectors(
    tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentence_transformers import SentenceTransformer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv(TEXT_MODEL_ENV, str(tiny_model))
    assert sentence_model() == (str(tiny_model), "")
    docs = pd.Series(["red apple", "green apple", "fast car", "", "red apple"])
    enc = encode_text(docs)
    assert enc is not None and enc.encoder == "sentence-transformers model tiny-st"
    assert enc.vectors.shape == (5, HIDDEN) and enc.vectors.dtype == np.float32
    assert enc.names == [f"text~emb{j}" for j in range(HIDDEN)]
    norms = np.linalg.norm(enc.vectors, axis=1)
    np.testing.assert_allclose(norms[[0, 1, 2, 4]], 1.0, rtol=1e-5)
    assert norms[3] == 0.0  # an empty document gets no vector rather than the [CLS] one
    np.testing.assert_array_equal(enc.vectors[0], enc.vectors[4])
    direct = SentenceTransformer(str(tiny_model), device="cpu").encode(["fast car"])[0]
    np.testing.assert_allclose(enc.vectors[2], direct / np.linalg.norm(direct), atol=1e-5)
    assert "apple" in enc.terms  # TF-IDF is still kept to name matching words
    tfidf = encode_text(docs, encoder="tfidf")
    assert tfidf is not None and tfidf.encoder.startswith("TF-IDF")


def test_content_model_uses_the_sentence_model_for_item_text(
    tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv(TEXT_MODEL_ENV, str(tiny_model))
    inter = to_interactions(generate(80, 40, 800, seed=2))
    model = make_model("content", {}).fit(inter)
    assert any("sentence-transformers model tiny-st" in e for e in model.encoders.values())
    recs = model.recommend([inter.user_ids[0]], 5)
    assert len(recs) == 5 and np.isfinite(recs["score"]).all()


def test_a_folder_that_is_not_a_model_fails_with_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TEXT_MODEL_ENV, str(tmp_path / "missing"))
    path, reason = sentence_model()
    assert path is None and "is not a folder" in reason
    enc = encode_text(pd.Series(["red apple", "green pear"]))
    assert enc is not None and "is not a folder" in enc.encoder
