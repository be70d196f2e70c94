"""Generate the ingest benchmark's office corpus: PDF, DOCX and XLSX files of Chinese text, in equal numbers.

The text comes from the CMRC2018 passages (../shared/benchmarks/cmrc2018), cut into sentences and reshuffled
per file with a fixed seed, so every file is different prose (no chunk repeats a CMRC chunk: chunk ids hash
the text, and a repeat would be free for the project but not for the baseline) yet reads like real Chinese.

- PDF (reportlab): two pages, each a heading and a paragraph; the CJK font is embedded (WenQuanYi when
  installed, else the built-in STSong-Light CID font), so pypdf and pdfminer extract real text.
- DOCX (python-docx): Heading 1 / Heading 2 sections with paragraphs, and a small table.
- XLSX (openpyxl): a 10-row sheet with a header and a sentence per row, and a short summary sheet.

Files are rebuilt only when missing, so a rerun is instant; `--force` rewrites them.

    python -m bench.make_corpus --out /tmp/rag-bench/office --files 210
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Callable
from pathlib import Path

from bench.cmrc2018 import DEFAULT_DATA

_SENTENCE = re.compile(r"[^。！？]+[。！？]")
FONT_CANDIDATES = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")


def load_sentences(data: Path = DEFAULT_DATA) -> tuple[list[str], list[str]]:
    """(sentences, titles) of the CMRC passages; sentences shorter than 8 characters are dropped."""
    sentences, titles = [], []
    for line in (data / "cmrc2018_dev_sub300.corpus.jsonl").read_text(encoding="utf-8").splitlines():
        passage = json.loads(line)
        titles.append(passage["title"])
        sentences.extend(s.strip() for s in _SENTENCE.findall(passage["text"]) if len(s.strip()) >= 8)
    return sentences, sorted(set(titles))


class Text:
    """Deterministic random prose for one file."""

    def __init__(self, sentences: list[str], titles: list[str], seed: int) -> None:
        self.sentences, self.titles, self.rng = sentences, titles, random.Random(seed)

    def paragraph(self, n: int = 3) -> str:
        return "".join(self.rng.choice(self.sentences) for _ in range(n))

    def title(self) -> str:
        return self.rng.choice(self.titles)


_font: str | None = None


def pdf_font() -> str:
    global _font
    if _font is None:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont
        from reportlab.pdfbase.ttfonts import TTFont

        for path in FONT_CANDIDATES:
            if Path(path).exists():
                pdfmetrics.registerFont(TTFont("BenchCJK", path, subfontIndex=0))
                _font = "BenchCJK"
                break
        else:
            pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
            _font = "STSong-Light"
    return _font


def write_pdf(path: Path, text: Text) -> None:
    from xml.sax.saxutils import escape

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    font = pdf_font()
    body = ParagraphStyle("body", fontName=font, fontSize=10.5, leading=16, wordWrap="CJK")
    head = ParagraphStyle("head", fontName=font, fontSize=15, leading=22, spaceAfter=8)
    story = []
    for page in range(2):
        if page:
            story.append(PageBreak())
        story.append(Paragraph(escape(f"{page + 1}. {text.title()}"), head))
        story.append(Paragraph(escape(text.paragraph(4)), body))
    SimpleDocTemplate(str(path), pagesize=A4, invariant=1, title=path.stem).build(story)


def write_docx(path: Path, text: Text) -> None:
    from docx import Document

    doc = Document()
    doc.add_heading(text.title(), level=1)
    for section in range(2):
        doc.add_heading(f"{section + 1}. {text.title()}", level=2)
        doc.add_paragraph(text.paragraph(3))
    table = doc.add_table(rows=1, cols=3)
    for cell, name in zip(table.rows[0].cells, ("条目", "说明", "备注")):
        cell.text = name
    for i in range(2):
        cells = table.add_row().cells
        cells[0].text, cells[1].text, cells[2].text = text.title(), text.paragraph(1), f"第{i + 1}项"
    doc.core_properties.title = path.stem
    doc.save(str(path))


def write_xlsx(path: Path, text: Text) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "记录"
    ws.append(["编号", "标题", "日期", "数量", "摘要"])
    rng = text.rng
    for i in range(10):
        ws.append([f"R{i + 1:03d}", text.title(), f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                   rng.randint(1, 5000), text.paragraph(1)])
    summary = wb.create_sheet("汇总")
    summary.append(["类别", "条数", "说明"])
    for _ in range(3):
        summary.append([text.title(), rng.randint(1, 100), text.paragraph(1)])
    wb.save(str(path))


WRITERS: dict[str, Callable[[Path, Text], None]] = {"pdf": write_pdf, "docx": write_docx, "xlsx": write_xlsx}


def make_corpus(out: Path, files: int = 210, *, seed: int = 0, force: bool = False,
                data: Path = DEFAULT_DATA) -> list[Path]:
    """Write `files` documents (a third of each kind) under `out`; returns their paths in a stable order."""
    if files < 1:
        raise ValueError("files must be at least 1")
    out.mkdir(parents=True, exist_ok=True)
    sentences, titles = load_sentences(data)
    kinds = list(WRITERS)
    paths = []
    for i in range(files):
        kind = kinds[i % len(kinds)]
        path = out / kind / f"{kind}-{i:04d}.{kind}"
        path.parent.mkdir(exist_ok=True)
        if force or not path.exists():
            tmp = path.with_name(f".{path.name}.tmp.{kind}")
            WRITERS[kind](tmp, Text(sentences, titles, seed * 1_000_003 + i))
            tmp.replace(path)  # a killed run leaves no half-written file that a rerun would trust
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--files", type=int, default=210, help="how many files (a third each PDF, DOCX, XLSX)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="rewrite files that already exist")
    args = parser.parse_args()
    paths = make_corpus(args.out, args.files, seed=args.seed, force=args.force)
    size = sum(p.stat().st_size for p in paths) / 2**20
    print(f"{len(paths)} files, {size:.1f} MB, under {args.out}")


if __name__ == "__main__":
    main()
