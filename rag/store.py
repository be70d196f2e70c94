"""The knowledge-base directory: `config.json`, `kb.sqlite` (the truth), `index.faiss` (a cache), `write.lock`.

Which files are live, and how a rebuilt or imported KB replaces them in one step, is `rag.kbfiles`.

SQLite (`rag.kbdb`) holds documents, chunks with their vectors, and the FTS5 keyword index; every write
transaction bumps a `generation` counter. FAISS (`rag.vectors`) is kept in step with that generation, and
rebuilt from SQLite whenever it cannot be trusted, so a crash at any point loses at most the write in flight.

Trade-offs:
- Another process's writes reach this one by replay: writes stamp new chunks with their generation and
  tombstone the ids they remove, so `_sync` applies only what changed since the generation our index holds.
  Before each search that costs one indexed lookup of the generation when nothing changed. A fresh `open`
  after a crash before `flush` replays from the generation in index.meta.json instead of rebuilding.
- After a replay the index must hold exactly as many vectors as SQLite has chunks. If not (a damaged file,
  or a file replaced while we read it, which then holds duplicates) it is rebuilt from SQLite with a warning:
  about 2 s at 100k chunks of dim 384, against 0.2 s to load a good index.faiss.
- `flush` writes index.faiss only at the end of a `writer()` block: rewriting 150 MB per document would cost
  more than the embedding. Until then the file lags and readers replay from SQLite.
- Large KBs get an approximate (IVF) index instead of the flat one (`rag.vectors`); the store rebuilds the
  index as the other type when `flush` finds it crossed `KBConfig.ann_min_chunks`.
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
from rag import fts, kbdb, kbfiles, naming, vectors
from rag.errors import ConfigError, EmbeddingMismatch, KBLocked, KBNotFound
from rag.fts import fts_query
from rag.kbdb import CONFIG_FILE, DB_FILE, SCHEMA_VERSION, KBConfig
from rag.lock import Waiting, WriteLock
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
        self._stamp = kbfiles.stamp(path / CONFIG_FILE)  # the config.json this Store reflects
        self._mutex = threading.RLock()
        self._index: vectors.Index = vectors.new_index(config.dim)
        self._gen: int | None = None  # the SQLite generation self._index reflects; None: not loaded yet
        self._writer_thread: int | None = None  # the thread holding write.lock through this Store
        self._names: tuple[int | None, naming.DocumentNames] | None = None  # per generation, built on first use

    @property
    def data(self) -> Path:
        """The directory of kb.sqlite and index.faiss: the KB directory, or the subdirectory config names."""
        return self.path / self.config.data_dir

    # -- lifetime ---------------------------------------------------------------------------------------
    @classmethod
    def exists(cls, path: str | Path) -> bool:
        path = Path(path)
        if not (path / CONFIG_FILE).is_file():
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
            for name in kbfiles.DB_NAMES + kbfiles.INDEX_NAMES:
                if (path / name).exists():
                    log.warning("removing %s, left over from an unfinished create", path / name)
                    (path / name).unlink()
            config = dataclasses.replace(config, data_dir=".")
            kbfiles.collect_garbage(path, ".")
            store = cls(path, config, kbdb.connect(path / DB_FILE, create=True), lock_timeout=lock_timeout)
            store._gen = 0
            vectors.save(path, store._index, 0)
            # config.json last: `exists()` turns true only once everything it announces is in place.
            kbdb.write_config(path, config)
            store._stamp = kbfiles.stamp(path / CONFIG_FILE)
        finally:
            lock.release()
        return store

    @classmethod
    def open(cls, path: str | Path, *, lock_timeout: float = 600.0) -> "Store":
        path = Path(path)
        for attempt in range(3):
            if not cls.exists(path):
                raise KBNotFound(f"no knowledge base at {path}; create one with `rag ingest PATH --kb {path}`")
            stamp = kbfiles.stamp(path / CONFIG_FILE)
            config = kbdb.read_config(path)
            try:
                db = kbdb.connect(path / config.data_dir / DB_FILE)
                break
            except ConfigError:
                # A rebuild swapped the KB between our reading config.json and opening what it named.
                if attempt == 2 or kbfiles.stamp(path / CONFIG_FILE) == stamp:
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
        stamp = kbfiles.stamp(self.path / CONFIG_FILE)
        if stamp == self._stamp or stamp is None:
            return False
        config = kbdb.read_config(self.path)
        db = kbdb.connect(self.path / config.data_dir / DB_FILE)
        self._db.close()
        self.config, self._db, self._stamp = config, db, stamp
        self._index, self._gen, self._names = vectors.new_index(config.dim), None, None
        log.info("%s was replaced (rebuilt or imported); reading the new one", self.path)
        return True

    def install(self, built: "Store") -> None:
        """Make `built`, a complete KB in a data subdirectory of this one (`kbfiles.new_data_dir`), this KB.

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
        kbfiles.collect_garbage(self.path, data_dir)

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
                kbfiles.collect_garbage(self.path, self.config.data_dir)
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
            rebuilt = vectors.wants_rebuild(self._index, self.config.ann_min_chunks)
            if rebuilt:
                self._index = self._rebuild()
            meta = vectors.read_meta(self.data)
            if rebuilt or meta is None or meta.generation != self._gen or not (self.data / vectors.INDEX_FILE).exists():
                vectors.save(self.data, self._index, self._gen or 0)
            kbdb.prune_tombstones(self._db, self._gen or 0)

    def _save_if_stale(self) -> None:
        """After `open` replayed or rebuilt, save the result if no writer is busy, so the next open is quick."""
        meta = vectors.read_meta(self.data)
        if meta is not None and meta.generation == self._gen:
            return
        try:
            with self._locked(0.0):
                self.flush()
        except (KBLocked, OSError, RuntimeError, sqlite3.OperationalError) as exc:
            # A busy writer flushes when it is done; a read-only KB is searched from memory as it is.
            log.debug("not saving the vector index now: %s", exc)

    # -- keeping the FAISS index in step with SQLite -----------------------------------------------------
    def _sync(self) -> None:
        """Bring self._index to SQLite's generation: replay the changes if we can, else load or rebuild."""
        self._follow_swap()
        if self._gen is not None and kbdb.meta(self._db, "generation") == self._gen:
            return
        self._db.execute("BEGIN")  # one snapshot for the generation, the changes and the count
        try:
            gen, pruned = kbdb.meta(self._db, "generation"), kbdb.meta(self._db, "pruned")
            index, base = None, -1
            if self._gen is not None and pruned <= self._gen < gen:
                index, base = self._index, self._gen
            else:
                index, base = self._load_file(pruned, gen)
            count = self._db.execute("SELECT count(*) FROM chunks").fetchone()[0]
            if index is not None:
                self._replay(index, base)
                if index.ntotal != count:
                    log.warning("the vector index holds %d vectors but %s has %d chunks; rebuilding it",
                                index.ntotal, DB_FILE, count)
                    index = None
            if index is None:
                index = self._rebuild()
            self._index, self._gen = index, gen
        finally:
            self._db.execute("COMMIT")

    def _rebuild(self) -> vectors.Index:
        """A new index from every vector in SQLite, of the type its size calls for."""
        count = self._db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        ids, matrix = np.empty(count, np.int64), np.empty((count, self.config.dim), np.float32)
        n = 0
        for batch_ids, batch in kbdb.vectors_since(self._db, -1, self.config.dim):
            ids[n:n + len(batch_ids)], matrix[n:n + len(batch_ids)] = batch_ids, batch
            n += len(batch_ids)
        return vectors.build(self.config.dim, ids[:n], matrix[:n], self.config.ann_min_chunks)

    def _load_file(self, pruned: int, gen: int) -> tuple[vectors.Index | None, int]:
        meta = vectors.read_meta(self.data)
        if meta is None:
            log.warning("%s has no readable %s; rebuilding the vector index from %s",
                        self.data, vectors.META_FILE, DB_FILE)
            return None, -1
        if not pruned <= meta.generation <= gen:  # the file is newer than SQLite, or its tombstones are gone
            log.warning("%s is at generation %d but %s is at %d; rebuilding the vector index",
                        vectors.INDEX_FILE, meta.generation, DB_FILE, gen)
            return None, -1
        index = vectors.load(self.data, meta, self.config.dim)
        if index is None:
            log.warning("rebuilding the vector index of %s from %s", self.data, DB_FILE)
        return index, meta.generation

    def _replay(self, index: vectors.Index, base: int) -> None:
        # Removals first: a chunk replaced by an identical one is tombstoned and re-inserted under its old id.
        vectors.remove(index, kbdb.removed_since(self._db, base))
        for ids, matrix in kbdb.vectors_since(self._db, base, self.config.dim):
            vectors.add(index, ids, matrix)

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

    def named_documents(self, query_tokens: list[str]) -> set[str]:
        """Sources of the documents the query names (`rag.naming`)."""
        with self._mutex:
            total = self.chunk_count()  # syncs, so self._gen is SQLite's current generation
            if self._names is None or self._names[0] != self._gen:
                self._names = (self._gen, naming.DocumentNames(kbdb.titles(self._db)))
            names = self._names[1]
            tokens = names.candidates(query_tokens)
            if not tokens:
                return set()
            return names.named(tokens, fts.chunk_counts(self._db, tokens), total)

    def token_shares(self, tokens: list[str]) -> dict[str, float]:
        """Each token's share of the chunks that hold it (absent tokens are left out)."""
        with self._mutex:
            total = self.chunk_count()
            return {t: n / total for t, n in fts.chunk_counts(self._db, tokens).items()} if total else {}

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
            return int(self._index.ntotal)

    def dense_search(self, query_vec: np.ndarray, k: int) -> list[tuple[int, float]]:
        query = np.asarray(query_vec, dtype=np.float32).reshape(-1)
        if query.shape[0] != self.config.dim:
            raise ValueError(f"query vector has dim {query.shape[0]}, the KB has dim {self.config.dim}")
        with self._mutex:
            self._sync()
            return vectors.search(self._index, query, k)

    def starts_compound(self, token: str) -> bool:
        with self._mutex:
            return fts.starts_compound(self._db, token)

    def keyword_search(self, query_tokens: list[str], k: int) -> list[tuple[int, float]]:
        with self._mutex:  # SQLite is the keyword index itself, so there is nothing to sync first
            return fts.keyword_search(self._db, query_tokens, k)
