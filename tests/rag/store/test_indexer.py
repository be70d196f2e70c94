"""What the embedder and the keyword index see of a chunk (`rag.store.indexer.embed_text`)."""

from __future__ import annotations

from pathlib import Path

from ingest.types import Chunk
from rag.api import KnowledgeBase
from rag.settings import Settings
from rag.store.indexer import embed_text


def chunk(text: str, **locator) -> Chunk:
    return Chunk(id=1, source="x", text=text, start=0, end=len(text), **locator)


def test_heading_path_is_the_context_and_flat_text_gets_the_title():
    assert embed_text(chunk("正文", heading="第一章 > 1.1"), "手册") == "第一章 > 1.1\n正文"
    assert embed_text(chunk("资料版本：2025 年 1 月。"), "示例知识库说明") == "示例知识库说明\n资料版本：2025 年 1 月。"
    assert embed_text(chunk("示例知识库说明\n本目录…"), "示例知识库说明") == "示例知识库说明\n本目录…"  # said once
    assert embed_text(chunk("资料版本"), "") == "资料版本"


def test_pages_and_sheets_keep_their_own_text():
    assert embed_text(chunk("第五页的正文", page=5), "RAG 实践指南") == "第五页的正文"
    assert embed_text(chunk("参数 | 默认值", sheet="采样参数", rows=(2, 4)), "LLM 术语表") == "参数 | 默认值"


def test_later_chunks_of_a_text_file_are_found_by_its_title(tmp_path: Path, fake_embedder):
    folder = tmp_path / "docs"
    folder.mkdir()
    filler = "".join(f"第{n}段介绍一个文件的用途和内容。" for n in range(1, 13))
    (folder / "intro.txt").write_text(f"示例知识库说明\n\n{filler}\n资料版本：二〇二五年一月。\n", encoding="utf-8")
    settings = Settings(kb=str(tmp_path / "kb"), cache_dir=str(tmp_path / "cache"), workers=1, chunk_size=64,
                        chunk_overlap=8, rerank_depth=0)
    with KnowledgeBase(settings.kb, settings, embedder=fake_embedder) as kb:
        kb.add([folder])
        last = [h for h in kb.search("资料版本", k=5, mode="keyword") if "资料版本" in h.text]
        assert last and "示例知识库说明" not in last[0].text  # a later chunk: its own text lacks the title
        by_title = kb.search("示例知识库说明", k=5, mode="keyword")
    assert last[0].chunk_id in {h.chunk_id for h in by_title}


def test_a_captioned_table_is_described_by_its_caption_not_the_heading_it_sits_under():
    captioned = "表 2-1 采样参数对比\n参数 | 作用 | 常见取值\nrepeat_penalty | 抑制重复 | 1.05–1.2"
    table = chunk(captioned, heading="2.3 截断采样 > 2.3.2 Top-p", sheet="table 2", rows=(2, 2))
    assert embed_text(table, "手册") == captioned
    bare = "参数 | 作用 | 常见取值\nrepeat_penalty | 抑制重复 | 1.05–1.2"
    assert embed_text(chunk(bare, heading="2.3.2 Top-p", sheet="table 2", rows=(2, 2))) == f"2.3.2 Top-p\n{bare}"
