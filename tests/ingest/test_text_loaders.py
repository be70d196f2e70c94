"""Text and Markdown loaders, and the encoding and delimiter detection they share with CSV."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from ingest.errors import LoaderError
from ingest.loaders.encoding import SAMPLE_BYTES, detect_encoding, read_text, sample_of, sniff_delimiter
from ingest.loaders.text import PARAGRAPH_GROUP_CHARS, load_markdown, load_text
from tests.conftest import corpus_file, load_with_warnings

corpus = corpus_file


run = load_with_warnings


# --- encoding ----------------------------------------------------------------------------------------------------

TRADITIONAL = "名稱,數量\n蘋果,10\n"
SIMPLIFIED = "姓名;年龄\n张三;30\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (codecs.BOM_UTF8 + "知识库".encode(), "utf-8-sig"),
        ("知识库 text".encode("utf-16"), "utf-16"),  # with its BOM
        (codecs.BOM_UTF16_BE + "知识库".encode("utf-16-be"), "utf-16"),
        ("plain English text, no BOM".encode("utf-16-be"), "utf-16-be"),
        ("plain English text, no BOM".encode("utf-16-le"), "utf-16-le"),
        ("知识库".encode()[:-1], "utf-8"),  # a sample cut inside the last character
        (b"just ascii", "utf-8"),
        (b"", "utf-8"),
        # charset-normalizer alone calls this short GBK sample "cp949" (Korean)
        (SIMPLIFIED.encode("gbk"), "gb18030"),
        (SIMPLIFIED.encode("gb2312"), "gb18030"),
        # ... and this short Big5 sample "utf_16_be"
        (TRADITIONAL.encode("big5"), "cp950"),
        # ... and a repetitive GBK table "mac_cyrillic"
        (("编号,内容\r\n" + "1," + "数据" * 300 + "\r\n").encode("gb18030"), "gb18030"),
        ("這是繁體字，但用 GBK 編碼的文件。資料庫、軟體、網路。\n".encode("gbk"), "gb18030"),
        ("Prénom;Ville\nFrançois;Besançon\nHélène;Orléans\n".encode("cp1252"), "cp1252"),
    ],
    ids=["utf8-bom", "utf16-bom", "utf16be-bom", "utf16be", "utf16le", "utf8-cut", "ascii", "empty", "gbk-short",
         "gb2312-short", "big5-short", "gbk-repetitive", "gbk-traditional", "cp1252"],
)
def test_detect_encoding(data: bytes, expected: str) -> None:
    assert detect_encoding(data) == expected


def test_sample_reaches_past_an_ascii_head(tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    path.write_bytes(b"x" * (SAMPLE_BYTES + 5000) + "\n中文内容在后面。\n".encode("gbk"))
    sample = sample_of(path)
    assert sample.startswith(b"xxx") and "中文内容".encode("gbk") in sample
    assert detect_encoding(sample) == "gb18030"
    assert read_text(path).endswith("中文内容在后面。\n")


def test_read_text_corpus_encodings() -> None:
    assert read_text(corpus("md/en_unstructured_fake-text-utf-16-be.txt")).startswith("This is a test document")
    gb = read_text(corpus("md/zh_gb2312_chardet_cnblog_rss.txt"))
    assert "udn《数位文化志》是台湾联合新闻网" in gb and "\ufffd" not in gb


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(LoaderError, match="not text"):
        list(load_text(path))
    stray = tmp_path / "stray.txt"
    stray.write_bytes("正文里有一个多余的空字节\x00，文件仍然是文本。\n".encode() * 20)
    assert len(run(load_text, stray)[0]) == 1


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("a\tb\tc\n1\t2\t3\n4\t5\t6\n", "\t"),
        ("a|b|c\n1|2|3\n4|5|6\n", "|"),
        ('名字;"备注, 含逗号"\n张三;"是, 的"\n', ";"),
        ("一列\n没有分隔符\n", ","),
        ('名;数;注\r\n苹果;10;"第一行\n第二行"\r\n', ";"),  # csv.Sniffer gives up on this one
        ("a,b\tc,d\te\nf,g\th,i\tj\n", ","),  # ambiguous: both split evenly, "," comes first
        ("x|y|z\n1|2|3\n4|5|", "|"),
    ],
)
def test_sniff_delimiter(sample: str, expected: str) -> None:
    assert sniff_delimiter(sample, truncated=sample.endswith("|")) == expected


# --- plain text --------------------------------------------------------------------------------------------------


def test_empty_and_blank_files_warn(tmp_path: Path) -> None:
    assert run(load_text, corpus("md/en_unstructured_empty.txt")) == ([], ["empty file"])
    blank = tmp_path / "blank.md"
    blank.write_text("\n \n\t\n")
    assert run(load_markdown, blank) == ([], ["no text found"])


def test_text_utf16_be_without_bom() -> None:
    sections, problems = run(load_text, corpus("md/en_unstructured_fake-text-utf-16-be.txt"))
    assert problems == [] and len(sections) == 1
    assert sections[0].text.startswith("This is a test document to use for unit tests.\n\nDoylestown, PA 18901")
    assert sections[0].heading is None and sections[0].page is None


def test_text_groups_paragraphs(tmp_path: Path) -> None:
    paragraphs = [f"第{i}段。" + "内容" * 200 for i in range(40)]  # ~400 characters each
    path = tmp_path / "notes.txt"
    path.write_text("\r\n\r\n".join(paragraphs) + "\r\n", encoding="gb18030")
    sections, problems = run(load_text, path)
    assert problems == []
    assert 3 <= len(sections) <= 5
    assert all(len(s.text) < PARAGRAPH_GROUP_CHARS + 500 for s in sections)
    # Nothing lost, nothing cut inside a paragraph, line endings normalised.
    assert [p for s in sections for p in s.text.split("\n\n")] == paragraphs


def test_text_without_line_breaks_stays_bounded(tmp_path: Path) -> None:
    path = tmp_path / "one-line.txt"
    text = "没有换行的超长文本" * 40_000  # 360,000 characters, no newline
    path.write_text(text, encoding="utf-8")
    sections, _ = run(load_text, path)
    assert len(sections) > 5 and max(len(s.text) for s in sections) <= 64 * 1024
    assert "".join(s.text for s in sections) == text


# --- markdown ----------------------------------------------------------------------------------------------------

MARKDOWN = """\
---
title: 手册
---
前言：没有标题的文字。

