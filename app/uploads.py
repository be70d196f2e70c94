"""Uploaded files onto disk: `<kb>/uploads/<clean name>`, size-checked, never outside that folder.

The browser sends whatever name it likes, so only a cleaned base name is used (see `state.clean_name`). The
folder is inside the KB directory, which the indexer skips when it walks folders; uploads are ingested by
path, one file at a time. Uploading a file with the same name again replaces the copy, and the next ingest
sees the new content hash and replaces the document's chunks.

A shared UI would otherwise let one visitor fill the disk 200 MB at a time, so each browser session has a
`Quota`: a number of files and a number of MB, spent as files are stored. It bounds what a session stores,
not what Streamlit receives (it holds each upload in memory up to max_upload_mb before the page sees it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from app.state import clean_name

ALLOWED_TYPES = ("docx", "pdf", "xlsx", "xls", "csv", "md", "txt")
UPLOADS = "uploads"
MB = 1024 * 1024


class Upload(Protocol):
    name: str
    size: int

    def getvalue(self) -> bytes: ...


@dataclass
class Quota:
    """What one browser session may still store (settings max_session_uploads and max_session_upload_mb)."""

    max_files: int
    max_mb: int
    files: int = 0  # stored so far
    bytes: int = 0

    def refusal(self, size: int) -> str | None:
        """Why a file of `size` bytes is over the bound, or None when it fits."""
        if self.files >= self.max_files:
            return (f"over this session's limit of {self.max_files} uploaded files (setting "
                    "max_session_uploads); ask whoever runs the UI to raise it")
        left = self.max_mb * MB - self.bytes
        if size > left:
            return (f"over this session's limit of {self.max_mb} MB of uploads, {max(left, 0) / MB:.1f} MB "
                    "left (setting max_session_upload_mb); ask whoever runs the UI to raise it")
        return None

    def spend(self, size: int) -> None:
        self.files += 1
        self.bytes += size


def save_uploads(files: list[Upload], folder: Path, max_mb: int,
                 quota: Quota | None = None) -> tuple[list[Path], list[tuple[str, str]]]:
    """Write the acceptable files, spending `quota`; return their paths and (name, reason) for the rejected."""
    saved: list[Path] = []
    rejected: list[tuple[str, str]] = []
    for f in files:
        name = clean_name(f.name)
        suffix = name.rpartition(".")[2].lower() if "." in name else ""
        if suffix not in ALLOWED_TYPES:
            rejected.append((f.name, f"not a supported type; use {', '.join(ALLOWED_TYPES)}"))
            continue
        if f.size > max_mb * MB:
            rejected.append((f.name, f"larger than the {max_mb} MB limit (setting max_upload_mb)"))
            continue
        over = quota.refusal(f.size) if quota else None
        if over:
            rejected.append((f.name, over))
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
        if quota:
            quota.spend(f.size)
        if target not in saved:  # two uploads that clean to one name: the last one wins, ingested once
            saved.append(target)
    return saved, rejected
