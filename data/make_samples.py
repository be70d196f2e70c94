"""Generate the demo knowledge base in data/samples/ deterministically.

    python data/make_samples.py            # writes data/samples/*
    python data/make_samples.py --out DIR  # somewhere else

The text lives in sample_texts.py; this file only writes it in each format. Numbers marked as estimates are
computed from a stated formula.

Outputs: llm-handbook.docx (python-docx, real Heading styles, two tables), rag-guide.pdf (reportlab,
seven pages, one topic per page, CJK font embedded), glossary.xlsx (three sheets, merged cells, numeric
columns), models.csv (UTF-8), faq.md, intro.txt.

Determinism: zip members of .docx/.xlsx get a fixed timestamp and the core-properties dates are pinned;
reportlab runs with invariant=1. The PDF embeds WenQuanYi Micro Hei (Debian: fonts-wqy-microhei) when it is
installed, otherwise WenQuanYi Zen Hei, otherwise the built-in CID font STSong-Light (not embedded). All
three give clean CJK text through pypdf; only the embedded TTF renders everywhere.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import re
import zipfile
from pathlib import Path

from sample_texts import (
    AUTHOR,
    FAQ,
    GLOSSARY,
    HANDBOOK,
    INTRO,
    MODELS,
    MODELS_HEADER,
    PDF_PAGES,
    PDF_SUBTITLE,
    PDF_TITLE,
    QUANT,
    QUANT_HEADER,
    QUANT_NOTE,
    QUANT_PARAMS_B,
    SAMPLING,
    SAMPLING_NOTE,
)

FIXED_TIME = dt.datetime(2025, 1, 15, 9, 0, 0)
ZIP_TIME = (2025, 1, 15, 9, 0, 0)

# --------------------------------------------------------------------------------------------------------
# llm-handbook.docx
# --------------------------------------------------------------------------------------------------------


def write_docx(path: Path) -> None:
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import Pt

    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.size = Pt(10.5)
    rpr = normal.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(rfonts)
    rfonts.set(qn("w:eastAsia"), "宋体")

    levels = {"title": 0, "h1": 1, "h2": 2, "h3": 3}
    for kind, content in HANDBOOK:
        if kind in levels:
            doc.add_heading(content, level=levels[kind])
        elif kind == "p":
            doc.add_paragraph(content)
        elif kind == "caption":
            doc.add_paragraph(content, style="Caption")
        elif kind == "table":
            header, *rows = content
            table = doc.add_table(rows=1 + len(rows), cols=len(header))
            table.style = "Table Grid"
            for r, values in enumerate([header, *rows]):
                for c, value in enumerate(values):
                    cell = table.cell(r, c)
                    cell.text = value
                    if r == 0:
                        for run in cell.paragraphs[0].runs:
                            run.bold = True
        else:
            raise ValueError(kind)

    cp = doc.core_properties
    cp.title = "大语言模型实用手册"
    cp.author = AUTHOR
    cp.last_modified_by = AUTHOR
    cp.created = FIXED_TIME
    cp.modified = FIXED_TIME
    cp.revision = 1
    buf = io.BytesIO()
    doc.save(buf)
    path.write_bytes(_normalize_zip(buf.getvalue()))


# --------------------------------------------------------------------------------------------------------
# rag-guide.pdf: each page of PDF_PAGES is (heading, [paragraphs]), plain text; reportlab markup is escaped.
# --------------------------------------------------------------------------------------------------------


FONT_CANDIDATES = [
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
]


def _pdf_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFont

    for font_path, index in FONT_CANDIDATES:
        if Path(font_path).exists():
            pdfmetrics.registerFont(TTFont("CJK", font_path, subfontIndex=index))
            return "CJK"
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


def write_pdf(path: Path) -> None:
    from xml.sax.saxutils import escape

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

    font = _pdf_font()
    title = ParagraphStyle("title", fontName=font, fontSize=20, leading=28, spaceAfter=6)
    subtitle = ParagraphStyle("subtitle", fontName=font, fontSize=10, leading=15, spaceAfter=14)
    heading = ParagraphStyle("heading", fontName=font, fontSize=15, leading=22, spaceBefore=4, spaceAfter=10)
    body = ParagraphStyle("body", fontName=font, fontSize=11, leading=19, spaceAfter=9, wordWrap="CJK")

    story = [Paragraph(escape(PDF_TITLE), title), Paragraph(escape(PDF_SUBTITLE), subtitle)]
    for i, (head, paragraphs) in enumerate(PDF_PAGES):
        if i:
            story.append(PageBreak())
        story.append(Paragraph(escape(head), heading))
        story.append(Spacer(1, 2))
        story.extend(Paragraph(escape(p), body) for p in paragraphs)

    doc = SimpleDocTemplate(
        str(path), pagesize=A4, leftMargin=25 * mm, rightMargin=25 * mm, topMargin=25 * mm, bottomMargin=25 * mm,
        title=PDF_TITLE, author=AUTHOR, subject="RAG pipeline, chunking, embeddings, hybrid search, reranking",
        creator="data/make_samples.py", invariant=1,
    )
    doc.build(story)


# --------------------------------------------------------------------------------------------------------
# glossary.xlsx
# --------------------------------------------------------------------------------------------------------


# (category, format, average bits per weight). Sizes are computed: 1.5e9 parameters x bits / 8, in GB (1e9 bytes).


def write_xlsx(path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    wb = Workbook()

    ws = wb.active
    ws.title = "术语"
    for row in GLOSSARY:
        ws.append(list(row))
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 34
    ws.column_dimensions["C"].width = 80

    ws2 = wb.create_sheet("采样参数")
    for row in SAMPLING:
        ws2.append(list(row))
    note_row = ws2.max_row + 2
    ws2.cell(row=note_row, column=1, value=SAMPLING_NOTE)
    ws2.merge_cells(start_row=note_row, start_column=1, end_row=note_row, end_column=4)
    ws2.cell(row=note_row, column=1).alignment = wrap
    ws2.column_dimensions["A"].width = 20
    ws2.column_dimensions["B"].width = 10
    ws2.column_dimensions["C"].width = 20
    ws2.column_dimensions["D"].width = 64
    for r in range(2, len(SAMPLING) + 1):
        ws2.cell(row=r, column=2).number_format = "General"

    ws3 = wb.create_sheet("量化格式")
    ws3.append(list(QUANT_HEADER))
    for category, fmt, bits, note in QUANT:
        size = round(QUANT_PARAMS_B * bits / 8, 2)
        ws3.append([category, fmt, bits, size, note])
    # Merge the category column over each run of equal values (vertical merged cells).
    start = 2
    for r in range(3, len(QUANT) + 3):
        if r == len(QUANT) + 2 or ws3.cell(row=r, column=1).value != ws3.cell(row=start, column=1).value:
            if r - 1 > start:
                ws3.merge_cells(start_row=start, start_column=1, end_row=r - 1, end_column=1)
                ws3.cell(row=start, column=1).alignment = Alignment(vertical="center")
            start = r
    note_row = ws3.max_row + 2
    ws3.cell(row=note_row, column=1, value=QUANT_NOTE)
    ws3.column_dimensions["A"].width = 12
    ws3.column_dimensions["B"].width = 10
    ws3.column_dimensions["C"].width = 22
    ws3.column_dimensions["D"].width = 26
    ws3.column_dimensions["E"].width = 70

    for sheet in (ws, ws2, ws3):
        for cell in sheet[1]:
            cell.font = bold
        sheet.freeze_panes = "A2"

    wb.properties.creator = AUTHOR
    wb.properties.title = "LLM 术语表"
    wb.properties.created = FIXED_TIME
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(_normalize_zip(buf.getvalue()))


# --------------------------------------------------------------------------------------------------------
# models.csv
# --------------------------------------------------------------------------------------------------------

Q4KM_BITS = 4.85


def write_csv(path: Path) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(MODELS_HEADER)
    for name, org, date, params, ctx, lic, note in MODELS:
        size = round(params * Q4KM_BITS / 8, 1)
        writer.writerow([name, org, date, _num(params), ctx, lic, _num(size), note])
    path.write_text(buf.getvalue(), encoding="utf-8")


def _num(x: float) -> str:
    return f"{x:g}"


# --------------------------------------------------------------------------------------------------------
# faq.md and intro.txt
# --------------------------------------------------------------------------------------------------------


def write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")


# --------------------------------------------------------------------------------------------------------


def _normalize_zip(data: bytes) -> bytes:
    """Rewrite an OOXML zip with fixed member timestamps and pinned core-property dates."""
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            blob = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = blob.decode("utf-8")
                text = re.sub(r"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)", rf"\g<1>{stamp}\g<2>", text)
                blob = text.encode("utf-8")
            zi = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, blob)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "samples")
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    write_docx(out / "llm-handbook.docx")
    write_pdf(out / "rag-guide.pdf")
    write_xlsx(out / "glossary.xlsx")
    write_csv(out / "models.csv")
    write_text(out / "faq.md", FAQ)
    write_text(out / "intro.txt", INTRO)
    for p in sorted(out.iterdir()):
        print(f"{p.stat().st_size:>8}  {p}")


if __name__ == "__main__":
    main()
