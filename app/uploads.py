"""Uploaded files onto disk: `<kb>/uploads/<clean name>`, size-checked, never outside that folder.

The browser sends whatever name it likes, so only a cleaned base name is used (see `state.clean_name`). The
folder is inside the KB directory, which the indexer skips when it walks folders; uploads are ingested by
path, one file at a time. Uploading a file with the same name again replaces the copy, and the next ingest
sees the new content hash and replaces the document's chunks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from app.state import clean_name

ALLOWED_TYPES = ("docx", "pdf", "xlsx", "xls", "csv", "md", "txt")
UPLOADS = "uploads"


class Upload(Protocol):
    name: str
    size: int

    def getvalue(self) -> bytes: ...


def save_uploads(files: list[Upload], folder: Path, max_mb: int) -> tuple[list[Path], list[tuple[str, str]]]:
    """Write the acceptable files; return their paths and (name, reason) for the rejected ones."""
    saved: list[Path] = []
    rejected: list[tuple[str, str]] = []
    for f in files:
        name = clean_name(f.name)
        suffix = name.rpartition(".")[2].lower() if "." in name else ""
        if suffix not in ALLOWED_TYPES:
            rejected.append((f.name, f"not a supported type; use {', '.join(ALLOWED_TYPES)}"))
            continue
        if f.size > max_mb * 1024 * 1024:
            rejected.append((f.name, f"larger than the {max_mb} MB limit (setting max_upload_mb)"))
            continue
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        if target.resolve().parent != folder.resolve():  # belt and braces: clean_name leaves no separators
            rejected.append((f.name, "unusable file name"))
            continue
        tmp = target.with_name(f".{name}.part")  # hidden, so a folder ingest never picks up a half-written file
        try:
            tmp.write_bytes(f.getvalue())
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        if target not in saved:  # two uploads that clean to one name: the last one wins, ingested once
            saved.append(target)
    return saved, rejected
