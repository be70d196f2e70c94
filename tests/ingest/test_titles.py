"""Document titles as files declare them: OOXML core properties, PDF info, markdown H1, a .txt's first line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.titles import document_title


def test_docx_title_comes_from_the_core_properties(tmp_path):
    import docx

    doc = docx.Document()
    doc.core_properties.title = "运维 & 部署手册"
    doc.add_paragraph("正文第一段。")
    doc.save(tmp_path / "a.docx")
    assert document_title(tmp_path / "a.docx") == "运维 & 部署手册"


def test_xlsx_title_comes_from_the_core_properties(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    book.properties.title = "LLM 术语表"
    book.active.append(["术语", "解释"])
    book.save(tmp_path / "g.xlsx")
    assert document_title(tmp_path / "g.xlsx") == "LLM 术语表"


def test_office_file_without_a_title_has_none(tmp_path):
    import docx

    docx.Document().save(tmp_path / "untitled.docx")
    assert document_title(tmp_path / "untitled.docx") == ""


def test_pdf_title_comes_from_the_info_dictionary(tmp_path):
    import pypdf

    writer = pypdf.PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_metadata({"/Title": "RAG 实践指南"})
    with open(tmp_path / "g.pdf", "wb") as fh:
        writer.write(fh)
    assert document_title(tmp_path / "g.pdf") == "RAG 实践指南"


@pytest.mark.parametrize("name, text, title", [
    # markdown: front matter, else the first H1
    ("a.md", "# 大模型常见问题（FAQ）\n\n## 第一问\n答。\n", "大模型常见问题（FAQ）"),
    ("a.md", "---\ntitle: \"部署说明\"\nauthor: x\n---\n# 第一章\n", "部署说明"),
    ("a.md", "前言\n\n## 只有二级标题\n", ""),
    # plain text: a short first line that is not markup
    ("a.txt", "\n示例知识库说明\n\n本目录收录六个文件。\n", "示例知识库说明"),
    ("a.txt", "这是一段很长的正文，第一行就写了很多内容，超过了一个标题应有的长度，所以它不是标题，而是正文的开头部分。\n", ""),
    ("a.txt", '<?xml version="1.0" encoding="utf-8"?>\n<rss></rss>\n', ""),
])
def test_text_title_is_the_markdown_h1_or_a_short_first_line(tmp_path, name, text, title):
    (tmp_path / name).write_text(text, encoding="utf-8")
    assert document_title(tmp_path / name) == title


def test_gbk_text_title_is_decoded(tmp_path):
    (tmp_path / "a.txt").write_bytes("运维手册\n服务器每周重启一次，日志保留三十天。\n".encode("gbk"))
    assert document_title(tmp_path / "a.txt") == "运维手册"


@pytest.mark.parametrize("name, data", [("broken.docx", b"PK\x03\x04 not a zip"), ("broken.pdf", b"%PDF-1.4 junk"),
                                        ("table.csv", "名称,值\n甲,1\n".encode()), ("empty.md", b"")])
def test_unreadable_or_titleless_files_have_no_title_and_never_raise(tmp_path, name, data):
    (tmp_path / name).write_bytes(data)
    assert document_title(tmp_path / name) == ""


def test_missing_file_has_no_title():
    assert document_title(Path("/nonexistent/x.pdf")) == ""
