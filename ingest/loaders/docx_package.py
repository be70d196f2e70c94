"""Opening a .docx: its zip package, within the zip bounds (`ingest.loaders.archive`), and the parts Word reads,
found through relationships as Word finds them: the main document, its styles, headers and footers.

Parts are parsed with python-docx's XML parser, which does not resolve entities. Strict Open XML is read by mapping
its namespaces to the transitional ones, with a warning. `ingest.loaders.docx` walks what this returns.
"""

from __future__ import annotations

import posixpath
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ingest.errors import LoaderError, LoaderWarning
from ingest.limits import Limits
from ingest.loaders.archive import open_package, read_part

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
BODY, VAL = W + "body", W + "val"

# ISO 29500 Strict spells ".../wordprocessingml/2006/main" as "http://purl.oclc.org/ooxml/wordprocessingml/main".
_STRICT_NS = re.compile(rb"http://purl\.oclc\.org/ooxml/(\w+)/(\w+)")


@dataclass(frozen=True)
class Style:
    name: str
    outline: int | None  # 0-based outline level the style sets; 9 means body text
    based_on: str | None


@dataclass
class Package:
    body: Any  # the w:body element
    styles: dict[str, Style]
    default_style: str | None
    margins: list[tuple[str, Any]]  # ("header" | "footer", w:hdr or w:ftr element)


def open_docx(path: Path, limits: Limits) -> Package:
    """The parsed parts of the .docx at `path`, or a `LoaderError` (`FileTooLarge` past a zip bound)."""
    not_a_zip = "cannot read .docx: not a zip package ({error}); if it is an old .doc, save it as .docx"
    try:
        with open_package(path, limits, not_a_zip) as zf:
            names = set(zf.namelist())  # a part a relationship points at may be missing: skip it, as Word does
            main = next((t for kind, t in _rels(zf, names, "") if kind == "officeDocument"), None)
            if main is None:
                raise LoaderError("cannot read .docx: it has no main document part; re-save it from Word as .docx")
            raw = read_part(zf, main)
            rels = _rels(zf, names, main)
            styles_part = next((t for kind, t in rels if kind == "styles"), None)
            styles, default = _read_styles(_parse(read_part(zf, styles_part))) if styles_part else ({}, None)
            parts = sorted((kind == "footer", t) for kind, t in rels if kind in ("header", "footer"))
            margins = [("footer" if footer else "header", _parse(read_part(zf, t))) for footer, t in parts]
            body = _parse(raw).find(BODY)
    except (KeyError, ValueError, SyntaxError) as exc:  # lxml's XMLSyntaxError is a SyntaxError
        raise LoaderError(f"cannot read .docx: {exc}; the file may be damaged, re-save it from Word") from exc
    if body is None:
        raise LoaderError("cannot read .docx: the document has no body; re-save it from Word")
    if _STRICT_NS.search(raw[:4000]):  # the namespace declarations sit at the top of the root element
        # Recovered rather than refused: python-docx, and tools built on it, reject this format outright.
        message = f"Strict Open XML document: recovered by mapping its namespaces to the transitional ones ({main})"
        warnings.warn(LoaderWarning(message), stacklevel=3)
    return Package(body, styles, default, margins)


def _rels(zf: zipfile.ZipFile, names: set[str], source: str) -> list[tuple[str, str]]:
    """(type, zip member) of the internal relationships of `source` ("" for the package) whose parts exist."""
    folder, name = posixpath.split(source)
    rels_name = posixpath.join(folder, "_rels", f"{name}.rels")
    out = []
    for rel in _parse(read_part(zf, rels_name)) if rels_name in names else []:
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


def _read_styles(root: Any) -> tuple[dict[str, Style], str | None]:
    styles: dict[str, Style] = {}
    default = None
    for el in root.iter(W + "style"):
        style_id = el.get(W + "styleId")
        if style_id and el.get(W + "type", "paragraph") == "paragraph":
            outline = to_int(val(find(el, "pPr", "outlineLvl")), -1)
            name, based_on = val(el.find(W + "name")) or style_id, val(el.find(W + "basedOn"))
            styles[style_id] = Style(name, outline if outline >= 0 else None, based_on)
            default = style_id if el.get(W + "default") in ("1", "true", "on") else default
    return styles, default


def find(el: Any, *tags: str) -> Any:
    for tag in tags:
        el = el.find(W + tag) if el is not None else None
    return el


def val(el: Any) -> str | None:
    return el.get(VAL) if el is not None else None


def to_int(value: str | None, default: int) -> int:
    return int(value) if value and value.isdigit() else default
