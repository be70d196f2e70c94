"""The FAISS index a Store searches, held in memory and kept in step with SQLite's generation.

SQLite (`rag.store.kbdb`) is the truth; every write transaction bumps its `generation`. The mirror knows which
generation its index reflects, and catches up by replaying what changed since, by loading index.faiss, or by
rebuilding from the vectors kept in SQLite, whichever it can trust. `Store` decides when (before each read,
after each write) and holds the locks; this module only keeps the index right.

Trade-offs:
- Another process's writes reach this one by replay: writes stamp new chunks with their generation and
  tombstone the ids they remove, so `sync` applies only what changed since the generation our index holds.
  Before each search that costs one indexed lookup of the generation when nothing changed. A fresh `open`
  after a crash before `flush` replays from the generation in index.meta.json instead of rebuilding.
- After a replay the index must hold exactly as many vectors as SQLite has chunks. If not (a damaged file,
  or a file replaced while we read it, which then holds duplicates) it is rebuilt from SQLite with a warning:
  about 2 s at 100k chunks of dim 384, against 0.2 s to load a good index.faiss.
- Large KBs get an approximate (IVF) index instead of the flat one (`rag.store.vectors`); `flush` rebuilds the index
  as the other type when it finds it crossed `KBConfig.ann_min_chunks`.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import numpy as np

from rag.store import kbdb, vectors
from rag.store.kbdb import DB_FILE

log = logging.getLogger(__name__)


class Mirror:
    """The in-memory index and the SQLite generation it reflects (None: not loaded yet)."""

    def __init__(self, dim: int, ann_min_chunks: int) -> None:
        self.dim, self.ann_min_chunks = dim, ann_min_chunks
        self.index: vectors.Index = vectors.new_index(dim)
        self.gen: int | None = None

    def sync(self, db: sqlite3.Connection, data: Path) -> None:
        """Bring the index to SQLite's generation: replay the changes if we can, else load or rebuild."""
        if self.gen is not None and kbdb.meta(db, "generation") == self.gen:
            return
        db.execute("BEGIN")  # one snapshot for the generation, the changes and the count
        try:
            gen, pruned = kbdb.meta(db, "generation"), kbdb.meta(db, "pruned")
            index, base = None, -1
            if self.gen is not None and pruned <= self.gen < gen:
                index, base = self.index, self.gen
            else:
                index, base = self._load_file(data, pruned, gen)
            count = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
            if index is not None:
                self._replay(db, index, base)
                if index.ntotal != count:
                    log.warning("the vector index holds %d vectors but %s has %d chunks; rebuilding it",
                                index.ntotal, DB_FILE, count)
                    index = None
            if index is None:
                index = self.rebuild(db)
            self.index, self.gen = index, gen
        finally:
            db.execute("COMMIT")

    def flush(self, db: sqlite3.Connection, data: Path) -> None:
        """Write index.faiss and its sidecar for the current generation (of the type the size calls for),
        then drop the tombstones it covers. Call after `sync`."""
        rebuilt = vectors.wants_rebuild(self.index, self.ann_min_chunks)
        if rebuilt:
            self.index = self.rebuild(db)
        if rebuilt or not self.saved(data) or not (data / vectors.INDEX_FILE).exists():
            vectors.save(data, self.index, self.gen or 0)
        kbdb.prune_tombstones(db, self.gen or 0)

    def saved(self, data: Path) -> bool:
        """Whether index.meta.json says index.faiss is at our generation."""
        meta = vectors.read_meta(data)
        return meta is not None and meta.generation == self.gen

    def rebuild(self, db: sqlite3.Connection) -> vectors.Index:
        """A new index from every vector in SQLite, of the type its size calls for."""
        count = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        ids, matrix = np.empty(count, np.int64), np.empty((count, self.dim), np.float32)
        n = 0
        for batch_ids, batch in kbdb.vectors_since(db, -1, self.dim):
            ids[n:n + len(batch_ids)], matrix[n:n + len(batch_ids)] = batch_ids, batch
            n += len(batch_ids)
        return vectors.build(self.dim, ids[:n], matrix[:n], self.ann_min_chunks)

    def _load_file(self, data: Path, pruned: int, gen: int) -> tuple[vectors.Index | None, int]:
        meta = vectors.read_meta(data)
        if meta is None:
            log.warning("%s has no readable %s; rebuilding the vector index from %s",
                        data, vectors.META_FILE, DB_FILE)
            return None, -1
        if not pruned <= meta.generation <= gen:  # the file is newer than SQLite, or its tombstones are gone
            log.warning("%s is at generation %d but %s is at %d; rebuilding the vector index",
                        vectors.INDEX_FILE, meta.generation, DB_FILE, gen)
            return None, -1
        index = vectors.load(data, meta, self.dim)
        if index is None:
            log.warning("rebuilding the vector index of %s from %s", data, DB_FILE)
        return index, meta.generation

    def _replay(self, db: sqlite3.Connection, index: vectors.Index, base: int) -> None:
        # Removals first: a chunk replaced by an identical one is tombstoned and re-inserted under its old id.
        vectors.remove(index, kbdb.removed_since(db, base))
        for ids, matrix in kbdb.vectors_since(db, base, self.dim):
            vectors.add(index, ids, matrix)
