"""Check the evaluation question sets against the documents they are about.

    python data/eval/check_evidence.py                 # all *.jsonl in data/eval
    python data/eval/check_evidence.py dev.jsonl       # one file (name or path)
    python data/eval/check_evidence.py --fix-locators  # rewrite each locator to the one computed from the text

Question files and the directory their `source` names resolve against:
    dev.jsonl, test.jsonl   -> data/samples/
    shared_samples.jsonl    -> /work/shared/samples/ (override with --shared-dir or $SHARED_SAMPLES_DIR)

Checks, each failure printed as a MISS (exit status 1 if there is any):
- schema: id, question, answerable, evidence, keywords, source, locator; ids unique over all files; no question
  asked twice; unanswerable items have no evidence and no keywords; answerable items have 1+ evidence strings
  (the first from `source`; later ones may come from another file that states the same fact, so that citing
  either place counts as right)
  (8-40 characters; 8-30 for the shared-samples set) and 1-3 keywords.
- evidence: every string appears verbatim in the extracted text of its source, inside ONE extraction unit:
  a .docx paragraph or table cell (python-docx), a line of a PDF page (pypdf, per page), an .xlsx cell
  (openpyxl), a .csv cell, a line of .md/.txt. Runs of spaces/tabs are collapsed on both sides before
  comparing. For PDFs the string must not span a line break of the extracted text: a string that is only
  found once newlines are removed is reported as "spans a line break".
- locator: the evidence lies where the locator says: "p. N" (PDF page), "§ heading" (nearest .docx/.md heading
  above), "sheet NAME row N" (.xlsx row), "row N" (.csv, header = row 1), "line N" (.txt). Only the first
  evidence string is located.
- keywords: each keyword occurs in the source text (case- and whitespace-insensitive), so an answer drawn
  from the source can contain it.
- rag-guide.pdf round trip: when data/make_samples.py is importable, the text pypdf extracts from each page
  equals the source paragraphs of that page (whitespace removed), so CJK survives the PDF intact.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent
SAMPLES = DATA / "samples"
SHARED_DEFAULT = Path(os.environ.get("SHARED_SAMPLES_DIR", "/work/shared/samples"))
SUFFIXES = {".docx", ".pdf", ".xlsx", ".xlsm", ".csv", ".md", ".markdown", ".txt"}
FIELDS = ("id", "question", "answerable", "evidence", "keywords", "source", "locator")


@dataclass(frozen=True)
class Unit:
    """One extraction unit (paragraph, cell, line) and where it is."""

    text: str
    locator: str


def _squash(s: str) -> str:
    return re.sub(r"[ \t\u00a0\u3000]+", " ", s).strip()


def _nows(s: str) -> str:
    return re.sub(r"\s+", "", s)


def _cell_str(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# ---------------------------------------------------------------------------------------------- extraction


def units_docx(path: Path) -> list[Unit]:
    from docx import Document
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    doc = Document(str(path))
    out: list[Unit] = []
    heading = ""
    for block in doc.element.body.iterchildren():
        tag = block.tag.rsplit("}", 1)[-1]
        if tag == "p":
            para = Paragraph(block, doc)
            style = para.style.name if para.style is not None else ""
            if style.startswith("Heading") or style == "Title":
                heading = para.text.strip()
            out.append(Unit(para.text, f"§ {heading}"))
        elif tag == "tbl":
            table = Table(block, doc)
            for row in table.rows:
                seen = set()
                for cell in row.cells:
                    if id(cell._tc) in seen:  # a horizontally merged cell repeats
                        continue
                    seen.add(id(cell._tc))
                    out.append(Unit(cell.text, f"§ {heading}"))
    return out


def units_pdf(path: Path) -> tuple[list[Unit], dict[int, str]]:
    from pypdf import PdfReader

    out: list[Unit] = []
    pages: dict[int, str] = {}
    for n, page in enumerate(PdfReader(str(path)).pages, 1):
        text = page.extract_text() or ""
        pages[n] = text
        out.extend(Unit(line, f"p. {n}") for line in text.splitlines())
    return out, pages


def units_xlsx(path: Path) -> list[Unit]:
    from openpyxl import load_workbook

    wb = load_workbook(str(path), data_only=True)
    out: list[Unit] = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None:
                    out.append(Unit(_cell_str(cell.value), f"sheet {ws.title} row {cell.row}"))
    return out


def units_csv(path: Path) -> list[Unit]:
    text = path.read_text(encoding="utf-8-sig")
    out: list[Unit] = []
    for r, row in enumerate(csv.reader(text.splitlines()), 1):
        out.extend(Unit(value, f"row {r}") for value in row)
    return out


def units_md(path: Path) -> list[Unit]:
    out: list[Unit] = []
    heading = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\s*#{1,6}\s*(.*?)\s*#*\s*$", line)
        if m and line.lstrip().startswith("#"):
            heading = re.sub(r"\*\*|__|`", "", m.group(1)).strip()
        out.append(Unit(line, f"§ {heading}"))
    return out


def units_txt(path: Path) -> list[Unit]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Unit(line, f"line {i}") for i, line in enumerate(lines, 1)]


class Corpus:
    """Extraction units per source file, loaded once."""

    def __init__(self) -> None:
        self._cache: dict[Path, list[Unit]] = {}
        self.pdf_pages: dict[Path, dict[int, str]] = {}

    def units(self, path: Path) -> list[Unit]:
        if path not in self._cache:
            suffix = path.suffix.lower()
            if suffix == ".docx":
                units = units_docx(path)
            elif suffix == ".pdf":
                units, self.pdf_pages[path] = units_pdf(path)
            elif suffix in (".xlsx", ".xlsm"):
                units = units_xlsx(path)
            elif suffix == ".csv":
                units = units_csv(path)
            elif suffix in (".md", ".markdown"):
                units = units_md(path)
            else:
                units = units_txt(path)
            self._cache[path] = units
        return self._cache[path]

    def full_text(self, path: Path) -> str:
        return "\n".join(u.text for u in self.units(path))


# ------------------------------------------------------------------------------------------------- checks


def _same_locator(expected: str, found: str) -> bool:
    norm = lambda s: _squash(s).replace("§ ", "§").lower()  # noqa: E731
    return norm(expected) == norm(found)


def check_item(item: dict, src_dir: Path, corpus: Corpus, max_len: int, misses: list[str], fix: bool) -> None:
    qid = item.get("id", "?")

    def miss(msg: str) -> None:
        misses.append(f"{qid}: {msg}")

    for key in FIELDS:
        if key not in item:
            miss(f"missing field {key!r}")
            return
    if not isinstance(item["answerable"], bool):
        miss("answerable must be true or false")
    if not item["question"].strip():
        miss("empty question")
    evidence, keywords = item["evidence"], item["keywords"]
    if not item["answerable"]:
        if evidence or keywords:
            miss("unanswerable item must have empty evidence and keywords")
        return
    if not evidence:
        miss("answerable item without evidence")
    if not 1 <= len(keywords) <= 3:
        miss(f"{len(keywords)} keywords (want 1-3)")
    path = src_dir / item["source"]
    if not path.exists():
        miss(f"source not found: {path}")
        return
    units = corpus.units(path)
    full = corpus.full_text(path)
    first_loc = None
    for ev in evidence:
        if not 8 <= len(ev) <= max_len:
            miss(f"evidence length {len(ev)} outside 8-{max_len}: {ev!r}")
        target = _squash(ev)
        hits = [u for u in units if target in _squash(u.text)]
        if not hits and first_loc is not None and any(
                target in _squash(u.text) for other in sorted(src_dir.iterdir())
                if other != path and other.suffix.lower() in SUFFIXES for u in corpus.units(other)):
            continue  # the same fact stated in another file
        if not hits:
            if _nows(ev) in _nows(full):
                what = "spans a line break" if path.suffix.lower() == ".pdf" else "spans two extraction units"
                miss(f"evidence {what} in {item['source']}: {ev!r}")
            else:
                miss(f"evidence not in {item['source']}: {ev!r}")
            continue
        if first_loc is None:
            locs = [h.locator for h in hits]
            first_loc = next((loc for loc in locs if _same_locator(item["locator"], loc)), locs[0])
            if not any(_same_locator(item["locator"], loc) for loc in locs):
                if fix:
                    item["locator"] = first_loc
                else:
                    miss(f"locator {item['locator']!r} but evidence {ev!r} is at {' / '.join(sorted(set(locs)))}")
    flat = _nows(full).lower()
    for kw in keywords:
        if _nows(kw).lower() not in flat:
            miss(f"keyword {kw!r} does not occur in {item['source']}")


def check_pdf_roundtrip(corpus: Corpus, misses: list[str]) -> str | None:
    """Compare rag-guide.pdf's extracted text with its source in make_samples.py, page by page."""
    pdf = SAMPLES / "rag-guide.pdf"
    if not pdf.exists():
        return None
    sys.path.insert(0, str(DATA))
    sys.dont_write_bytecode = True  # no __pycache__ next to make_samples.py
    try:
        import make_samples as ms  # noqa: PLC0415
    except ImportError:
        return None
    finally:
        sys.path.pop(0)
    corpus.units(pdf)
    pages = corpus.pdf_pages[pdf]
    if len(pages) != len(ms.PDF_PAGES):
        misses.append(f"rag-guide.pdf: {len(pages)} pages, source has {len(ms.PDF_PAGES)}")
        return None
    for n, (heading, paragraphs) in enumerate(ms.PDF_PAGES, 1):
        expected = ([ms.PDF_TITLE, ms.PDF_SUBTITLE] if n == 1 else []) + [heading, *paragraphs]
        want, got = _nows("".join(expected)), _nows(pages[n])
        if want != got:
            i = next((k for k, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
            misses.append(f"rag-guide.pdf p. {n}: extracted text differs from source at char {i}: "
                          f"want {want[i:i + 20]!r}, got {got[i:i + 20]!r}")
    cjk = sum(len(re.findall(r"[\u4e00-\u9fff]", t)) for t in pages.values())
    return f"rag-guide.pdf: {len(pages)} pages, {cjk} CJK characters, extracted text == source text per page"


def _lang(question: str) -> str:
    return "zh" if re.search(r"[\u4e00-\u9fff]", question) else "en"


def main() -> int:
    parser = argparse.ArgumentParser(description="Verify evidence strings of the eval question sets.")
    parser.add_argument("files", nargs="*", help="jsonl files (default: all in data/eval)")
    parser.add_argument("--shared-dir", type=Path, default=SHARED_DEFAULT)
    parser.add_argument("--fix-locators", action="store_true", help="rewrite locators computed from the text")
    args = parser.parse_args()

    files = [Path(f) if Path(f).exists() else HERE / f for f in args.files] or sorted(HERE.glob("*.jsonl"))
    corpus = Corpus()
    misses: list[str] = []
    seen_ids: dict[str, str] = {}
    seen_q: dict[str, str] = {}
    for f in files:
        shared = f.name.startswith("shared")
        src_dir = args.shared_dir if shared else SAMPLES
        items = []
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                misses.append(f"{f.name}:{n}: bad JSON: {exc}")
        for item in items:
            qid = item.get("id", "?")
            if qid in seen_ids:
                misses.append(f"{qid}: duplicate id (also in {seen_ids[qid]})")
            seen_ids[qid] = f.name
            q = _nows(item.get("question", "")).lower()
            if q in seen_q:
                misses.append(f"{qid}: question also asked in {seen_q[q]}")
            seen_q[q] = f"{f.name} {qid}"
            check_item(item, src_dir, corpus, 30 if shared else 40, misses, args.fix_locators)
        if args.fix_locators:
            f.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")

        by_source = Counter(i["source"] if i.get("answerable") else "(unanswerable)" for i in items)
        langs = Counter(_lang(i.get("question", "")) for i in items)
        fmt = defaultdict(int)
        for i in items:
            if i.get("answerable"):
                loc = i.get("locator", "")
                kind = Path(i["source"]).suffix.lstrip(".")
                if kind == "xlsx":
                    kind += " " + loc.split(" row")[0]
                elif kind == "pdf":
                    kind += " " + loc
                elif kind == "docx":
                    kind += " table" if any(_is_docx_table_cell(corpus, src_dir / i["source"], e) for e in i["evidence"][:1]) else " text"
                fmt[kind] += 1
        print(f"{f.name}: {len(items)} questions ({', '.join(f'{k} {v}' for k, v in sorted(langs.items()))}, "
              f"{sum(1 for i in items if not i.get('answerable'))} unanswerable)")
        for src, n in sorted(by_source.items()):
            print(f"    {n:3d}  {src}")
        print("    by format/location: " + ", ".join(f"{k}: {v}" for k, v in sorted(fmt.items())))

    note = check_pdf_roundtrip(corpus, misses)
    if note:
        print(note)
    for m in misses:
        print("MISS", m)
    print(f"{len(misses)} miss(es)" if misses else "all evidence found")
    return 1 if misses else 0


def _is_docx_table_cell(corpus: Corpus, path: Path, ev: str) -> bool:
    if path.suffix.lower() != ".docx" or not path.exists():
        return False
    from docx import Document

    target = _squash(ev)
    doc = Document(str(path))
    return any(target in _squash(c.text) for t in doc.tables for r in t.rows for c in r.cells)


if __name__ == "__main__":
    sys.exit(main())
