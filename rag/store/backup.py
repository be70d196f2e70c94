"""`rag export KB FILE` and `rag import FILE KB`: a whole knowledge base as one archive, restored atomically.

The archive is a gzipped tar: `manifest.json` first (format, counts, and each member's size and SHA-256),
then `config.json`, `kb.sqlite` and the files uploaded through the web UI (`uploads/`). index.faiss is left
out: it is rebuilt from the vectors in kb.sqlite when the imported KB is first opened.

Trade-offs:
- The database is copied with SQLite's online backup, so an export is a consistent snapshot while readers,
  and even a writer, go on. Export takes no lock.
- An import is checked completely (checksums, `PRAGMA integrity_check`, the schema) in a fresh data
  directory before anything is replaced, then committed like a rebuild (`Store.install`): killed at any
  moment, the KB is the old one or the imported one. Replacing an existing KB needs `replace=True`.
- Document sources are absolute paths and are kept as they were exported. Uploaded files are restored to
  the KB's uploads/ folder; other files stay where they were on the exporting machine.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from dataclasses import asdict, dataclass
from dataclasses import replace as replace_field
from datetime import datetime, timezone
from pathlib import Path

from rag.errors import ConfigError, KBNotFound, RagError
from rag.store import kbdb, layout
from rag.store.atomic import atomic_write, fsync_dir
from rag.store.indexer import file_sha256
from rag.store.kbdb import CONFIG_FILE, DB_FILE
from rag.store.lock import Waiting, WriteLock
from rag.store.store import LOCK_FILE, Store

FORMAT = "rag-kb-export"
VERSION = 1
MANIFEST = "manifest.json"
UPLOADS = "uploads"


class BadArchive(RagError):
    """The file is not a complete, unaltered knowledge-base export."""


@dataclass
class Manifest:
    format: str
    version: int
    created_at: str
    source_kb: str
    documents: int
    chunks: int
    files: dict[str, dict[str, int | str]]  # name -> {"bytes": n, "sha256": hex}


def export_kb(kb: Path, archive: Path) -> Manifest:
    """Write `archive` (atomically) from the KB at `kb`."""
    if not Store.exists(kb):
        raise KBNotFound(f"no knowledge base at {kb} to export")
    config = kbdb.read_config(kb)
    with tempfile.TemporaryDirectory(prefix="rag-export-") as tmp:
        snapshot = Path(tmp) / DB_FILE
        source = sqlite3.connect(f"{(kb / config.data_dir / DB_FILE).resolve().as_uri()}?mode=ro", uri=True)
        target = sqlite3.connect(snapshot)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            documents = target.execute("SELECT count(*) FROM documents").fetchone()[0]
            chunks = target.execute("SELECT count(*) FROM chunks").fetchone()[0]
        finally:
            target.close()
            source.close()
        config_bytes = kbdb.config_text(replace_field(config, data_dir=".")).encode()
        members: list[tuple[str, Path | bytes]] = [(CONFIG_FILE, config_bytes), (DB_FILE, snapshot)]
        uploads = kb / UPLOADS
        if uploads.is_dir():
            members += [(f"{UPLOADS}/{p.name}", p) for p in sorted(uploads.iterdir()) if p.is_file()]
        files = {name: {"bytes": _size(content), "sha256": _sha256(content)} for name, content in members}
        manifest = Manifest(FORMAT, VERSION, datetime.now(timezone.utc).isoformat(timespec="seconds"), str(kb),
                            documents, chunks, files)

        def write(tmp_path: str) -> None:
            with tarfile.open(tmp_path, "w:gz") as tar:
                _add(tar, MANIFEST, json.dumps(asdict(manifest), indent=2, ensure_ascii=False).encode())
                for name, content in members:
                    _add(tar, name, content)

        atomic_write(archive, write)
    return manifest


def import_kb(archive: Path, kb: Path, *, replace: bool = False, lock_timeout: float = 600.0,
              on_wait: Waiting | None = None) -> Manifest:
    """Restore `archive` into `kb`, checked in full before it replaces anything."""
    doing = "importing a knowledge base"
    if Store.exists(kb):
        if not replace:
            raise ConfigError(f"a knowledge base already exists at {kb}; importing would replace it. Export it "
                              f"first if you want to keep it (`rag export {kb} FILE`), then import with --replace.")
        current = Store.open(kb, lock_timeout=lock_timeout)
        current.on_wait = on_wait
        try:
            with current.writer(doing=doing):
                built, manifest = _unpack(archive, kb)
                current.install(built)
        finally:
            current.close()
    else:
        kb.mkdir(parents=True, exist_ok=True)
        lock = WriteLock(kb / LOCK_FILE)
        lock.acquire(lock_timeout, doing, on_wait)
        try:
            if Store.exists(kb):
                raise ConfigError(f"a knowledge base was created at {kb} while this import waited; import again "
                                  f"with --replace to replace it")
            layout.collect_garbage(kb, ".")  # a crashed import's half-written directory
            built, manifest = _unpack(archive, kb)
            built.flush()
            config = replace_field(built.config, data_dir=built.path.name)
            built.close()
            kbdb.write_config(kb, config)  # the commit
            layout.collect_garbage(kb, config.data_dir)
        finally:
            lock.release()
    data = kb / kbdb.read_config(kb).data_dir
    for name in manifest.files:  # after the commit: uploads/ is not part of the data directory
        if name.startswith(f"{UPLOADS}/"):
            (kb / UPLOADS).mkdir(exist_ok=True)
            os.replace(data / name, kb / UPLOADS / Path(name).name)  # extracted and checked already
            fsync_dir(kb / UPLOADS)
    return manifest


def _unpack(archive: Path, kb: Path) -> tuple[Store, Manifest]:
    """The archive as a checked, complete KB in a new data directory of `kb` (garbage until committed)."""
    data = layout.new_data_dir(kb)
    try:
        manifest = _extract(archive, data)
        return Store.open(data), manifest  # reads the config and builds index.faiss from the vectors
    except BaseException:
        shutil.rmtree(data, ignore_errors=True)
        raise


def _extract(archive: Path, target: Path) -> Manifest:
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            first = members[0] if members else None
            if first is None or first.name != MANIFEST:
                raise BadArchive(f"{archive} is not a knowledge-base export (it does not start with {MANIFEST})")
            manifest = Manifest(**json.loads(tar.extractfile(first).read()))
            if manifest.format != FORMAT or manifest.version > VERSION:
                raise BadArchive(f"{archive} is a {manifest.format} version {manifest.version} file; this "
                                 f"program reads {FORMAT} up to version {VERSION}")
            seen = set()
            for member in members[1:]:
                expected = manifest.files.get(member.name)
                if expected is None or not member.isfile() or member.name in seen:
                    raise BadArchive(f"{archive} holds {member.name!r}, which its manifest does not list")
                seen.add(member.name)
                tar.extract(member, target, filter="data")
                got = target / member.name
                if got.stat().st_size != expected["bytes"] or _sha256(got) != expected["sha256"]:
                    raise BadArchive(f"{member.name} in {archive} does not match its checksum: the file is "
                                     f"damaged or was altered")
            missing = set(manifest.files) - seen
            if missing:
                raise BadArchive(f"{archive} is incomplete: {', '.join(sorted(missing))} missing")
    except (tarfile.TarError, OSError, EOFError, ValueError, TypeError, KeyError) as exc:
        raise BadArchive(f"cannot read {archive} as a knowledge-base export: {exc}") from exc
    db = sqlite3.connect(target / DB_FILE)
    try:
        verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        verdict = str(exc)
    finally:
        db.close()
    if verdict != "ok":
        raise BadArchive(f"the database in {archive} is damaged: {verdict}")
    return manifest


def _add(tar: tarfile.TarFile, name: str, content: Path | bytes) -> None:
    if isinstance(content, bytes):
        info = tarfile.TarInfo(name)
        info.size = len(content)
        info.mtime = int(datetime.now(timezone.utc).timestamp())
        tar.addfile(info, io.BytesIO(content))
    else:
        tar.add(content, arcname=name, recursive=False)


def _size(content: Path | bytes) -> int:
    return len(content) if isinstance(content, bytes) else content.stat().st_size


def _sha256(content: Path | bytes) -> str:
    return hashlib.sha256(content).hexdigest() if isinstance(content, bytes) else file_sha256(content)
