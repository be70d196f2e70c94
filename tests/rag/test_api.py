"""The facade end to end on real loaders and the real store, with the fake embedder and fake LLM."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.api import KnowledgeBase
from rag.errors import EmbeddingMismatch, KBNotFound
from rag.settings import Settings
from tests.conftest import FakeEmbedder

DOCS = {
    "temperature.md": "# 采样\n## 温度\n温度参数控制输出的随机程度。温度越低，回答越确定；温度越高，回答越多样。\n",
    "quant.md": "# 量化\n量化把 16 位浮点权重压缩成 4 位整数，Q4_K_M 格式的 1.5B 模型约 1.1 GB。\n",
    "rag.txt": "检索增强生成（RAG）先检索相关段落，再让模型依据段落作答，从而减少幻觉。\n",
}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(kb=str(tmp_path / "kb"), cache_dir=str(tmp_path / "cache"), workers=1, chunk_size=64,
                    chunk_overlap=8, relevance_floor=0.2, rerank_depth=0)


def make_kb(settings, fake_embedder, fake_generator, **kw) -> KnowledgeBase:
    return KnowledgeBase(settings.kb, settings, embedder=fake_embedder, generator=fake_generator, **kw)


def test_add_search_ask_with_citations(corpus, settings, fake_embedder, fake_generator):
    fake_generator.replies.append("温度越低，回答越确定 [1]。")
    with make_kb(settings, fake_embedder, fake_generator) as kb:
        report = kb.add([corpus])
        assert sorted(Path(p).name for p in report.added) == sorted(DOCS)
        assert not report.failed
        hits = kb.search("温度越低回答会怎样？", k=3)
        assert Path(hits[0].source).name == "temperature.md"
        assert hits[0].heading == "采样 > 温度"
        answer = kb.ask("温度越低回答会怎样？")
    assert not answer.refused
    assert "[1]" in answer.text
    assert Path(answer.citations[0].source).name == "temperature.md"
    assert "温度越低" in answer.citations[0].quote
    prompt = fake_generator.prompts[0][-1]["content"]
    assert "[1] 来源：temperature.md" in prompt and "问题：温度越低回答会怎样？" in prompt


def test_reingest_unchanged_embeds_nothing_and_changed_file_replaces_chunks(corpus, settings, fake_embedder):
    with make_kb(settings, fake_embedder, None) as kb:
        kb.add([corpus])
        calls = len(fake_embedder.calls)
        again = kb.add([corpus])
        assert len(again.unchanged) == 3 and again.chunks_embedded == 0
        assert len(fake_embedder.calls) == calls
        (corpus / "rag.txt").write_text("向量数据库用近似最近邻搜索找到相似的段落。\n", encoding="utf-8")
        changed = kb.add([corpus])
        assert [Path(p).name for p in changed.updated] == ["rag.txt"]
        texts = [h.text for h in kb.search("检索增强生成 幻觉", k=10, mode="keyword")]
        assert not any("幻觉" in t for t in texts)


def test_remove_makes_text_unretrievable(corpus, settings, fake_embedder):
    with make_kb(settings, fake_embedder, None) as kb:
        kb.add([corpus])
        assert kb.remove(corpus / "quant.md")
        assert all(Path(h.source).name != "quant.md" for h in kb.search("量化 Q4_K_M", k=10))
        assert sorted(Path(d.source).name for d in kb.documents()) == ["rag.txt", "temperature.md"]


def test_deleted_file_is_removed_when_its_folder_is_ingested_again(corpus, settings, fake_embedder):
    with make_kb(settings, fake_embedder, None) as kb:
        kb.add([corpus])
        (corpus / "quant.md").unlink()
        report = kb.add([corpus])
    assert [Path(p).name for p in report.removed] == ["quant.md"]


def test_unrelated_question_is_refused_without_calling_the_llm(corpus, settings, fake_embedder, fake_generator):
    with make_kb(settings.replace(relevance_floor=0.99), fake_embedder, fake_generator) as kb:
        kb.add([corpus])
        answer = kb.ask("2025年诺贝尔物理学奖得主是谁？")
    assert answer.refused and answer.citations == []
    assert "没有" in answer.text
    assert fake_generator.prompts == []


def test_stream_ask_yields_pieces_then_answer(corpus, settings, fake_embedder, fake_generator):
    fake_generator.replies.append("检索增强生成先检索相关段落 [1]。")
    with make_kb(settings, fake_embedder, fake_generator) as kb:
        kb.add([corpus])
        stream = kb.stream_ask("什么是检索增强生成？")
        pieces = list(stream)
    assert len(pieces) > 1 and "".join(pieces).startswith("检索增强生成")
    assert stream.answer.citations and stream.answer.timings["total"] >= stream.answer.timings["retrieval"]


def test_bad_and_unsupported_files_are_reported_by_name(corpus, settings, fake_embedder):
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    (corpus / "image.png").write_bytes(b"\x89PNG")
    with make_kb(settings, fake_embedder, None) as kb:
        report = kb.add([corpus, corpus / "image.png"])
    failed = {Path(p).name: m for p, m in report.failed}
    assert "broken.pdf" in failed and "image.png" in failed
    assert "unsupported format" in failed["image.png"]
    assert len(report.added) == 3


def test_missing_kb_is_an_error_when_not_creating(tmp_path, settings):
    with pytest.raises(KBNotFound, match="rag ingest"):
        KnowledgeBase(tmp_path / "nothing", settings, create=False)


def test_other_embedding_model_is_refused_with_rebuild_advice(corpus, settings, fake_embedder):
    with make_kb(settings, fake_embedder, None) as kb:
        kb.add([corpus])

    class Other(type(fake_embedder)):
        model_id = "another-model"

    with KnowledgeBase(settings.kb, settings, embedder=Other()) as kb:
        with pytest.raises(EmbeddingMismatch, match="rebuild"):
            kb.search("温度")


def test_answer_unsupported_by_the_passages_becomes_a_refusal(corpus, settings, fake_embedder, fake_generator):
    fake_generator.replies.append("2025年诺贝尔物理学奖得主是阿方索·爱因斯坦。")
    with make_kb(settings, fake_embedder, fake_generator) as kb:
        kb.add([corpus])
        answer = kb.ask("温度越低回答会怎样？")
    assert answer.refused and answer.citations == []
    assert answer.text.startswith("资料中没有相关信息") and "爱因斯坦" not in answer.text
    assert "爱因斯坦" in answer.draft


def test_question_about_a_name_the_kb_never_mentions_is_refused_naming_it(corpus, settings, fake_embedder,
                                                                          fake_generator):
    with make_kb(settings.replace(relevance_floor=-1.0), fake_embedder, fake_generator) as kb:
        kb.add([corpus])
        answer = kb.ask("Kubernetes 的温度参数怎么设置？")
        kept = kb.stream_ask("Q4_K_M 格式的模型有多大？")
    assert answer.refused and "Kubernetes" in answer.text
    assert fake_generator.prompts == []
    list(kept)
    assert fake_generator.prompts, "a name the KB does contain must not block the question"


def test_a_compound_name_asked_for_by_its_head_is_known(tmp_path, settings, fake_embedder, fake_generator):
    (tmp_path / "models.md").write_text("Phi-3-mini-128k 用 LongRoPE 扩展上下文，GPT-4o 不在此列。", encoding="utf-8")
    with make_kb(settings.replace(relevance_floor=-1.0), fake_embedder, fake_generator) as kb:
        kb.add([tmp_path / "models.md"])
        unknown = kb.ask("GPT-4 用什么方法扩展上下文？")  # "gpt-4o" is another name, not a longer one
        assert unknown.refused and "GPT-4" in unknown.text and fake_generator.prompts == []
        kb.ask("Phi-3-mini 用什么方法扩展上下文？")
    assert fake_generator.prompts, "the LLM must be asked: the KB does mention Phi-3-mini"


def test_closing_a_stream_midway_stops_the_generator(corpus, settings, fake_embedder, fake_generator):
    finished = []

    def pieces(messages, **sampling):
        try:
            yield from ("温度", "越低", "越确定。")
        finally:
            finished.append(True)  # a real generator releases the model's lock here

    fake_generator.stream = pieces
    with KnowledgeBase(settings.kb, settings, embedder=fake_embedder, generator=fake_generator) as kb:
        kb.add([corpus])
        stream = kb.stream_ask("温度参数有什么作用？")
        assert next(iter(stream)) == "温度"
        stream.close()
        assert finished == [True] and stream.answer is None


def test_threads_starting_together_load_one_embedder(corpus, settings, fake_embedder, monkeypatch):
    import threading
    import time

    import rag.models.bundled
    import rag.models.embedder

    built = []

    def slow_embedder(name, **kwargs):
        time.sleep(0.2)  # model loading takes seconds; every thread arrives while the first is still loading
        built.append(name)
        return fake_embedder

    monkeypatch.setattr(rag.models.embedder, "SentenceTransformerEmbedder", slow_embedder)
    monkeypatch.setattr(rag.models.bundled, "resolve_embedding_model", lambda name, cache: name)
    kb = KnowledgeBase(settings.kb, settings)
    threads = [threading.Thread(target=lambda: kb.embedder) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1


class LazyEmbedder(FakeEmbedder):
    """Like the real one: `dim` loads the model, which takes seconds and a gigabyte."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded = False

    @property
    def dim(self) -> int:
        self.loaded = True
        return 64

    def embed(self, texts, *, query=False):
        self.loaded = True
        return super().embed(texts, query=query)


