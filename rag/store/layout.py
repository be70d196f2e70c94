"""Which files of a knowledge-base directory are live, and how a whole new KB replaces them in one step.

A KB directory holds `config.json`, `write.lock`, and its data: `kb.sqlite` (with `-wal`, `-shm`),
`index.faiss` and `index.meta.json`. The data sit in the directory itself, or in a data subdirectory that
`config.json` names (`data_dir`). A rebuild or an import writes a complete new KB into a fresh subdirectory,
then commits it by replacing `config.json`, one atomic rename: a crash or a competitor at any moment finds
either the old KB or the new one. What the old config named becomes garbage, removed under the write lock.

Trade-offs:
- Replacing kb.sqlite itself under its name would be simpler and is unsafe: a reader elsewhere that still has
  the old database open in WAL mode deletes `kb.sqlite-wal` *by name* when it closes, which would then be the
  new database's log. A new name for every new database keeps the old readers' files apart.
- Old readers go on reading the unlinked old files until their next `_sync` notices that config.json changed
  (one `stat` per search) and reopens.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from rag.store.atomic import fsync_dir
from rag.store.kbdb import CONFIG_FILE, DB_FILE
from rag.store.vectors import INDEX_FILE, META_FILE

log = logging.getLogger(__name__)

DATA_PREFIX = "data-"
DB_NAMES = (DB_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm")
INDEX_NAMES = (INDEX_FILE, META_FILE)


def has_config(kb: Path) -> bool:
    """What marks a directory as a knowledge base: its config.json, even before its database exists."""
    return (kb / CONFIG_FILE).is_file()


def new_data_dir(kb: Path) -> Path:
    """A fresh, empty subdirectory for a KB being built; garbage until config.json names it."""
    path = kb / f"{DATA_PREFIX}{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{os.urandom(3).hex()}"
    path.mkdir()
    fsync_dir(kb)
    return path


def stamp(config_file: Path) -> tuple[int, int] | None:
    """What changes whenever config.json is replaced: a reader compares it before each search."""
    try:
        st = config_file.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def collect_garbage(kb: Path, data_dir: str) -> list[str]:
    """Remove data that the current config does not name: the old KB after a swap, and a half-built new one
    after a crash. Call only while holding the write lock, so no rebuild in progress is mistaken for garbage."""
    removed = []
    live = (kb / data_dir).resolve()
    for entry in kb.iterdir():
        if entry.name.startswith(DATA_PREFIX) and entry.is_dir() and entry.resolve() != live:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    if live != kb.resolve():
        for name in DB_NAMES + INDEX_NAMES:
            if (kb / name).exists():
                (kb / name).unlink()
                removed.append(name)
    if removed:
        log.info("removed data no longer in use from %s: %s", kb, ", ".join(removed))
    return removed
