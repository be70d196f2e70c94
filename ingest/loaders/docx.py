"""Word (.docx) loader: reads the XML parts from the zip and walks the body, so paragraphs, tables and text boxes
keep their order.

Trade-offs:
- Not python-docx's `paragraphs`/`tables`: they lose body order, miss text boxes and content controls and repeat
  merged cells; python-docx also loads every image and rejects Strict Open XML. Its XML parser (which does not
  resolve entities) is used.
- Paragraphs under one heading form one section; a heading (style "Heading N" / "标题 N", or an outline level)
  starts the next one and extends the path "H1 > H2 > H3".
- A table row is a section: cells joined by " | ", the first row as header. A horizontal merge appears once; a
  vertical merge repeats in each row it spans, so every row stands alone; a nested table is flattened into its
  cell; a one-column table is layout, read as paragraphs. A caption right above a table ("表 1-1 …", "Table 2:",
  or the Caption style) moves into the table's header, so every chunk of its rows carries what the table is
  about, and the paragraph before it does not.
- Text boxes are read from mc:Choice only: mc:Fallback holds a VML copy of the same box.
- Headers and footers follow the body, each distinct text once. Opening the package, within the zip bounds, and
  Strict Open XML are `ingest.loaders.docx_package`'s business.
- A table is cut at `max_rows` rows or `max_cells` cells with a warning (`ingest.loaders.rows.bounded`); the rest
  of the document is still read.
- Equations come out as bare characters; a table of contents is skipped. Not read: footnotes, endnotes, comments,
  list numbers, charts, images.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from ingest.limits import DEFAULT_LIMITS, Limits
from ingest.loaders.docx_package import Package, W, find, open_docx, to_int, val
from ingest.loaders.rows import bounded
from ingest.types import CELL_SEPARATOR, Section

P, TBL, TR, TC = W + "p", W + "tbl", W + "tr", W + "tc"
_M = "{http://schemas.openxmlformats.org/officeDocument/2006/math}"
_TEXT_TAGS = {W + "t": None, _M + "t": None, W + "tab": " ", W + "ptab": " ", W + "br": "\n", W + "cr": "\n",
              W + "noBreakHyphen": "-"}
# Subtrees whose text is not part of what the reader sees, or is a duplicate of something read elsewhere.
_SKIP = {"{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback",
         W + "del", W + "moveFrom", W + "pPr", W + "rPr", W + "instrText"}
_TXBX = W + "txbxContent"
_TOC = "Table of Contents"
_HEADING_NAME = re.compile(r"^(?:heading|标题)\s*([1-9])$", re.IGNORECASE)
_CAPTION_STYLE = re.compile(r"^(?:caption|题注)$", re.IGNORECASE)
_CAPTION_TEXT = re.compile(r"^(?:表|续表|Table|Tab\.)\s*[0-9一二三四五六七八九十IVX]", re.IGNORECASE)
_CAPTION_CHARS = 120
_SECTION_CHARS = 8000  # flush a long run of paragraphs so one section never grows without bound


def load_docx(path: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[Section]:
    """Sections of a .docx in body order, then its distinct header and footer lines."""
    package = open_docx(path, limits)
    walker = _Walker(package, limits)
    yield from walker.blocks(package.body)
    yield from walker.flush()
    seen: set[str] = set()
    for kind, root in package.margins:
        for section in [*walker.blocks(root), *walker.flush()]:
            if section.text not in seen:
                seen.add(section.text)
                yield replace(section, heading=kind)


class _Walker:
    """Turns block-level XML into sections, carrying the heading path and the table count across calls."""

    def __init__(self, package: Package, limits: Limits) -> None:
        self._styles, self._default_style = package.styles, package.default_style
        self._limits = limits
        self._path: list[tuple[int, str]] = []  # (level, text) of the open headings
        self._buffer: list[str] = []
        self._tables = 0
        self._caption: str | None = None  # the last paragraph, when it reads as a table caption

    @property
    def heading(self) -> str | None:
        return " > ".join(text for _, text in self._path) or None

    def blocks(self, container: Any) -> Iterator[Section]:
        for el in _children(container):
            if el.tag == P:
                yield from self._paragraph(el)
            elif el.tag == TBL:
                yield from self._table(el)

    def flush(self) -> Iterator[Section]:
        if self._buffer:
            yield Section(text="\n".join(self._buffer), heading=self.heading)
            self._buffer = []

    def _paragraph(self, p: Any) -> Iterator[Section]:
        boxes: list[Any] = []
        text = _text(p, boxes)
        level = self._heading_level(p) if text else None
        if text:  # an empty paragraph between a caption and its table changes nothing
            self._caption = text if level is None and self._is_caption(p, text) else None
        if level is not None:
            yield from self.flush()
            while self._path and self._path[-1][0] >= level:
                self._path.pop()
            self._path.append((level, text))
        if text:
            self._buffer.append(text)
            if sum(len(t) for t in self._buffer) > _SECTION_CHARS:
                yield from self.flush()
        for box in boxes:  # a text box reads as paragraphs after the one that anchors it
            yield from self.blocks(box)

    def _table(self, tbl: Any) -> Iterator[Section]:
        above: dict[int, str] = {}  # grid column -> text of the vertically merged cell that covers it
        rows = list(bounded(((n, _row_cells(tr, above)) for n, tr in enumerate(_children_tagged(tbl, TR), 1)),
                            f"table {self._tables + 1}", self._limits))
        if all(sum(1 for c in cells if c) <= 1 for _, cells in rows):
            # Layout table (a frame around text): its cells are paragraphs, not records.
            self._buffer.extend(c for _, cells in rows for c in cells if c)
            return
        caption = self._buffer.pop() if self._caption and self._buffer[-1:] == [self._caption] else None
        self._caption = None
        yield from self.flush()
        self._tables += 1
        name, heading = f"table {self._tables}", self.heading
        lines = [(n, CELL_SEPARATOR.join(cells)) for n, cells in rows if any(cells)]
        if not lines:
            return
        header_row, header = lines[0]
        header = f"{caption}\n{header}" if caption else header
        if len(lines) == 1:
            yield Section(text=header, sheet=name, rows=(header_row, header_row), heading=heading)
        for n, line in lines[1:]:
            yield Section(text=line, sheet=name, rows=(n, n), heading=heading, header=header)

    def _is_caption(self, p: Any, text: str) -> bool:
        if len(text) > _CAPTION_CHARS:
            return False
        style = self._styles.get(val(find(p, "pPr", "pStyle")) or "")
        return bool(style and _CAPTION_STYLE.match(style.name)) or bool(_CAPTION_TEXT.match(text))

    def _heading_level(self, p: Any) -> int | None:
        outline = to_int(val(find(p, "pPr", "outlineLvl")), -1)  # set on the paragraph itself, it wins
        if outline >= 0:
            return outline + 1 if outline < 9 else None
        return self._style_level(val(find(p, "pPr", "pStyle")) or self._default_style)

    def _style_level(self, style_id: str | None) -> int | None:
        for _ in range(20):  # basedOn chains are short; the bound guards against a cycle
            style = self._styles.get(style_id or "")
            if style is None:  # no styles part, or a dangling id: "Heading1" still says what it is
                match = _HEADING_NAME.match(re.sub(r"(\D)(\d)$", r"\1 \2", style_id or ""))
                return int(match.group(1)) if match else None
            if match := _HEADING_NAME.match(style.name):
                return int(match.group(1))
            if style.outline is not None:
                return style.outline + 1 if style.outline < 9 else None
            style_id = style.based_on
        return None


def _children(el: Any) -> Iterator[Any]:
    """Block children, looking through content controls and custom XML, which only wrap real content."""
    for child in el:
        # A table of contents only repeats the headings, with page numbers; it would crowd search results.
        if child.tag == W + "sdt" and val(find(child, "sdtPr", "docPartObj", "docPartGallery")) != _TOC:
            content = child.find(W + "sdtContent")
            yield from _children(content if content is not None else [])
        elif child.tag in (W + "customXml", W + "sdtContent"):
            yield from _children(child)
        elif child.tag != W + "sdt":
            yield child


def _children_tagged(el: Any, tag: str) -> list[Any]:
    return [child for child in _children(el) if child.tag == tag]


def _row_cells(tr: Any, above: dict[int, str]) -> list[str]:
    """Cell texts of a row. A vertical-merge continuation takes the merge's text (Word hides the cell's own)."""
    cells: list[str] = []
    column = to_int(val(find(tr, "trPr", "gridBefore")), 0)
    for tc in _children_tagged(tr, TC):
        start, column = column, column + to_int(val(find(tc, "tcPr", "gridSpan")), 1)
        vmerge = find(tc, "tcPr", "vMerge")
        if val(find(tc, "tcPr", "hMerge")) == "continue":
            continue  # legacy horizontal merge: the first cell already holds the text
        if vmerge is not None and val(vmerge) != "restart":
            cells.append(above.get(start, ""))
        else:
            cells.append(_cell_text(tc))
            above[start] = cells[-1]
    return cells


def _cell_text(tc: Any) -> str:
    parts: list[str] = []
    for el in _children(tc):
        if el.tag == P:
            boxes: list[Any] = []
            parts.append(_text(el, boxes))
            parts.extend(_cell_text(box) for box in boxes)
        elif el.tag == TBL:  # nested table: keep its text, one "; "-separated row after another
            above: dict[int, str] = {}
            parts.append("; ".join(", ".join(c for c in _row_cells(tr, above) if c) for tr in _children_tagged(el, TR)))
    return " ".join(p for p in parts if p).replace("\n", " ")


def _text(el: Any, boxes: list[Any]) -> str:
    """Visible text of a paragraph; text boxes found inside are appended to `boxes` instead."""
    parts: list[str] = []

    def visit(node: Any) -> None:
        for child in node:
            tag = child.tag
            if tag in _TEXT_TAGS:
                parts.append(_TEXT_TAGS[tag] or child.text or "")
            elif tag == _TXBX:
                boxes.append(child)
            elif isinstance(tag, str) and tag not in _SKIP:  # comments and PIs have non-string tags
                visit(child)

    visit(el)
    return re.sub(r" ?\n ?", "\n", re.sub(r"[^\S\n]+", " ", "".join(parts))).strip()