# 第一章 安装 #

安装说明。

```bash
# 这是注释，不是标题
pip install rag
```

## 1.1 依赖

需要 Python 3.11。
#hashtag 不是标题

## 1.2 配置
### 细节
配置文件位于 ~/.rag。

设置标题
--------

setext 下的正文。

第二章 使用
===========

- 列表项
---
"""


def test_markdown_heading_blocks(tmp_path: Path) -> None:
    path = tmp_path / "manual.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    sections, problems = run(load_markdown, path)
    assert problems == []
    assert [(s.heading, s.text) for s in sections] == [
        (None, "---\ntitle: 手册\n---\n前言：没有标题的文字。"),
        ("第一章 安装", "安装说明。\n\n```bash\n# 这是注释，不是标题\npip install rag\n```"),
        ("第一章 安装 > 1.1 依赖", "需要 Python 3.11。\n#hashtag 不是标题"),
        ("第一章 安装 > 1.2 配置 > 细节", "配置文件位于 ~/.rag。"),
        ("第一章 安装 > 设置标题", "setext 下的正文。"),
        ("第二章 使用", "- 列表项\n---"),  # a list item above --- is not a setext title
    ]


def test_markdown_unclosed_fence_hides_headings(tmp_path: Path) -> None:
    path = tmp_path / "code.md"
    path.write_text("# 标题\n~~~~\n# 不是标题\n~~~\n## 也不是\n", encoding="utf-8")
    sections, _ = run(load_markdown, path)
    assert [s.heading for s in sections] == ["标题"]
    assert sections[0].text.endswith("## 也不是")


def test_markdown_corpus_file() -> None:
    sections, problems = run(load_markdown, corpus("md/zh_chatchat_分布式训练技术原理.md"))
    assert problems == [] and len(sections) == 1
    assert sections[0].heading == "分布式训练技术原理"
    assert sections[0].text.startswith("- 数据并行\n    - FSDP") and "#" not in sections[0].text.splitlines()[0]
