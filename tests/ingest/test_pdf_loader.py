"""The PDF loader on generated fixtures (reportlab, pypdf, hand-written PDF bytes) and on the shared corpus."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from ingest.errors import LoaderError, PasswordRequired
from ingest.loaders.pdf import load_pdf
from ingest.loaders.pdftext import garble_score, normalise
from tests.conftest import corpus_file, load_with_warnings

ZH_LINE = "第一章 总则：本合同自双方签字之日起生效。"




def load(path: Path) -> tuple[list, list[str]]:
    return load_with_warnings(load_pdf, path)


@pytest.fixture(scope="module")
def three_pages(tmp_path_factory) -> Path:
    """Page 1: Chinese (CID font) and English; page 2: blank, like a scan; page 3: English."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    path = tmp_path_factory.mktemp("pdf") / "three.pdf"
    c = canvas.Canvas(str(path))
    c.setFont("STSong-Light", 12)
    c.drawString(72, 750, ZH_LINE)
    c.drawString(72, 730, "摘 要")  # letter-spaced CJK title: the spaces should go
    c.setFont("Helvetica", 12)
    c.drawString(72, 710, "Page one in English.")
    c.showPage()
    c.showPage()
    c.setFont("Helvetica", 12)
    c.drawString(72, 750, "Third page: retrieval augmented generation.")
    c.showPage()
    c.save()
    return path


def encrypted(source: Path, target: Path, user_password: str) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-128")
    writer.write(target)
    return target


# A page that draws form XObject X1, which draws X0, which draws X1 again: a loop a naive reader never leaves.
_CIRCULAR_OBJECTS = [
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 500 300] /Contents 4 0 R"
    b" /Resources << /XObject << /X1 5 0 R >> >> >>",
    b"<< /Length 23 >>\nstream\n1 0 0 1 25 25 cm /X1 Do\nendstream",
    b"<< /Subtype /Form /BBox [0 0 1000 1000] /Length 61 /Resources << /Font << /F1 7 0 R >>"
    b" /XObject << /X0 6 0 R >> >> >>\nstream\nBT\n/F1 24 Tf\n(Hello world) Tj\nET\n"
    b"0.5 0 0 0.5 25 25 cm /X0 Do\nendstream",
    b"<< /Subtype /Form /BBox [0 0 1000 1000] /Length 61 /Resources << /Font << /F1 7 0 R >>"
    b" /XObject << /X1 5 0 R >> >> >>\nstream\nBT\n/F1 24 Tf\n(Hello again) Tj\nET\n"
    b"0.5 0 0 0.5 25 25 cm /X1 Do\nendstream",
    b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
]