def test_re_adding_an_unchanged_folder_never_loads_the_embedding_model(corpus, settings, fake_generator):
    with make_kb(settings, LazyEmbedder(), fake_generator) as kb:
        kb.add([corpus])
    again = LazyEmbedder()
    with make_kb(settings, again, fake_generator) as kb:
        report = kb.add([corpus])
    assert report.unchanged and not report.added and not again.loaded


def test_a_run_of_markers_stops_generation(corpus, settings, fake_embedder, fake_generator):
    consumed, finished = [], []

    def pieces(messages, **sampling):
        try:
            for piece in ["温度越低，", "回答越确定 [1]。", *(f" [{n}]" for n in range(2, 200))]:
                consumed.append(piece)
                yield piece
        finally:
            finished.append(True)

    fake_generator.stream = pieces
    with make_kb(settings, fake_embedder, fake_generator) as kb:
        kb.add([corpus])
        answer = kb.ask("温度越低回答会怎样？")
    assert len(consumed) == 10 and finished == [True]  # stopped at the eighth marker in a row
    assert answer.text == "温度越低，回答越确定 [1]。"
    assert [c.number for c in answer.citations] == [1]


def test_search_re_ranks_the_top_hits_with_the_generators_likelihood(corpus, settings, fake_embedder,
                                                                     fake_generator):
    question = "温度越低回答会怎样？"
    with make_kb(settings, fake_embedder, fake_generator) as kb:
        kb.add([corpus])
        fused = kb.search(question, k=3)
    favoured = fused[2].text

    def likelihood(messages, q, *, lead=""):
        return -1.0 if favoured[:20] in messages[-1]["content"] else -5.0

    fake_generator.log_likelihood = likelihood
    with make_kb(settings.replace(rerank_depth=3), fake_embedder, fake_generator) as kb:
        assert kb.search(question, k=1)[0].text == favoured
        assert kb.search(question, k=3, mode="keyword")[0].text != favoured  # the single rankers stay as they are
