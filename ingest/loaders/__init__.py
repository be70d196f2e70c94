"""One loader per format: a plain function from a path to the document's sections, in order.

Loaders are generators so large files stream through in bounded memory. A recoverable problem (a page with
no text layer, a table that needed repair) is a `LoaderWarning` issued with `warnings.warn`; the worker
collects them into the ingest report. A file that cannot be read at all raises a `LoaderError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from ingest.errors import UnsupportedFormat
from ingest.limits import DEFAULT_LIMITS, Limits
from ingest.types import Section

Loader = Callable[[Path, Limits], Iterator[Section]]


def _registry() -> dict[str, Loader]:
    # Imported here so that listing the supported suffixes does not import pypdf, docx and openpyxl.
    from ingest.loaders.docx import load_docx
    from ingest.loaders.pdf import load_pdf
    from ingest.loaders.sheets import load_csv, load_xls, load_xlsx
    from ingest.loaders.text import load_markdown, load_text

    return {
        ".pdf": load_pdf,
        ".docx": load_docx,
        ".xlsx": load_xlsx,
        ".xlsm": load_xlsx,
        ".xls": load_xls,
        ".csv": load_csv,
        ".md": load_markdown,
        ".markdown": load_markdown,
        ".txt": load_text,
    }


SUPPORTED_SUFFIXES = (".pdf", ".docx", ".xlsx", ".xlsm", ".xls", ".csv", ".md", ".markdown", ".txt")


def kind_of(path: Path) -> str:
    return path.suffix.lower().lstrip(".")


def load(path: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[Section]:
    """Sections of `path` within `limits`, or `UnsupportedFormat` for a suffix no loader handles."""
    loader = _registry().get(path.suffix.lower())
    if loader is None:
        raise UnsupportedFormat(
            f"unsupported format {path.suffix or '(no suffix)'}; supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    return loader(path, limits)
