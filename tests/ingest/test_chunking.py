import pytest

from ingest.chunking import chunk_sections, estimate_tokens, split_sentences
from ingest.types import Section, chunk_id

TEXT = ("检索增强生成把检索和生成结合起来。它先从知识库中找出相关段落！然后把段落放进提示词；模型据此回答。"
        "Temperature controls randomness. Top-p keeps the 1.5B nucleus.\n\n第二段很短。")


def test_sentences_break_at_chinese_punctuation_and_newlines_but_not_inside_numbers():
    sentences = [TEXT[s:e] for s, e in split_sentences(TEXT)]
    assert sentences[0] == "检索增强生成把检索和生成结合起来。"
    assert "它先从知识库中找出相关段落！" in sentences
    assert "然后把段落放进提示词；" in sentences
    assert "Top-p keeps the 1.5B nucleus." in sentences
    assert "".join(sentences) == TEXT


def test_chunks_respect_size_overlap_and_offsets():
    chunks = list(chunk_sections("doc.md", [Section(TEXT, heading="RAG > 原理")], size=30, overlap=12))
    assert len(chunks) >= 3
    joined = TEXT
    for c in chunks:
        assert estimate_tokens(c.text) <= 30 + 4
        assert joined[c.start:c.end] == c.text
        assert c.heading == "RAG > 原理"
        assert c.id == chunk_id("doc.md", c.text)
    # Overlap: a sentence at the end of one chunk starts the next one.
    assert any(chunks[i].end > chunks[i + 1].start for i in range(len(chunks) - 1))


def test_long_sentence_without_punctuation_is_cut():
    text = "".join(chr(0x4E00 + i) for i in range(500))
    chunks = list(chunk_sections("a.txt", [Section(text)], size=50, overlap=10))
    assert all(len(c.text) <= 55 for c in chunks)
    assert sum(len(c.text) for c in chunks) >= 500


def test_table_rows_repeat_header_and_carry_row_ranges():
    rows = [Section(f"温度 | {i} | 说明说明说明", sheet="参数", rows=(i, i), header="参数 | 值 | 说明")
            for i in range(2, 12)]
    chunks = list(chunk_sections("g.xlsx", rows, size=30, overlap=6))
    assert len(chunks) > 1
    for c in chunks:
        assert c.text.startswith("参数 | 值 | 说明\n")
        assert c.sheet == "参数"
    assert chunks[0].rows[0] == 2 and chunks[-1].rows[1] == 11
    covered = [n for c in chunks for n in range(c.rows[0], c.rows[1] + 1)]
    assert covered == list(range(2, 12))


def test_sections_with_different_locators_never_share_a_chunk():
    sections = [Section("第一页的内容。", page=1), Section("第二页的内容。", page=2)]
    chunks = list(chunk_sections("a.pdf", sections, size=100, overlap=10))
    assert [(c.page, c.text) for c in chunks] == [(1, "第一页的内容。"), (2, "第二页的内容。")]


def test_duplicate_text_in_one_source_is_kept_once():
    sections = [Section("页眉文字", page=1), Section("页眉文字", page=2)]
    assert len(list(chunk_sections("a.pdf", sections, size=100, overlap=10))) == 1


@pytest.mark.parametrize("size,overlap", [(0, 0), (10, 10), (10, -1)])
def test_bad_parameters_are_refused(size, overlap):
    with pytest.raises(ValueError):
        list(chunk_sections("a", [Section("x")], size=size, overlap=overlap))
