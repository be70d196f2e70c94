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
- Headers and footers follow the body, each distinct text once. Strict Open XML is read by mapping its namespaces
  to the transitional ones, with a warning.
- Equations come out as bare characters; a table of contents is skipped. Not read: footnotes, endnotes, comments,
  list numbers, charts, images.
"""

from __future__ import annotations

import posixpath
import re
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ingest.loaders import LoaderWarning
from ingest.limits import DEFAULT_LIMITS, Limits
from ingest.types import CELL_SEPARATOR, Section
from rag.errors import LoaderError

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
P, TBL, TR, TC, BODY = _W + "p", _W + "tbl", _W + "tr", _W + "tc", _W + "body"
_M = "{http://schemas.openxmlformats.org/officeDocument/2006/math}"
_TEXT_TAGS = {_W + "t": None, _M + "t": None, _W + "tab": " ", _W + "ptab": " ", _W + "br": "\n", _W + "cr": "\n",
              _W + "noBreakHyphen": "-"}
# Subtrees whose text is not part of what the reader sees, or is a duplicate of something read elsewhere.
_SKIP = {"{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback",
         _W + "del", _W + "moveFrom", _W + "pPr", _W + "rPr", _W + "instrText"}
_TXBX = _W + "txbxContent"
_VAL = _W + "val"
_TOC = "Table of Contents"
_HEADING_NAME = re.compile(r"^(?:heading|标题)\s*([1-9])$", re.IGNORECASE)
_CAPTION_STYLE = re.compile(r"^(?:caption|题注)$", re.IGNORECASE)
_CAPTION_TEXT = re.compile(r"^(?:表|续表|Table|Tab\.)\s*[0-9一二三四五六七八九十IVX]", re.IGNORECASE)
_CAPTION_CHARS = 120
_SECTION_CHARS = 8000  # flush a long run of paragraphs so one section never grows without bound

# ISO 29500 Strict spells ".../wordprocessingml/2006/main" as "http://purl.oclc.org/ooxml/wordprocessingml/main".
_STRICT_NS = re.compile(rb"http://purl\.oclc\.org/ooxml/(\w+)/(\w+)")


@dataclass(frozen=True)
class _Style:
    name: str
    outline: int | None  # 0-based outline level the style sets; 9 means body text
    based_on: str | None


@dataclass
class _Package:
    body: Any  # the w:body element
    styles: dict[str, _Style]
    default_style: str | None
    margins: list[tuple[str, Any]]  # ("header" | "footer", w:hdr or w:ftr element)


def load_docx(path: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[Section]:
    """Sections of a .docx in body order, then its distinct header and footer lines."""
    package = _open(path)
    walker = _Walker(package)
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

    def __init__(self, package: _Package) -> None:
        self._styles, self._default_style = package.styles, package.default_style
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
        rows = [(n, _row_cells(tr, above)) for n, tr in enumerate(_children_tagged(tbl, TR), 1)]
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
        header_row, header = lines[0]
        header = f"{caption}\n{header}" if caption else header
        if len(lines) == 1:
            yield Section(text=header, sheet=name, rows=(header_row, header_row), heading=heading)
        for n, line in lines[1:]:
            yield Section(text=line, sheet=name, rows=(n, n), heading=heading, header=header)

    def _is_caption(self, p: Any, text: str) -> bool:
        if len(text) > _CAPTION_CHARS:
            return False
        style = self._styles.get(_val(_find(p, "pPr", "pStyle")) or "")
        return bool(style and _CAPTION_STYLE.match(style.name)) or bool(_CAPTION_TEXT.match(text))

    def _heading_level(self, p: Any) -> int | None:
        outline = _int(_val(_find(p, "pPr", "outlineLvl")), -1)  # set on the paragraph itself, it wins
        if outline >= 0:
            return outline + 1 if outline < 9 else None
        return self._style_level(_val(_find(p, "pPr", "pStyle")) or self._default_style)

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
        if child.tag == _W + "sdt" and _val(_find(child, "sdtPr", "docPartObj", "docPartGallery")) != _TOC:
            content = child.find(_W + "sdtContent")
            yield from _children(content if content is not None else [])
        elif child.tag in (_W + "customXml", _W + "sdtContent"):
            yield from _children(child)
        elif child.tag != _W + "sdt":
            yield child


def _children_tagged(el: Any, tag: str) -> list[Any]:
    return [child for child in _children(el) if child.tag == tag]


def _row_cells(tr: Any, above: dict[int, str]) -> list[str]:
    """Cell texts of a row. A vertical-merge continuation takes the merge's text (Word hides the cell's own)."""
    cells: list[str] = []
    column = _int(_val(_find(tr, "trPr", "gridBefore")), 0)
    for tc in _children_tagged(tr, TC):
        start, column = column, column + _int(_val(_find(tc, "tcPr", "gridSpan")), 1)
        vmerge = _find(tc, "tcPr", "vMerge")
        if _val(_find(tc, "tcPr", "hMerge")) == "continue":
            continue  # legacy horizontal merge: the first cell already holds the text
        if vmerge is not None and _val(vmerge) != "restart":
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


def _find(el: Any, *tags: str) -> Any:
    for tag in tags:
        el = el.find(_W + tag) if el is not None else None
    return el


def _val(el: Any) -> str | None:
    return el.get(_VAL) if el is not None else None


def _int(value: str | None, default: int) -> int:
    return int(value) if value and value.isdigit() else default


def _open(path: Path) -> _Package:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())  # a part a relationship points at may be missing: skip it, as Word does
            main = next((t for kind, t in _rels(zf, names, "") if kind == "officeDocument"), None)
            if main is None:
                raise LoaderError("cannot read .docx: it has no main document part; re-save it from Word as .docx")
            raw = zf.read(main)
            rels = _rels(zf, names, main)
            styles_part = next((t for kind, t in rels if kind == "styles"), None)
            styles, default = _read_styles(_parse(zf.read(styles_part))) if styles_part else ({}, None)
            parts = sorted((kind == "footer", t) for kind, t in rels if kind in ("header", "footer"))
            margins = [("footer" if footer else "header", _parse(zf.read(t))) for footer, t in parts]
            body = _parse(raw).find(BODY)
    except zipfile.BadZipFile as exc:
        raise LoaderError("cannot read .docx: not a zip package; if it is an old .doc, save it as .docx") from exc
    except (KeyError, OSError, ValueError, SyntaxError) as exc:  # lxml's XMLSyntaxError is a SyntaxError
        raise LoaderError(f"cannot read .docx: {exc}; the file may be damaged, re-save it from Word") from exc
    if body is None:
        raise LoaderError("cannot read .docx: the document has no body; re-save it from Word")
    if _STRICT_NS.search(raw[:4000]):  # the namespace declarations sit at the top of the root element
        # Recovered rather than refused: python-docx, and tools built on it, reject this format outright.
        message = f"Strict Open XML document: recovered by mapping its namespaces to the transitional ones ({main})"
        warnings.warn(LoaderWarning(message), stacklevel=3)
    return _Package(body, styles, default, margins)


def _rels(zf: zipfile.ZipFile, names: set[str], source: str) -> list[tuple[str, str]]:
    """(type, zip member) of the internal relationships of `source` ("" for the package) whose parts exist."""
    folder, name = posixpath.split(source)
    rels_name = posixpath.join(folder, "_rels", f"{name}.rels")
    out = []
    for rel in _parse(zf.read(rels_name)) if rels_name in names else []:
        target = unquote(rel.get("Target") or "")
        if rel.get("TargetMode") == "External" or not target:
            continue
        member = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
        # Strict and transitional types differ only in their prefix; the last segment names the part.
        if member in names:
            out.append(((rel.get("Type") or "").rsplit("/", 1)[-1], member))
    return out


def _parse(data: bytes) -> Any:
    from docx.oxml.parser import parse_xml  # python-docx's parser: entities are not resolved

    return parse_xml(_STRICT_NS.sub(rb"http://schemas.openxmlformats.org/\1/2006/\2", data))


def _read_styles(root: Any) -> tuple[dict[str, _Style], str | None]:
    styles: dict[str, _Style] = {}
    default = None
    for el in root.iter(_W + "style"):
        style_id = el.get(_W + "styleId")
        if style_id and el.get(_W + "type", "paragraph") == "paragraph":
            outline = _int(_val(_find(el, "pPr", "outlineLvl")), -1)
            name, based_on = _val(el.find(_W + "name")) or style_id, _val(el.find(_W + "basedOn"))
            styles[style_id] = _Style(name, outline if outline >= 0 else None, based_on)
            default = style_id if el.get(_W + "default") in ("1", "true", "on") else default
    return styles, default
