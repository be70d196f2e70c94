"""The SQLite side of the store: config file, schema, and plain functions that move rows in and out.

`rag.store.store.Store` decides when to call these (locking, transactions, keeping FAISS in step); this module only
knows tables. Keeping the SQL here keeps the store's control flow readable.

Trade-offs:
- Every chunk row keeps its float32 vector as a BLOB (`<f4` bytes, 1.5 KB at dim 384): the truth from which
  index.faiss can always be rebuilt, and the source of `known_vectors` so unchanged chunks are not re-embedded.
- `chunks.gen` stamps each row with the generation that wrote it and `removed` keeps tombstones, so another
  process can replay just the changes since the generation its FAISS index reflects.
- The keyword index is an FTS5 table holding our own tokens joined by spaces. The `ascii` tokenizer with
  `-_.` as token characters splits only there: "温度参数" and "top-p" stay one token each, where `unicode61`
  would split "top-p" and break Devanagari apart at combining marks.
- Queries against the keyword index are in `rag.store.fts`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path

import numpy as np

from ingest.types import Chunk
from rag.errors import ConfigError
from rag.store.atomic import atomic_write_text
from rag.types import Document

SCHEMA_VERSION = 1
CONFIG_FILE, DB_FILE = "config.json", "kb.sqlite"
_BATCH = 500  # ids per `IN (...)`: well under SQLite's variable limit on every version
_FETCH = 20_000  # vectors per fetchmany when loading the index: about 30 MB at dim 384

_SCHEMA = """
BEGIN;
CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta VALUES ('generation', 0), ('pruned', 0);
CREATE TABLE documents(source TEXT PRIMARY KEY, kind TEXT NOT NULL, sha256 TEXT NOT NULL,
    pages INTEGER, "rows" INTEGER, chunks INTEGER NOT NULL, added_at TEXT NOT NULL, title TEXT);
CREATE TABLE chunks(id INTEGER PRIMARY KEY, source TEXT NOT NULL, text TEXT NOT NULL,
    page INTEGER, sheet TEXT, row_start INTEGER, row_end INTEGER, heading TEXT, start INTEGER NOT NULL,
    "end" INTEGER NOT NULL, vector BLOB NOT NULL, gen INTEGER NOT NULL);
CREATE INDEX chunks_by_source ON chunks(source);
CREATE INDEX chunks_by_gen ON chunks(gen);
CREATE TABLE removed(id INTEGER NOT NULL, gen INTEGER NOT NULL);
CREATE INDEX removed_by_gen ON removed(gen);
CREATE VIRTUAL TABLE keywords USING fts5(tokens, tokenize="ascii tokenchars '-_.'");
COMMIT;
"""
_CHUNK_COLUMNS = 'id, source, text, page, sheet, row_start, row_end, heading, start, "end"'

ChunkRow = tuple  # the values of _CHUNK_COLUMNS plus the vector BLOB, in that order


@dataclass
class KBConfig:
    schema_version: int
    embedding_model: str
    dim: int
    chunk_size: int
    chunk_overlap: int
    created_at: str  # ISO 8601, UTC
    # From this many chunks on, the vector index is approximate (IVF-SQ8, see rag.store.vectors); 0: always exact.
    # Missing in config.json files written before it existed, which then get the default.
    ann_min_chunks: int = 200_000
    # Where kb.sqlite and index.faiss are, relative to the KB directory: "." until a rebuild or an import
    # puts a whole new KB in a subdirectory and commits it by rewriting this file (`rag.store.layout`).
    data_dir: str = "."


class NothingToDo(Exception):
    """Raised inside `transaction` to roll back a write that turned out to change nothing."""


def rebuild_hint(path: Path) -> str:
    return f"rebuild it: `rag ingest --rebuild PATH --kb {path}`"


def read_config(path: Path) -> KBConfig:
    try:
        raw = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
        config = KBConfig(**{f.name: raw[f.name] for f in fields(KBConfig)
                             if f.name in raw or f.default is MISSING})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path / CONFIG_FILE} is unreadable ({exc}); {rebuild_hint(path)}") from exc
    if config.schema_version != SCHEMA_VERSION:
        raise ConfigError(f"KB at {path} has schema version {config.schema_version}, but this version of the "
                          f"program reads version {SCHEMA_VERSION}; {rebuild_hint(path)}")
    return config


def write_config(path: Path, config: KBConfig) -> None:
    atomic_write_text(path / CONFIG_FILE, config_text(config))


def config_text(config: KBConfig) -> str:
    """config.json's content."""
    return json.dumps(asdict(config), indent=2, ensure_ascii=False) + "\n"


