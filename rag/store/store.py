"""The knowledge-base directory: `config.json`, `kb.sqlite` (the truth), `index.faiss` (a cache), `write.lock`.

Which files are live, and how a rebuilt or imported KB replaces them in one step, is `rag.store.layout`.

SQLite (`rag.store.kbdb`) holds documents, chunks with their vectors, and the FTS5 keyword index; every write
transaction bumps a `generation` counter. The FAISS index in memory (`rag.store.mirror`) is kept in step with that
generation, and rebuilt from SQLite whenever it cannot be trusted, so a crash at any point loses at most the
write in flight.

Trade-offs:
- `flush` writes index.faiss only at the end of a `writer()` block: rewriting 150 MB per document would cost
  more than the embedding. Until then the file lags and readers replay from SQLite.
- One RLock serializes the connection and the index inside a Store: a flat-index search takes milliseconds,
  so finer locking would buy little. `write.lock` serializes writers across processes; readers never take it.
  A writer that waited for the lock first follows any swap that happened meanwhile, so it never writes into
  a KB that a rebuild has just retired.
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ingest.types import Chunk
from rag.errors import ConfigError, EmbeddingMismatch, KBLocked, KBNotFound
from rag.store import fts, kbdb, layout, vectors
from rag.store.fts import fts_query
from rag.store.kbdb import CONFIG_FILE, DB_FILE, SCHEMA_VERSION, KBConfig
from rag.store.lock import Waiting, WriteLock
from rag.store.mirror import Mirror
from rag.types import Document

__all__ = ["SCHEMA_VERSION", "KBConfig", "Store", "fts_query"]

log = logging.getLogger(__name__)

LOCK_FILE = "write.lock"


class Store:
    """Use `Store.create` or `Store.open`; the constructor only keeps what they prepared."""

    def __init__(self, path: Path, config: KBConfig, db: sqlite3.Connection, *,
                 lock_timeout: float = 600.0) -> None:
        self.path, self.config, self._db = path, config, db
        self.lock_timeout = lock_timeout
        self.on_wait: Waiting | None = None  # told who holds write.lock while a write waits for it
        self._stamp = layout.stamp(path / CONFIG_FILE)  # the config.json this Store reflects
        self._mutex = threading.RLock()
        self._mirror = Mirror(config.dim, config.ann_min_chunks)
        self._writer_thread: int | None = None  # the thread holding write.lock through this Store

    @property
    def _index(self) -> vectors.Index:
        return self._mirror.index

    @property
    def data(self) -> Path:
        """The directory of kb.sqlite and index.faiss: the KB directory, or the subdirectory config names."""
        return self.path / self.config.data_dir

    # -- lifetime ---------------------------------------------------------------------------------------
    @classmethod
    def exists(cls, path: str | Path) -> bool:
        path = Path(path)
        if not layout.has_config(path):
            return False
        try:
            data_dir = kbdb.read_config(path).data_dir
        except ConfigError:
            return True  # damaged: `open` says so, and how to rebuild
        return (path / data_dir / DB_FILE).is_file()

    @classmethod
    def create(cls, path: str | Path, config: KBConfig, *, lock_timeout: float = 600.0,
               on_wait: Waiting | None = None) -> "Store":
        """A new, empty KB. If another process created one here while we waited for the lock, open that."""
        path = Path(path)
        if config.schema_version != SCHEMA_VERSION:
            raise ValueError(f"schema_version must be {SCHEMA_VERSION}")
        if cls.exists(path):
            raise ConfigError(f"a knowledge base already exists at {path}; open it, or "
                              f"{kbdb.rebuild_hint(path)}")
        path.mkdir(parents=True, exist_ok=True)
        lock = WriteLock(path / LOCK_FILE)
        lock.acquire(lock_timeout, "creating the knowledge base", on_wait)
        try:
            if cls.exists(path):  # the writer we waited for created it
                lock.release()
                return cls.open(path, lock_timeout=lock_timeout)
            # Without config.json these are leftovers of a crashed create, maybe of another dim.
            for name in layout.DB_NAMES + layout.INDEX_NAMES:
                if (path / name).exists():
                    log.warning("removing %s, left over from an unfinished create", path / name)
                    (path / name).unlink()
            config = dataclasses.replace(config, data_dir=".")
            layout.collect_garbage(path, ".")
            store = cls(path, config, kbdb.connect(path / DB_FILE, create=True), lock_timeout=lock_timeout)
            store._mirror.gen = 0
            vectors.save(path, store._mirror.index, 0)
            # config.json last: `exists()` turns true only once everything it announces is in place.
            kbdb.write_config(path, config)
            store._stamp = layout.stamp(path / CONFIG_FILE)
        finally:
            lock.release()
        return store

    @classmethod
    def open(cls, path: str | Path, *, lock_timeout: float = 600.0) -> "Store":
        path = Path(path)
        for attempt in range(3):
            if not cls.exists(path):
                raise KBNotFound(f"no knowledge base at {path}; create one with `rag ingest PATH --kb {path}`")
            stamp = layout.stamp(path / CONFIG_FILE)
            config = kbdb.read_config(path)
            try:
                db = kbdb.connect(path / config.data_dir / DB_FILE)
                break
            except ConfigError:
                # A rebuild swapped the KB between our reading config.json and opening what it named.
                if attempt == 2 or layout.stamp(path / CONFIG_FILE) == stamp:
                    raise
        store = cls(path, config, db, lock_timeout=lock_timeout)
        store._stamp = stamp
        try:
            with store._mutex:
                store._sync()
            store._save_if_stale()
        except sqlite3.DatabaseError as exc:
            store.close()
            raise ConfigError(f"{store.data / DB_FILE} is damaged ({exc}); {kbdb.rebuild_hint(path)}") from exc
        except BaseException:
            store.close()
            raise
        return store

    def _follow_swap(self) -> bool:
        """Reopen if config.json was replaced since we read it (a rebuild or an import). True if it was."""
        stamp = layout.stamp(self.path / CONFIG_FILE)
        if stamp == self._stamp or stamp is None:
            return False
        config = kbdb.read_config(self.path)
        db = kbdb.connect(self.path / config.data_dir / DB_FILE)
        self._db.close()
        self.config, self._db, self._stamp = config, db, stamp
        self._mirror = Mirror(config.dim, config.ann_min_chunks)
        log.info("%s was replaced (rebuilt or imported); reading the new one", self.path)
        return True

    def install(self, built: "Store") -> None:
        """Make `built`, a complete KB in a data subdirectory of this one (`layout.new_data_dir`), this KB.

        The commit is one atomic replace of config.json; the data it named before are then removed. Call
        inside `writer()`, so that nobody writes to the old KB meanwhile. `built` is closed."""
        if self._writer_thread != threading.get_ident():
            raise RuntimeError("install() needs the write lock: call it inside `with store.writer():`")
        data_dir = built.path.relative_to(self.path).as_posix()
        built.flush()
        config = dataclasses.replace(built.config, data_dir=data_dir)
        built.close()
        with self._mutex:
            kbdb.write_config(self.path, config)
            self._sync()  # follows the swap first
        layout.collect_garbage(self.path, data_dir)

    def close(self) -> None:
        with self._mutex:
            self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def check_embedding(self, model_id: str, dim: int | None) -> None:
        """`dim` None: compare the model ids only (the same id gives the same dimension)."""
        c = self.config
        if model_id != c.embedding_model or dim not in (None, c.dim):
            configured = f"{model_id} (dim {dim})" if dim else model_id
            raise EmbeddingMismatch(
                f"KB at {self.path} was built with model {c.embedding_model} (dim {c.dim}); you configured "
                f"{configured}. Either set embedding_model = {c.embedding_model}, or rebuild: "
                f"`rag ingest --rebuild PATH --kb {self.path}`")

    # -- writing ----------------------------------------------------------------------------------------
    @contextmanager
    def _locked(self, timeout: float | None = None, doing: str = "writing") -> Iterator[None]:
        if self._writer_thread == threading.get_ident():
            yield  # this thread already holds write.lock through this Store
            return
        lock = WriteLock(self.path / LOCK_FILE)
        lock.acquire(self.lock_timeout if timeout is None else timeout, doing, self.on_wait)
        self._writer_thread = threading.get_ident()
        try:
            with self._mutex:
                self._follow_swap()
                layout.collect_garbage(self.path, self.config.data_dir)
            yield
        finally:
            self._writer_thread = None
            lock.release()

    @contextmanager
    def writer(self, timeout: float | None = None, doing: str = "writing") -> Iterator["Store"]:
        """Hold the KB's write lock for a batch of writes; index.faiss is flushed when the block succeeds.

        `timeout` defaults to `lock_timeout`; `doing` tells a writer that waits for us what we are doing.
        Writes outside a `writer()` block take the lock for themselves and skip the flush: correct, but
        index.faiss lags and every `open` replays those writes from SQLite until someone flushes.
        """
        with self._locked(timeout, doing):
            yield self
            self.flush()

    def put_document(self, doc: Document, chunks: list[Chunk], vectors_: np.ndarray,
                     tokens: list[list[str]]) -> None:
        """Replace everything stored for `doc.source` with these chunks, their vectors and keyword tokens."""
        if len(tokens) != len(chunks):
            raise ValueError(f"{len(chunks)} chunks but {len(tokens)} token lists")
        rows, kept = kbdb.chunk_rows(doc, chunks, vectors_, self.config.dim)
        texts = [" ".join(tokens[i]) for i in kept]
        with self._locked(), self._mutex:
            with kbdb.transaction(self._db) as gen:
                kbdb.delete_source(self._db, doc.source, gen)
                kbdb.insert_document(self._db, doc, rows, texts, gen)
            self._sync()

    def append_chunks(self, source: str, chunks: list[Chunk], vectors_: np.ndarray,
                      tokens: list[list[str]]) -> None:
        """Add chunks to a document that `put_document` began, in their own transaction."""
        doc = Document(source=source, kind="", pages=None, rows=None, chunks=0, added_at="")
        rows, kept = kbdb.chunk_rows(doc, chunks, vectors_, self.config.dim)
        texts = [" ".join(tokens[i]) for i in kept]
        with self._locked(), self._mutex:
            with kbdb.transaction(self._db) as gen:
                kbdb.append_chunks(self._db, source, rows, texts, gen)
            self._sync()

    def finish_document(self, source: str, sha256: str) -> None:
        """Mark a document stored in parts as complete: the next ingest skips it while the file is unchanged."""
        with self._locked(), self._mutex, kbdb.transaction(self._db):
            kbdb.finish_document(self._db, source, sha256)

    def document_chunks(self, source: str) -> list[Chunk]:
        with self._mutex:
            ids = kbdb.chunk_ids_of(self._db, source)
            found = kbdb.load_chunks(self._db, ids)
            return [found[i] for i in ids]

    def backfill_titles(self, titles: dict[str, str]) -> None:
        """Store titles read for documents that were ingested before titles were kept."""
        if titles:
            with self._locked(), self._mutex, kbdb.transaction(self._db):
                kbdb.set_titles(self._db, titles)

    def remove_document(self, source: str) -> bool:
        with self._locked(), self._mutex:
            with kbdb.transaction(self._db) as gen:
                existed = kbdb.delete_source(self._db, source, gen)
                if not existed:
                    raise kbdb.NothingToDo  # roll back: no generation bump, no reload in readers
            self._sync()
        return existed

    def flush(self) -> None:
        """Write index.faiss and its sidecar for the current generation, then drop the tombstones it covers."""
        with self._locked(), self._mutex:
            self._sync()
            self._mirror.flush(self._db, self.data)

    def _save_if_stale(self) -> None:
        """After `open` replayed or rebuilt, save the result if no writer is busy, so the next open is quick."""
        if self._mirror.saved(self.data):
            return
        try:
            with self._locked(0.0):
                self.flush()
        except (KBLocked, OSError, RuntimeError, sqlite3.OperationalError) as exc:
            # A busy writer flushes when it is done; a read-only KB is searched from memory as it is.
            log.debug("not saving the vector index now: %s", exc)

    def _sync(self) -> None:
        """Follow a swap of the KB, then bring the index to SQLite's generation."""
        self._follow_swap()
        self._mirror.sync(self._db, self.data)

    # -- reading ----------------------------------------------------------------------------------------
    def document_hash(self, source: str) -> str | None:
        with self._mutex:
            return kbdb.document_hash(self._db, source)

    def documents(self) -> list[Document]:
        with self._mutex:
            return kbdb.documents(self._db)

    def untitled(self) -> set[str]:
        with self._mutex:
            return kbdb.untitled(self._db)

    def titles(self) -> list[tuple[str, str]]:
        """(source, title) of every document; the title is "" where there is none or it was never read."""
        with self._mutex:
            return kbdb.titles(self._db)

    def chunk_counts(self, tokens: list[str]) -> dict[str, int]:
        """How many chunks hold each token; tokens in no chunk are left out."""
        with self._mutex:
            return fts.chunk_counts(self._db, tokens)

    @property
    def generation(self) -> int | None:
        """The generation searches see now, synced first like `chunk_count`: every write changes it."""
        with self._mutex:
            self._sync()
            return self._mirror.gen

    def sources(self, ids: list[int]) -> dict[int, str]:
        with self._mutex:
            return kbdb.sources_of(self._db, ids)

    def known_vectors(self, chunk_ids: list[int]) -> dict[int, np.ndarray]:
        with self._mutex:
            return kbdb.known_vectors(self._db, chunk_ids)

    def chunks(self, ids: list[int]) -> dict[int, Chunk]:
        with self._mutex:
            return kbdb.load_chunks(self._db, ids)

    def chunk_count(self) -> int:
        with self._mutex:
            self._sync()
            return int(self._mirror.index.ntotal)

    def dense_search(self, query_vec: np.ndarray, k: int) -> list[tuple[int, float]]:
        query = np.asarray(query_vec, dtype=np.float32).reshape(-1)
        if query.shape[0] != self.config.dim:
            raise ValueError(f"query vector has dim {query.shape[0]}, the KB has dim {self.config.dim}")
        with self._mutex:
            self._sync()
            return vectors.search(self._mirror.index, query, k)

    def starts_compound(self, token: str) -> bool:
        with self._mutex:
            return fts.starts_compound(self._db, token)

    def keyword_search(self, query_tokens: list[str], k: int) -> list[tuple[int, float]]:
        with self._mutex:  # SQLite is the keyword index itself, so there is nothing to sync first
            return fts.keyword_search(self._db, query_tokens, k)
