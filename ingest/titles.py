"""A document's own title, when it states one: the name users call it by ("按手册…", "the RAG guide says…").

Retrieval uses it to notice a question that names a document (`rag.retrieve.naming`). Best effort by design: a file
whose title cannot be read simply has none, and never fails its ingest over it. Where the title comes from:
- .docx/.xlsx/.xlsm: the `dc:title` of docProps/core.xml (File > Properties > Title), read straight from the
  zip, so the document body is not parsed a second time;
- .pdf: the /Title of the document information dictionary;
- .md: a `title:` line in front matter, else the first `# ` heading;
- .txt: the first non-empty line, when it is short enough to be a title.
CSV and legacy .xls have no title. The file name is used alongside by `rag.retrieve.naming`, so it is not repeated here.
"""

from __future__ import annotations

import html
import re
import zipfile
from pathlib import Path

MAX_TITLE = 200  # characters kept; a "title" longer than this is a paragraph that landed in the field
TXT_TITLE_MAX = 40  # a first line of a .txt up to this long reads as its title
_HEAD_CHARS = 16_384  # how much of a text file is read to find its title
_CORE_XML_BYTES = 65_536

# The prefix is "dc" by convention only, and openpyxl declares the namespace on the element itself.
_DC_TITLE = re.compile(r"<(\w+:)?title\b[^>]*(?<!/)>(.*?)</\1?title>", re.S)
_FRONT_MATTER_TITLE = re.compile(r"^title:\s*[\"']?(.+?)[\"']?\s*$")


def document_title(path: Path) -> str:
    """The title `path` declares, or "" when it declares none or cannot be read."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".docx", ".xlsx", ".xlsm"):
            title = _ooxml_title(path)
        elif suffix == ".pdf":
            title = _pdf_title(path)
        elif suffix in (".md", ".markdown"):
            title = _markdown_title(_head_lines(path))
        elif suffix == ".txt":
            title = _text_title(_head_lines(path))
        else:
            title = ""
    except Exception:  # a title is a hint; the loader reports what is really wrong with the file
        return ""
    return " ".join(title.split())[:MAX_TITLE]


def _ooxml_title(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        try:
            with archive.open("docProps/core.xml") as fh:
                xml = fh.read(_CORE_XML_BYTES).decode("utf-8", errors="replace")
        except KeyError:
            return ""
    match = _DC_TITLE.search(xml)
    return html.unescape(match.group(2)) if match else ""


def _pdf_title(path: Path) -> str:
    import pypdf

    from ingest.loaders.pdf import pdf_library_logs

    with pdf_library_logs():  # pypdf's repair notes would reach stderr; the loader reports what matters
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            return ""
        title = reader.metadata.title if reader.metadata else None
    return str(title) if title else ""


def _head_lines(path: Path) -> list[str]:
    from ingest.loaders.encoding import open_text

    stream, _ = open_text(path)
    with stream:
        return stream.read(_HEAD_CHARS).splitlines()


def _markdown_title(lines: list[str]) -> str:
    if lines and lines[0].strip() == "---":
        for line in lines[1:]:
            if line.strip() in ("---", "..."):
                break
            if match := _FRONT_MATTER_TITLE.match(line.strip()):
                return match.group(1)
    for line in lines:
        if line.startswith("# "):
            return line[2:].strip().rstrip("#").strip()
    return ""


def _text_title(lines: list[str]) -> str:
    first = next((line.strip() for line in lines if line.strip()), "")
    # A first line of markup ("<?xml …") is a file that is not really plain text, not a title.
    return first if len(first) <= TXT_TITLE_MAX and not first.startswith("<") else ""
