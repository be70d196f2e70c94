"""The .docx loader on documents written by python-docx (plus a hand-made Strict one) and on the shared corpus."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from ingest.errors import LoaderError
from ingest.loaders.docx import load_docx
from tests.conftest import corpus_file, load_with_warnings

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"




def load(path: Path) -> tuple[list, list[str]]:
    return load_with_warnings(load_docx, path)


def text_box_run(text: str):
    """A run holding a text box twice, as Word writes it: DrawingML in mc:Choice, a VML copy in mc:Fallback."""
    from docx.oxml.parser import parse_xml

    box = f'<w:txbxContent><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:txbxContent>'
    return parse_xml(
        f'<w:r xmlns:w="{W_NS}" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
        ' xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"'
        ' xmlns:v="urn:schemas-microsoft-com:vml"><mc:AlternateContent>'
        f'<mc:Choice Requires="wps"><w:drawing><wps:txbx>{box}</wps:txbx></w:drawing></mc:Choice>'
        f'<mc:Fallback><w:pict><v:textbox>{box}</v:textbox></w:pict></mc:Fallback>'
        "</mc:AlternateContent></w:r>"
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml.parser import parse_xml

    doc = docx.Document()
    doc.sections[0].header.paragraphs[0].text = "公司机密 Confidential"
    doc.sections[0].footer.paragraphs[0].text = "年度报告 footer"
    doc.add_paragraph("Annual report 2024", style="Title")
    doc.add_heading("第一章 总则", level=1)
    doc.add_paragraph("本制度适用于全体员工。")
    doc.add_paragraph("第二段正文。")
    doc.add_heading("1.1 适用范围", level=2)
    anchor = doc.add_paragraph("See the note: ")
    anchor._p.append(text_box_run("Boxed note about scope"))
    zh3 = doc.styles.add_style("标题 3", WD_STYLE_TYPE.PARAGRAPH)  # a Chinese-named heading style
    doc.add_paragraph("1.1.1 细则", style=zh3)
    doc.add_paragraph("细则正文。")
    doc.add_heading("Chapter 2", level=1)
    table = doc.add_table(rows=4, cols=3)
    for r, row in enumerate([["Kind", "Q1", "Q2"], ["Fruit", "10", "12"], ["", "7", "9"], ["Gadgets", "n/a", ""]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(1, 0).merge(table.cell(2, 0))  # "Fruit" spans rows 2-3
    table.cell(3, 1).merge(table.cell(3, 2))  # "n/a" spans Q1 and Q2
    nested = table.cell(2, 2).add_table(rows=1, cols=2)
    nested.cell(0, 0).text, nested.cell(0, 1).text = "inner a", "inner b"
    outline = doc.add_paragraph("Outline-level heading")
    outline._p.get_or_add_pPr().append(parse_xml(f'<w:outlineLvl xmlns:w="{W_NS}" w:val="1"/>'))
    doc.add_paragraph("Under the outline heading.")
    second = doc.add_section()
    second.header.is_linked_to_previous = False  # a second header part with the same text
    second.header.paragraphs[0].text = "公司机密 Confidential"
    doc.add_paragraph("Second section body.")
    path = tmp_path_factory.mktemp("docx") / "report.docx"
    doc.save(str(path))
    return path


def test_headings_build_paths(report):
    sections, messages = load(report)
    by_text = {s.text: s for s in sections}
    assert by_text["Annual report 2024"].heading is None
    assert by_text["第一章 总则\n本制度适用于全体员工。\n第二段正文。"].heading == "第一章 总则"
    assert by_text["1.1.1 细则\n细则正文。"].heading == "第一章 总则 > 1.1 适用范围 > 1.1.1 细则"
    assert by_text["Outline-level heading\nUnder the outline heading.\nSecond section body."].heading == (
        "Chapter 2 > Outline-level heading"
    )
    assert messages == []


def test_text_box_read_once(report):
    sections, _ = load(report)
    body = "\n".join(s.text for s in sections)
    assert body.count("Boxed note about scope") == 1
    box = next(s for s in sections if "Boxed note" in s.text)
    assert box.text == "1.1 适用范围\nSee the note:\nBoxed note about scope"


def test_table_rows_with_header_and_merges(report):
    rows = [s for s in load(report)[0] if s.sheet]
    assert {s.sheet for s in rows} == {"table 1"}
    assert [s.rows for s in rows] == [(2, 2), (3, 3), (4, 4)]
    assert all(s.header == "Kind | Q1 | Q2" and s.heading == "Chapter 2" for s in rows)
    assert rows[0].text == "Fruit | 10 | 12"
    assert rows[1].text.startswith("Fruit | 7 | 9")  # the vertical merge repeats, so the row stands alone
    assert "inner a, inner b" in rows[1].text  # nested table text is kept
    assert rows[2].text == "Gadgets | n/a"  # the horizontal merge appears once


def test_header_and_footer_once(report):
    sections, _ = load(report)
    margins = [(s.heading, s.text) for s in sections if s.heading in ("header", "footer")]
    assert margins == [("header", "公司机密 Confidential"), ("footer", "年度报告 footer")]
    assert sections[-1].heading == "footer"  # after the body


def test_caption_above_a_table_moves_into_its_header(tmp_path):
    import docx

    doc = docx.Document()
    doc.add_heading("精度", level=1)
    doc.add_paragraph("正文说明各种精度。")
    doc.add_paragraph("表 1-1 不同精度下的权重大小")  # caption by its text
    doc.add_paragraph("")  # an empty paragraph between caption and table changes nothing
    first = doc.add_table(rows=2, cols=2)
    for r, row in enumerate([["精度", "大小"], ["INT4", "3.5 GB"]]):
        for c, value in enumerate(row):
            first.cell(r, c).text = value
    doc.add_paragraph("Sizes by format", style="Caption")  # caption by its style
    second = doc.add_table(rows=2, cols=2)
    for r, row in enumerate([["Format", "GB"], ["Q4_K_M", "0.91"]]):
        for c, value in enumerate(row):
            second.cell(r, c).text = value
    doc.add_paragraph("表 2 后面没有表格，只是一句正文。")
    doc.add_paragraph("结尾。")
    third = doc.add_table(rows=2, cols=2)  # the paragraph right above is not a caption
    for r, row in enumerate([["A", "B"], ["1", "2"]]):
        for c, value in enumerate(row):
            third.cell(r, c).text = value
    path = tmp_path / "captions.docx"
    doc.save(str(path))
    sections, _ = load(path)
    tables = {s.sheet: s for s in sections if s.sheet}
    assert tables["table 1"].header == "表 1-1 不同精度下的权重大小\n精度 | 大小"
    assert tables["table 2"].header == "Sizes by format\nFormat | GB"
    assert tables["table 3"].header == "A | B"
    prose = [s.text for s in sections if not s.sheet]
    assert prose == ["精度\n正文说明各种精度。", "表 2 后面没有表格，只是一句正文。\n结尾。"]


def write_zip(path: Path, parts: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return path


STRICT_W = "http://purl.oclc.org/ooxml/wordprocessingml/main"
STRICT_R = "http://purl.oclc.org/ooxml/officeDocument/relationships"
PKG_R = "http://schemas.openxmlformats.org/package/2006/relationships"


def test_strict_ooxml_is_recovered_with_a_warning(tmp_path):
    para = '<w:p><w:pPr><w:pStyle w:val="{}"/></w:pPr><w:r><w:t>{}</w:t></w:r></w:p>'
    cell = "<w:tc><w:p><w:r><w:t>{}</w:t></w:r></w:p></w:tc>"
    table = "<w:tbl>" + "".join(
        "<w:tr>" + "".join(cell.format(v) for v in row) + "</w:tr>" for row in [["名称", "数量"], ["苹果", "3"]]
    ) + "</w:tbl>"
    body = para.format("Heading1", "严格格式") + para.format("Normal", "正文内容") + table
    path = write_zip(tmp_path / "strict.docx", {
        "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="xml" ContentType="application/xml"/></Types>',
        "_rels/.rels": f'<Relationships xmlns="{PKG_R}"><Relationship Id="rId1" '
        f'Type="{STRICT_R}/officeDocument" Target="word/document.xml"/></Relationships>',
        "word/_rels/document.xml.rels": f'<Relationships xmlns="{PKG_R}"><Relationship Id="rId1" '
        f'Type="{STRICT_R}/footer" Target="footer1.xml"/></Relationships>',
        "word/document.xml": f'<w:document xmlns:w="{STRICT_W}" w:conformance="strict"><w:body>{body}</w:body>'
        "</w:document>",
        "word/footer1.xml": f'<w:ftr xmlns:w="{STRICT_W}"><w:p><w:r><w:t>页脚文字</w:t></w:r></w:p></w:ftr>',
    })
    sections, messages = load(path)
    assert [(s.text, s.heading) for s in sections] == [
        ("严格格式\n正文内容", "严格格式"),
        ("苹果 | 3", "严格格式"),
        ("页脚文字", "footer"),
    ]
    assert sections[1].header == "名称 | 数量" and sections[1].rows == (2, 2)
    assert len(messages) == 1 and messages[0].startswith("Strict Open XML document") and "recovered" in messages[0]


def test_missing_styles_part(report, tmp_path):
    """Drop word/styles.xml and its relationship: headings are still recognised by their style ids."""
    target = tmp_path / "nostyles.docx"
    with zipfile.ZipFile(report) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            if item.filename == "word/styles.xml":
                continue
            data = src.read(item.filename)
            if item.filename.endswith((".rels", "[Content_Types].xml")):
                data = re.sub(rb"<Relationship [^>]*/styles\"[^>]*/>", b"", data)
                data = re.sub(rb"<Override PartName=\"/word/styles.xml\"[^>]*/>", b"", data)
            dst.writestr(item, data)
    sections, _ = load(target)
    assert any(s.heading == "第一章 总则 > 1.1 适用范围" for s in sections)


def test_not_a_zip_raises_loader_error(tmp_path):
    (tmp_path / "old.docx").write_bytes(b"\xd0\xcf\x11\xe0 an old binary .doc renamed")
    with pytest.raises(LoaderError, match="save it as .docx"):
        list(load_docx(tmp_path / "old.docx"))


# --- the shared corpus ---------------------------------------------------------------------------------------


def test_corpus_chinese_headings_and_tables():
    sections, _ = load(corpus_file("docx/zh_mineru_docx_01_headings_tables_images.docx"))
    nested = [s for s in sections if s.heading == "1 这是第一章标题 > Many Tables > 1.2.2 Table with nested table"]
    assert any(s.sheet and s.text.startswith("A, B, C; Cell 1, Cell 2, Cell 3 | Rich cell") for s in nested)
    assert any("在这个日新月异、瞬息万变的时代背景下" in s.text for s in sections)
    assert not any("1.1. 显式空白字符表示 iii" in s.text for s in sections)  # the TOC is skipped
    margins = sorted(s.text for s in sections if s.heading == "header")
    assert margins == ["这是带公式和超链接的页眉a2+b2=c2MinerU官网", "这是带公式的页眉e=mc2"]  # equations kept


def test_corpus_text_boxes_once():
    sections, _ = load(corpus_file("docx/en_docling_textbox.docx"))
    text = "\n".join(s.text for s in sections)
    assert text.count("Suggested Reportable Symptoms:") == 1
    assert "Case closed." in text and "Infectious Disease Reporting Procedure" in text


def test_corpus_headers_footers_and_tables():
    sections, _ = load(corpus_file("docx/en_unstructured_docx-hdrftr.docx"))
    assert sections[0].text == "Main document"
    assert [s.text for s in sections if s.heading == "header"][0] == "First header para"
    assert any(s.heading == "footer" and "para2" in s.text for s in sections)
    # The footer's nested table has a vertically merged cell whose hidden text Word does not show.
    assert not any("I should not be included" in s.text for s in sections)
    tables, _ = load(corpus_file("docx/en_unstructured_docx-tables.docx"))
    merged = [s.text for s in tables if s.sheet == "table 3"]
    assert merged == ["a | c | d", "e | d"]


def test_corpus_strict_and_no_styles():
    sections, messages = load(corpus_file("bad/docx_strict-ooxml.docx"))
    assert [s.text for s in sections] == ["Some text"] and "Strict Open XML" in messages[0]
    sections, messages = load(corpus_file("docx/en_pythondocx_sty-having-no-styles-part.docx"))
    assert sections == [] and messages == []