def connect(db: Path, *, create: bool = False) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, so each transaction is exactly what we wrote.
    # mode=rw unless creating: opening a database that a swap has just removed must fail, not create it empty.
    uri = f"{db.resolve().as_uri()}?mode={'rwc' if create else 'rw'}"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=30.0)
    except sqlite3.OperationalError as exc:
        raise ConfigError(f"cannot open {db} ({exc}); {rebuild_hint(db.parent)}") from exc
    try:
        conn.execute("PRAGMA journal_mode=WAL")  # readers see a snapshot and never wait for the writer
        conn.execute("PRAGMA synchronous=FULL")  # a committed document survives a power cut
        if create:
            conn.executescript(_SCHEMA)
        else:
            _add_title_column(conn)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise ConfigError(f"{db} is not a readable knowledge-base database ({exc}); "
                          f"{rebuild_hint(db.parent)}") from exc
    return conn


def _add_title_column(db: sqlite3.Connection) -> None:
    """KBs made before documents had titles gain the column, NULL ("not read yet") until the next ingest."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(documents)")}
    if "title" not in columns:
        try:
            db.execute("ALTER TABLE documents ADD COLUMN title TEXT")
        except sqlite3.OperationalError as exc:
            if "duplicate column" not in str(exc):  # another process opening the KB added it first
                raise


def meta(db: sqlite3.Connection, key: str) -> int:
    return int(db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])


def transaction(db: sqlite3.Connection) -> "_Transaction":
    return _Transaction(db)


class _Transaction:
    """`with transaction(db) as gen:` runs BEGIN IMMEDIATE ... COMMIT and bumps the generation to `gen`."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> int:
        self.db.execute("BEGIN IMMEDIATE")  # take SQLite's write lock now, not halfway through
        self.gen = meta(self.db, "generation") + 1
        return self.gen

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: object) -> bool:
        if exc_type is None:
            self.db.execute("UPDATE meta SET value = ? WHERE key = 'generation'", (self.gen,))
            self.db.execute("COMMIT")
            return False
        self.db.execute("ROLLBACK")
        return exc_type is NothingToDo


def prune_tombstones(db: sqlite3.Connection, upto: int) -> None:
    """Drop tombstones that index.faiss at generation `upto` already reflects."""
    db.execute("BEGIN IMMEDIATE")
    db.execute("DELETE FROM removed WHERE gen <= ?", (upto,))
    db.execute("UPDATE meta SET value = max(value, ?) WHERE key = 'pruned'", (upto,))
    db.execute("COMMIT")


def chunk_rows(doc: Document, chunks: list[Chunk], matrix: np.ndarray, dim: int) -> tuple[list[ChunkRow], list[int]]:
    """Validate and convert: one row per distinct chunk id, and the positions of the chunks kept."""
    matrix = np.asarray(matrix, dtype=np.float32)
    if chunks and matrix.shape != (len(chunks), dim):
        raise ValueError(f"vectors have shape {matrix.shape}; expected ({len(chunks)}, {dim})")
    if any(c.source != doc.source for c in chunks):
        raise ValueError(f"every chunk's source must be {doc.source!r}")
    if not chunks:
        return [], []
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    if not np.all(np.isfinite(norms)) or np.any(norms == 0):
        raise ValueError(f"{doc.source}: a vector is zero or not finite")
    matrix = (matrix / norms).astype("<f4")  # dense_search promises cosine, so normalise once, here
    rows, kept, seen = [], [], set()
    for i, (chunk, vec) in enumerate(zip(chunks, matrix)):
        if chunk.id in seen:  # a repeated passage hashes to the same id; one copy is enough to find it
            continue
        seen.add(chunk.id)
        kept.append(i)
        r0, r1 = chunk.rows or (None, None)
        rows.append((chunk.id, chunk.source, chunk.text, chunk.page, chunk.sheet, r0, r1, chunk.heading,
                     chunk.start, chunk.end, vec.tobytes()))
    return rows, kept


def delete_source(db: sqlite3.Connection, source: str, gen: int) -> bool:
    """Delete a document's rows and tombstone its chunk ids at `gen`. True if there was anything."""
    old = [row[0] for row in db.execute("SELECT id FROM chunks WHERE source = ?", (source,))]
    db.executemany("DELETE FROM keywords WHERE rowid = ?", [(i,) for i in old])
    db.execute("DELETE FROM chunks WHERE source = ?", (source,))
    db.executemany("INSERT INTO removed(id, gen) VALUES (?, ?)", [(i, gen) for i in old])
    return db.execute("DELETE FROM documents WHERE source = ?", (source,)).rowcount > 0 or bool(old)


def insert_document(db: sqlite3.Connection, doc: Document, rows: list[ChunkRow], texts: list[str],
                    gen: int) -> None:
    db.execute('INSERT INTO documents(source, kind, sha256, pages, "rows", chunks, added_at, title) '
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               (doc.source, doc.kind, doc.sha256, doc.pages, doc.rows, len(rows), doc.added_at, doc.title))
    _insert_chunks(db, rows, texts, gen)


