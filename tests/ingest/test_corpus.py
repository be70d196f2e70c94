"""Every real third-party file in ../shared/corpus goes through the real worker pool, loaders and chunker.

Good files must yield chunks with the right kind of locator; files under bad/ must be recovered with a
warning that names the problem, or fail by name; nothing may hang the run.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ingest.types import LoadResult
from ingest.workers import ChunkSpec, FileFailure, parse_files
from tests.conftest import shared_corpus

# locator kind each good file's chunks must carry; None: a file with no extractable text (warned about)
EXPECTED = {
    "docx/en_docling_textbox.docx": "heading_or_plain",
    "docx/en_docling_word_sample.docx": "heading",
    "docx/en_pythondocx_sty-having-no-styles-part.docx": None,
    "docx/en_unstructured_docx-hdrftr.docx": "heading_or_plain",
    "docx/en_unstructured_docx-tables.docx": "rows",
    "docx/zh_mineru_docx_01_headings_tables_images.docx": "heading",
    "pdf/en_docling_redp5110_sampled_18p.pdf": "page",
    "pdf/en_pypdf_r6-empty-password_aes256.pdf": "page",
    "pdf/en_scanned_docling_ocr_test.pdf": None,
    "pdf/en_unstructured_multi-column_13p.pdf": "page",
    "pdf/ja_pdfminer_jo_vertical.pdf": "page",
    "pdf/zh_elegantpaper_cn_5p.pdf": "page",
    "pdf/zh_pdfminer_issue_566_cid_font.pdf": "page",
    "pdf/zh_pymupdf_chinese-tables.pdf": "page",
    "pdf/zh_scanned_mineru_small_ocr_8p.pdf": None,
    "xlsx/en_docling_xlsx_02_sample_sales_data.xlsm": "rows",
    "xlsx/en_mineru_xlsx_01_multisheet_merged.xlsx": "rows",
    "xlsx/en_unstructured_empty.xlsx": None,
    "xlsx/en_unstructured_tests-example.xls": "rows",
    "xlsx/zh_maxkb_table_template_zh.xlsx": "rows",
    "csv/en_unstructured_semicolon-delimited.csv": "rows",
    "csv/en_unstructured_stanley-cups-utf-16.csv": "rows",
    "csv/zh_chatchat_langchain-ChatGLM_open.csv": "rows",
    "csv/zh_maxkb_csv_template_zh.csv": "rows",
    "md/en_unstructured_empty.txt": None,
    "md/en_unstructured_fake-text-utf-16-be.txt": "plain",
    "md/zh_chatchat_分布式训练技术原理.md": "heading",
    "md/zh_gb2312_chardet_cnblog_rss.txt": "plain",
}
TEXT_CHECKS = {  # a phrase each must contain, proving the text is decoded, not just present
    "pdf/zh_pdfminer_issue_566_cid_font.pdf": "中国饮料有限公司",
    "md/zh_gb2312_chardet_cnblog_rss.txt": "的",
    "csv/en_unstructured_stanley-cups-utf-16.csv": "Stanley",
    "docx/en_docling_textbox.docx": "",
}


@pytest.fixture(scope="module")
def results() -> dict[str, LoadResult | FileFailure]:
    corpus = shared_corpus()
    files = sorted(str(p) for p in corpus.rglob("*") if p.is_file() and p.name != "MANIFEST.tsv")
    started = time.perf_counter()
    out = {}
    for r in parse_files(files, ChunkSpec(size=160, overlap=32), workers=2, timeout=60):
        out[str(Path(r.source).relative_to(corpus))] = r
    assert time.perf_counter() - started < 240, "the corpus took too long: something nearly hung"
    assert len(out) == len(files)
    return out


def locator_kind(result: LoadResult) -> set[str]:
    kinds = set()
    for c in result.chunks:
        if c.rows is not None:
            kinds.add("rows")
        elif c.page is not None:
            kinds.add("page")
        elif c.heading:
            kinds.add("heading")
        else:
            kinds.add("plain")
    return kinds


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_good_file_yields_chunks_with_the_right_locator(results, name):
    result = results[name]
    assert isinstance(result, LoadResult), f"{name} failed: {result.message}"
    expected = EXPECTED[name]
    if expected is None:
        assert not result.chunks and result.warnings, f"{name}: no text should come with a warning"
        return
    assert result.chunks, f"{name} yielded no chunks"
    kinds = locator_kind(result)
    if expected == "heading_or_plain":
        assert kinds <= {"heading", "plain"}
    else:
        assert expected in kinds, f"{name}: locators {kinds}, expected {expected}"
    if expected == "page":
        assert all(c.page >= 1 for c in result.chunks)
    text = "\n".join(c.text for c in result.chunks)
    assert TEXT_CHECKS.get(name, "") in text
    assert "\ufffd" not in text, f"{name}: replacement characters in the text"


def test_table_chunks_repeat_their_header(results):
    result = results["csv/zh_chatchat_langchain-ChatGLM_open.csv"]
    headers = {c.text.split("\n", 1)[0] for c in result.chunks}
    assert len(result.chunks) > 5 and len(headers) == 1


def test_scanned_pdf_is_reported_as_having_no_text_layer(results):
    warnings = " ".join(results["pdf/zh_scanned_mineru_small_ocr_8p.pdf"].warnings)
    assert "no text layer" in warnings


@pytest.mark.parametrize("name,outcome", [
    ("bad/pdf_empty_0bytes.pdf", "failed"),
    ("bad/pdf_password_r4-aes-user-password.pdf", "password"),
    ("bad/pdf_zlib-corrupted_zen_of_python.pdf", "any"),
    ("bad/pdf_evil-circular-xobjects.pdf", "any"),
    ("bad/docx_strict-ooxml.docx", "recovered"),
    ("bad/xlsx_inflated_dimension_1M_rows.xlsx", "recovered"),
])
def test_bad_file_is_recovered_with_a_warning_or_fails_by_name(results, name, outcome):
    result = results[name]
    if isinstance(result, FileFailure):
        assert outcome in {"failed", "password", "any"}, f"{name} should have been recovered: {result.message}"
        assert result.message
        if outcome == "password":
            assert "password" in result.message.lower()
    else:
        assert outcome in {"recovered", "any"}, f"{name} should have failed"
        assert result.warnings, f"{name} was recovered silently"
        if outcome == "recovered":
            assert result.chunks