def circular_pdf(path: Path, with_xref: bool) -> Path:
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(_CIRCULAR_OBJECTS, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    count = len(_CIRCULAR_OBJECTS) + 1
    if with_xref:
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % count
        out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
        out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (count, xref)
    else:  # no xref table and no startxref: pypdf refuses the file, pdfminer rebuilds it
        out += b"trailer\n<< /Size %d /Root 1 0 R >>\n%%%%EOF\n" % count
    path.write_bytes(bytes(out))
    return path


# --- generated fixtures -------------------------------------------------------------------------------------


def test_pages_are_numbered_and_chinese_is_readable(three_pages):
    sections, messages = load(three_pages)
    assert [s.page for s in sections] == [1, 3]
    assert ZH_LINE in sections[0].text
    assert "摘要" in sections[0].text.split("\n")
    assert "Page one in English." in sections[0].text
    assert sections[1].text == "Third page: retrieval augmented generation."
    assert messages == ["page 2: no text layer (scanned?); OCR is not supported yet"]


def test_loader_is_a_generator(three_pages):
    sections = load_pdf(three_pages)
    assert inspect.isgenerator(sections)
    assert next(sections).page == 1
    sections.close()  # closing early must release the file handles without error


def test_empty_user_password_opens(three_pages, tmp_path):
    sections, _ = load(encrypted(three_pages, tmp_path / "open.pdf", ""))
    assert ZH_LINE in sections[0].text


def test_real_password_raises_password_required(three_pages, tmp_path):
    with pytest.raises(PasswordRequired, match=r"password-protected.*decrypt it first.*qpdf"):
        list(load_pdf(encrypted(three_pages, tmp_path / "locked.pdf", "s3cret")))


def test_empty_and_junk_files_raise_loader_error(tmp_path):
    (tmp_path / "empty.pdf").write_bytes(b"")
    (tmp_path / "junk.pdf").write_bytes(b"this is not a pdf at all\n" * 10)
    with pytest.raises(LoaderError, match="empty"):
        list(load_pdf(tmp_path / "empty.pdf"))
    with pytest.raises(LoaderError, match="cannot read PDF"):
        list(load_pdf(tmp_path / "junk.pdf"))


def test_circular_xobjects_terminate(tmp_path):
    sections, _ = load(circular_pdf(tmp_path / "loop.pdf", with_xref=True))
    assert "Hello world" in sections[0].text


def test_unparseable_structure_falls_back_to_pdfminer(tmp_path):
    sections, messages = load(circular_pdf(tmp_path / "noxref.pdf", with_xref=False))
    assert sections and sections[0].page == 1 and "Hello world" in sections[0].text
    assert any("read with pdfminer instead" in m for m in messages)


def test_garbled_page_is_replaced_by_pdfminer_text(three_pages, monkeypatch):
    from pypdf import PageObject

    noise = "\ufffd\ufffd (cid:12)(cid:7) ͨ͘͠ ɹং"
    monkeypatch.setattr(PageObject, "extract_text", lambda self, *a, **k: noise)
    sections, messages = load(three_pages)
    # Pages 1 and 3: pdfminer's reading replaces pypdf's noise.
    assert ZH_LINE in sections[0].text and "retrieval augmented generation" in sections[2].text
    # Page 2 has nothing better to offer, so the noise stays, and the user is told.
    assert sections[1].page == 2 and "(cid:12)" in sections[1].text
    assert messages == ["page 2: extracted text looks garbled (font without a Unicode map?); kept as is"]


def test_failing_page_warns_and_the_rest_still_loads(three_pages, monkeypatch):
    from pypdf import PageObject

    real = PageObject.extract_text

    def flaky(self, *args, **kwargs):
        if self.page_number == 2:  # 0-based: the third page
            raise RecursionError("maximum recursion depth exceeded")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(PageObject, "extract_text", flaky)
    sections, messages = load(three_pages)
    assert [s.page for s in sections] == [1, 3]  # page 3 recovered by pdfminer
    assert "retrieval augmented generation" in sections[1].text
    assert any(m.startswith("page 3: pypdf failed") for m in messages)


def test_garble_score_separates_text_from_mojibake():
    assert garble_score("甲方：中国饮料有限公司（盖章） Party A signs here.") == 0.0
    assert garble_score("Θͨ͘͠ͱ͍;ݱ\u09c5\u0378၊ఆ͞Εͨ༗ަػྲྀ") > 0.3
    assert garble_score("(cid:3)(cid:4)(cid:5) ab") > 0.5


def test_normalise_fixes_extractor_spacing():
    assert normalise("摘 要\n第七章 企业资信状况") == "摘要\n第七章 企业资信状况"  # only letter-spaced lines close up
    assert normalise("\\ d o c u m e n t c l a s s { x }") == "\\documentclass { x }"
    assert normalise("ef-\nﬁcient  retrieval") == "efficient retrieval"
    wrapped = "这是一个很长的句子，它在这一行的末尾被排版软件折行到了\n下一行继续。\n短标题\n正文"
    assert normalise(wrapped) == "这是一个很长的句子，它在这一行的末尾被排版软件折行到了下一行继续。\n短标题\n正文"


# --- the shared corpus ---------------------------------------------------------------------------------------


def test_corpus_cid_font_chinese():
    sections, messages = load(corpus_file("pdf/zh_pdfminer_issue_566_cid_font.pdf"))
    assert sections[0].text == "甲方：中国饮料有限公司（盖章）" and not messages


def test_corpus_vertical_japanese_uses_pdfminer():
    sections, _ = load(corpus_file("pdf/ja_pdfminer_jo_vertical.pdf"))
    text = sections[0].text
    assert "わたくしといふ現象は" in text and "ひとつの青い照明です" in text
    assert garble_score(text) == 0.0


def test_corpus_chinese_paper_and_table():
    paper, _ = load(corpus_file("pdf/zh_elegantpaper_cn_5p.pdf"))
    assert [s.page for s in paper] == [1, 2, 3, 4, 5]
    assert "专为工作论文写作而设计" in paper[0].text  # the line break inside the sentence is gone
    assert "\\documentclass" in paper[0].text
    table, _ = load(corpus_file("pdf/zh_pymupdf_chinese-tables.pdf"))
    assert "第七章 企业资信状况" in table[0].text
    assert re.search(r"1 工商银行 330,435.30 234,850.00 95,585.30", table[0].text)


def test_corpus_english_multipage():
    sections, messages = load(corpus_file("pdf/en_docling_redp5110_sampled_18p.pdf"))
    assert len(sections) == 17 and sections[0].page == 1 and sections[-1].page == 18
    assert messages == ["page 17: no text layer (scanned?); OCR is not supported yet"]
    assert "Row and Column Access Control" in sections[0].text


def test_corpus_scanned_gives_one_summary_warning():
    sections, messages = load(corpus_file("pdf/zh_scanned_mineru_small_ocr_8p.pdf"))
    assert sections == []
    assert len(messages) == 1 and "no text layer on any of the 8 pages" in messages[0]


def test_corpus_encryption():
    sections, _ = load(corpus_file("pdf/en_pypdf_r6-empty-password_aes256.pdf"))
    assert "password: asdfzxcv" in sections[0].text
    with pytest.raises(PasswordRequired):
        list(load_pdf(corpus_file("bad/pdf_password_r4-aes-user-password.pdf")))


def test_corpus_bad_files():
    with pytest.raises(LoaderError):
        list(load_pdf(corpus_file("bad/pdf_empty_0bytes.pdf")))
    sections, _ = load(corpus_file("bad/pdf_evil-circular-xobjects.pdf"))
    assert "Hello world" in sections[0].text
    sections, _ = load(corpus_file("bad/pdf_zlib-corrupted_zen_of_python.pdf"))
    assert "Beautiful is better than ugly." in sections[0].text
