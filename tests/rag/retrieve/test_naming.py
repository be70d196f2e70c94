"""Questions that name a document: which documents count as named, and what that does to retrieval."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from rag.api import KnowledgeBase
from rag.retrieve.naming import DocumentNames, NameIndex, name_tokens
from rag.settings import Settings

TITLES = [("/d/llm-handbook.docx", "大语言模型实用手册"), ("/d/glossary.xlsx", "LLM 术语表"),
          ("/d/rag-guide.pdf", "RAG 实践指南"), ("/d/models.csv", "")]


def test_name_words_come_from_the_title_and_the_file_name():
    assert {"手册", "handbook", "llm"} <= name_tokens("/d/llm-handbook.docx", "大语言模型实用手册")
    assert name_tokens("/d/models.csv", "") == {"models"}


def test_a_rare_name_word_names_its_document():
    names = DocumentNames(TITLES)
    assert names.named(["手册", "温度"], {"手册": 1}, 100) == {"/d/llm-handbook.docx"}
    assert names.named(["glossary"], {}, 100) == {"/d/glossary.xlsx"}


def test_a_title_word_that_is_common_in_the_text_names_nothing():
    # "rag" is in the guide's title, but also in 30 of 100 chunks: it is the topic, not a reference.
    assert DocumentNames(TITLES).named(["rag", "检索"], {"rag": 30}, 100) == set()


def test_the_rarest_matching_name_wins_over_a_shared_word():
    # "the LLM handbook": "llm" is in two titles, "handbook" only in one.
    names = DocumentNames(TITLES)
    assert names.named(["llm", "handbook"], {"llm": 3, "handbook": 1}, 100) == {"/d/llm-handbook.docx"}
    assert names.named(["llm"], {"llm": 3}, 100) == {"/d/llm-handbook.docx", "/d/glossary.xlsx"}


class Titled:
    """The store primitives `NameIndex` reads, counting how often it reads the titles."""

    def __init__(self, data: str = "/kb", generation: int = 1) -> None:
        self.data, self.generation, self.title_reads = Path(data), generation, 0

    def chunk_count(self) -> int:
        return 100

    def chunk_counts(self, tokens: list[str]) -> dict[str, int]:
        return {t: n for t, n in {"llm": 3, "handbook": 1, "rag": 30}.items() if t in tokens}

    def titles(self) -> list[tuple[str, str]]:
        self.title_reads += 1
        return TITLES


def test_the_name_index_names_what_document_names_does():
    index, store = NameIndex(), Titled()
    assert index.named(store, ["llm", "handbook"]) == {"/d/llm-handbook.docx"}
    assert index.named(store, ["llm"]) == {"/d/llm-handbook.docx", "/d/glossary.xlsx"}
    assert index.named(store, ["rag", "检索"]) == set()
    assert index.named(store, ["温度"]) == set()


def test_the_name_index_rebuilds_only_when_the_kb_changes():
    index, store = NameIndex(), Titled()
    index.named(store, ["handbook"])
    index.named(store, ["glossary"])
    assert store.title_reads == 1  # one build per generation
    store.generation = 2
    index.named(store, ["handbook"])
    assert store.title_reads == 2
    store.data = Path("/kb/data-new")  # a rebuild replaced the KB: its generations may repeat the old ones
    index.named(store, ["handbook"])
    assert store.title_reads == 3
    other = Titled(data="/kb/data-new", generation=2)  # a reopened KB: same place and generation, new store
    index.named(other, ["handbook"])
    assert other.title_reads == 1


def write_docx(path: Path, title: str, heading: str, paragraphs: list[str]) -> None:
    import docx

    doc = docx.Document()
    doc.core_properties.title = title
    doc.add_heading(heading, level=1)  # so the title is only a name, not the chunk's context (`embed_text`)
    for text in paragraphs:
        doc.add_paragraph(text)
    doc.save(path)


@pytest.fixture
def two_sources(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    write_docx(folder / "ops.docx", "机房运维手册", "第三章", ["温度告警阈值设为 35 度。"])
    (folder / "notes.md").write_text("# 笔记\n温度告警的阈值：温度超过 40 度告警，温度告警每分钟检查一次。\n",
                                     encoding="utf-8")
    for i in range(3):  # other documents, so that the title word is rare in the KB as a whole
        (folder / f"other{i}.md").write_text(f"# 其他{i}\n网络设备第 {i} 组每周巡检一次。\n", encoding="utf-8")
    return folder


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(kb=str(tmp_path / "kb"), cache_dir=str(tmp_path / "cache"), workers=1, chunk_size=64,
                    chunk_overlap=8, relevance_floor=0.0, rerank_depth=0)


def test_naming_a_document_brings_its_passage_first(two_sources, settings, fake_embedder):
    question = "按运维手册，温度告警阈值是多少？"
    with KnowledgeBase(settings.kb, settings, embedder=fake_embedder) as kb:
        kb.add([two_sources])
        # Without the name, the note that repeats the question's words wins on keywords alone...
        assert Path(kb.search(question, k=1, mode="keyword")[0].source).name == "notes.md"
        # ...the question names the handbook, though.
        assert Path(kb.search(question, k=1)[0].source).name == "ops.docx"
        assert [d.title for d in kb.documents() if d.source.endswith("ops.docx")] == ["机房运维手册"]


def test_a_kb_from_before_titles_gets_them_on_the_next_ingest_without_embedding(two_sources, settings,
                                                                                 fake_embedder):
    with KnowledgeBase(settings.kb, settings, embedder=fake_embedder) as kb:
        kb.add([two_sources])
    db = sqlite3.connect(Path(settings.kb) / "kb.sqlite")
    db.execute("ALTER TABLE documents DROP COLUMN title")  # the schema as it was before titles
    db.commit()
    db.close()
    with KnowledgeBase(settings.kb, settings, embedder=fake_embedder) as kb:
        assert all(d.title == "" for d in kb.documents())
        report = kb.add([two_sources])
        assert len(report.unchanged) == 5 and report.chunks_embedded == 0
        assert {Path(d.source).name: d.title for d in kb.documents()}["ops.docx"] == "机房运维手册"
        assert Path(kb.search("按运维手册，温度告警阈值是多少？", k=1)[0].source).name == "ops.docx"


def test_two_processes_upgrading_an_old_kb_at_once_both_open_it(tmp_path):
    from rag.store import kbdb

    class SawTheOldSchema:
        """A connection that checked the columns just before the other process added the title column."""

        def __init__(self, conn):
            self.conn = conn

        def execute(self, sql, *args):
            return [] if sql.startswith("PRAGMA") else self.conn.execute(sql, *args)

    db_path = tmp_path / "kb.sqlite"
    kbdb.connect(db_path, create=True).close()
    with sqlite3.connect(db_path) as old:
        old.execute("ALTER TABLE documents DROP COLUMN title")  # the schema as it was before titles
    kbdb.connect(db_path).close()  # the first process upgrades it
    late = sqlite3.connect(db_path, isolation_level=None)
    kbdb._add_title_column(SawTheOldSchema(late))  # the second one's ALTER finds the column there: no error
    assert late.execute("SELECT title FROM documents").fetchall() == []


def test_names_follow_documents_added_after_the_first_search(two_sources, settings, fake_embedder):
    handbook = two_sources / "ops.docx"
    moved = two_sources.parent / "ops.docx"
    handbook.rename(moved)
    question = "按运维手册，温度告警阈值是多少？"
    with KnowledgeBase(settings.kb, settings, embedder=fake_embedder) as kb:
        kb.add([two_sources])
        assert Path(kb.search(question, k=1)[0].source).name == "notes.md"  # builds the names of this generation
        moved.rename(handbook)
        kb.add([two_sources])
        assert Path(kb.search(question, k=1)[0].source).name == "ops.docx"
