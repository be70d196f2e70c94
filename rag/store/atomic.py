"""Atomic file replacement: a reader sees the old file or the new one, never half of either.

The recipe is the POSIX one: write a temp file in the same directory (so the rename cannot cross file
systems), flush and fsync it, `os.replace` it over the target, then fsync the directory so the rename itself
survives a power cut. It costs two fsyncs per file; the store writes few, large files, so that is cheap.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], None]) -> None:
    """Call `write(temp_path)` to produce the content, then move it over `path` durably.

    Taking a callback lets libraries that only write to a path (faiss.write_index) use the same recipe.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        # mkstemp makes the file private (0600); keep the target's mode so another user's UI can still read it.
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o644)
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)  # the data must be on disk before the rename makes it visible
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()

    atomic_write(path, write)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
