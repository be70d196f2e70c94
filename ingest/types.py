"""The data that moves through ingestion: a located `Section` from a loader, a `Chunk` from the chunker."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

CELL_SEPARATOR = " | "  # between the cells of a table row; the prompt splits rows on it again


@dataclass(frozen=True)
class Section:
    """A piece of a document's text together with where it came from.

    Loaders emit sections in document order. A table row is its own section with `header` set, so the
    chunker can pack consecutive rows and repeat the header at the top of every chunk.
    """

    text: str
    page: int | None = None  # 1-based PDF page
    sheet: str | None = None  # spreadsheet sheet name (or the table's name for a .docx table / .csv)
    rows: tuple[int, int] | None = None  # 1-based row numbers as the user sees them, inclusive
    heading: str | None = None  # heading path, "Chapter > Section"
    header: str | None = None  # for table rows: the header line to repeat in each chunk


@dataclass(frozen=True)
class Chunk:
    """A retrievable unit: text plus its locator and character offsets inside its section."""

    id: int  # 63-bit hash of source and text: also the FAISS vector id
    source: str
    text: str
    page: int | None = None
    sheet: str | None = None
    rows: tuple[int, int] | None = None
    heading: str | None = None
    start: int = 0  # character offsets of the chunk's body inside its section's text
    end: int = 0


def chunk_id(source: str, text: str) -> int:
    """A stable id for a chunk, so unchanged content keeps its vector and is never embedded twice."""
    digest = hashlib.sha256(f"{source}\0{text}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF


@dataclass
class LoadResult:
    """What a worker hands back for one file."""

    source: str
    kind: str  # "pdf", "docx", "xlsx", "csv", "md", "txt", ...
    title: str = ""  # the title the file declares, if any (`ingest.titles`)
    chunks: list[Chunk] = field(default_factory=list)
    pages: int | None = None  # page count for PDFs
    rows: int | None = None  # data rows for spreadsheets
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0  # how long the worker took to read it, out of the file's time budget