def append_chunks(db: sqlite3.Connection, source: str, rows: list[ChunkRow], texts: list[str], gen: int) -> None:
    """Add chunks to a document stored in parts (a large file committed batch by batch)."""
    _insert_chunks(db, rows, texts, gen)
    db.execute("UPDATE documents SET chunks = chunks + ? WHERE source = ?", (len(rows), source))


def _insert_chunks(db: sqlite3.Connection, rows: list[ChunkRow], texts: list[str], gen: int) -> None:
    db.executemany(f"INSERT INTO chunks({_CHUNK_COLUMNS}, vector, gen) VALUES ({', '.join('?' * 12)})",
                   [row + (gen,) for row in rows])
    db.executemany("INSERT INTO keywords(rowid, tokens) VALUES (?, ?)",
                   [(row[0], text) for row, text in zip(rows, texts)])


def finish_document(db: sqlite3.Connection, source: str, sha256: str) -> None:
    db.execute("UPDATE documents SET sha256 = ? WHERE source = ?", (sha256, source))


def chunk_ids_of(db: sqlite3.Connection, source: str) -> list[int]:
    return [row[0] for row in db.execute("SELECT id FROM chunks WHERE source = ? ORDER BY start", (source,))]


def removed_since(db: sqlite3.Connection, gen: int) -> np.ndarray:
    return np.array([row[0] for row in db.execute("SELECT id FROM removed WHERE gen > ?", (gen,))],
                    dtype=np.int64)


def vectors_since(db: sqlite3.Connection, gen: int, dim: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids, matrix) batches of the chunks written after `gen`; gen=-1 gives all of them."""
    cursor = db.execute("SELECT id, vector FROM chunks WHERE gen > ?", (gen,))
    while rows := cursor.fetchmany(_FETCH):
        ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        yield ids, np.frombuffer(b"".join(row[1] for row in rows), dtype="<f4").reshape(len(rows), dim)


def _batches(ids: list[int]) -> Iterator[list[int]]:
    unique = list(dict.fromkeys(int(i) for i in ids))  # numpy ints are not SQLite parameters
    for i in range(0, len(unique), _BATCH):
        yield unique[i:i + _BATCH]


def known_vectors(db: sqlite3.Connection, ids: list[int]) -> dict[int, np.ndarray]:
    out: dict[int, np.ndarray] = {}
    for batch in _batches(ids):
        sql = f"SELECT id, vector FROM chunks WHERE id IN ({','.join('?' * len(batch))})"
        for cid, blob in db.execute(sql, batch):
            out[cid] = np.frombuffer(blob, dtype="<f4").astype(np.float32)  # a writable copy
    return out


def load_chunks(db: sqlite3.Connection, ids: list[int]) -> dict[int, Chunk]:
    out: dict[int, Chunk] = {}
    for batch in _batches(ids):
        sql = f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE id IN ({','.join('?' * len(batch))})"
        for cid, source, text, page, sheet, r0, r1, heading, start, end in db.execute(sql, batch):
            out[cid] = Chunk(id=cid, source=source, text=text, page=page, sheet=sheet,
                             rows=(r0, r1) if r0 is not None else None, heading=heading, start=start, end=end)
    return out


def documents(db: sqlite3.Connection) -> list[Document]:
    rows = db.execute('SELECT source, kind, pages, "rows", chunks, added_at, sha256, coalesce(title, \'\') '
                      "FROM documents ORDER BY source").fetchall()
    return [Document(*row) for row in rows]


def titles(db: sqlite3.Connection) -> list[tuple[str, str]]:
    """(source, title) of every document; the title is "" where there is none or it was never read."""
    return db.execute("SELECT source, coalesce(title, '') FROM documents").fetchall()


def untitled(db: sqlite3.Connection) -> set[str]:
    """Documents stored before titles were read (NULL, as opposed to "" for a file that has none)."""
    return {row[0] for row in db.execute("SELECT source FROM documents WHERE title IS NULL")}


def set_titles(db: sqlite3.Connection, titles_: dict[str, str]) -> None:
    db.executemany("UPDATE documents SET title = ? WHERE source = ?", [(t, s) for s, t in titles_.items()])


def sources_of(db: sqlite3.Connection, ids: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for batch in _batches(ids):
        out.update(db.execute(f"SELECT id, source FROM chunks WHERE id IN ({','.join('?' * len(batch))})", batch))
    return out


def document_hash(db: sqlite3.Connection, source: str) -> str | None:
    row = db.execute("SELECT sha256 FROM documents WHERE source = ?", (source,)).fetchone()
    return row[0] if row else None
