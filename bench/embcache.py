"""A passage-vector cache shared by the benchmarks, so the quality benchmark need not re-embed what ingest did.

Only `bench.quality` reads it (it measures accuracy, not speed); the timed ingest runs never read it. After its
timed run, `bench.ingest` stores the vectors both contenders computed, keyed by model and exact passage text,
so a later `bench.quality` on the same machine skips ~10 minutes of embedding on 2 cores.

SQLite, float32 blobs, no pickle.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from rag.store import kbdb
from rag.store.indexer import embed_text


def _key(model: str, text: str) -> bytes:
    return hashlib.sha256(f"{model}\0passage\0{text}".encode()).digest()


class EmbeddingCache:
    def __init__(self, path: Path, model: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.model = model
        self.db = sqlite3.connect(path, timeout=60)
        self.db.execute("CREATE TABLE IF NOT EXISTS vectors(key BLOB PRIMARY KEY, vector BLOB NOT NULL)")

    def get(self, texts: list[str]) -> dict[int, np.ndarray]:
        """Positions in `texts` that are cached, with their vectors."""
        out = {}
        for i, text in enumerate(texts):
            row = self.db.execute("SELECT vector FROM vectors WHERE key = ?", (_key(self.model, text),)).fetchone()
            if row:
                out[i] = np.frombuffer(row[0], dtype="<f4").astype(np.float32)
        return out

    def put(self, pairs: Iterable[tuple[str, np.ndarray]]) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                                [(_key(self.model, t), np.asarray(v, dtype="<f4").tobytes()) for t, v in pairs])

    def embed(self, texts: list[str], compute) -> np.ndarray:
        """Vectors for `texts`: cached ones looked up, the rest computed with `compute(list) -> array` and stored."""
        found = self.get(texts)
        missing = [i for i in range(len(texts)) if i not in found]
        if missing:
            fresh = np.asarray(compute([texts[i] for i in missing]), dtype=np.float32)
            self.put((texts[i], v) for i, v in zip(missing, fresh))
            found.update(zip(missing, fresh))
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[i] for i in range(len(texts))])

    def close(self) -> None:
        self.db.close()


def export_project_vectors(kb_dir: Path, cache: Path, model_path: str) -> None:
    """The vectors a project KB holds, keyed by the text its embedder saw (`rag.store.indexer.embed_text`)."""
    data = kb_dir / kbdb.read_config(kb_dir).data_dir  # "." until a rebuild or an import moved the live data
    db = sqlite3.connect(f"file:{data / kbdb.DB_FILE}?mode=ro", uri=True)
    ids = [cid for (cid,) in db.execute("SELECT id FROM chunks")]
    chunks, vectors, titles = kbdb.load_chunks(db, ids), kbdb.known_vectors(db, ids), dict(kbdb.titles(db))
    db.close()
    c = EmbeddingCache(cache, f"{model_path}|rag")
    c.put((embed_text(chunk, titles[chunk.source]), vectors[cid]) for cid, chunk in chunks.items())
    c.close()
