"""Synthetic knowledge bases for `bench.search`: clustered random vectors and Zipf-distributed keywords.

- vectors: random, but clustered like real embeddings (2,000 random centres, each chunk at cosine ~0.8 to its
  centre); a query is a stored vector plus noise (cosine ~0.95), like a question near its passage;
- keywords: 30 words a chunk drawn from jieba's dictionary by word frequency (a Zipf law, as in real text);
  a query is 4 of its chunk's words, so common words hit many rows, as real questions do.

The KB is written through the real `Store` (SQLite rows with vector BLOBs, the FTS5 keyword index,
index.faiss), 1,000 chunks a document, in one `writer()` block as `rag ingest` does.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

DIM = 384
DOC_CHUNKS = 1000
WORDS_PER_CHUNK = 30


def vocabulary(limit: int = 60_000) -> tuple[list[str], np.ndarray]:
    """The `limit` most frequent words of jieba's dictionary and their probabilities."""
    import jieba

    path = Path(jieba.__file__).parent / "dict.txt"
    words, freqs = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) >= 2:
            words.append(parts[0])
            freqs.append(float(parts[1]))
    order = np.argsort(freqs)[::-1][:limit]
    f = np.array(freqs)[order]
    return [words[i] for i in order], f / f.sum()


class Synth:
    def __init__(self, seed: int = 0, centres: int = 2000) -> None:
        self.rng = np.random.default_rng(seed)
        c = self.rng.standard_normal((centres, DIM)).astype(np.float32)
        self.centres = c / np.linalg.norm(c, axis=1, keepdims=True)
        self.words, self.p = vocabulary()

    def vectors(self, n: int) -> np.ndarray:
        noise = self.rng.standard_normal((n, DIM)).astype(np.float32) * (0.75 / np.sqrt(DIM))
        v = self.centres[self.rng.integers(0, len(self.centres), n)] + noise
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def tokens(self, n: int) -> list[list[str]]:
        idx = self.rng.choice(len(self.words), size=(n, WORDS_PER_CHUNK), p=self.p)
        return [[self.words[i] for i in row] for row in idx]


class FixedEmbedder:
    """Returns the prepared query vector: the benchmark times retrieval, not the embedding model."""

    model_id, dim = "synthetic", DIM
    tokenizer_file, loaded = None, True

    def __init__(self) -> None:
        self.next = np.zeros(DIM, np.float32)

    def embed(self, texts, *, query=False):
        return np.tile(self.next, (len(texts), 1))

    def unk_rate(self, text: str) -> float:
        return 0.0


def build(kb: Path, n: int, synth: Synth) -> dict:
    from ingest.types import Chunk
    from rag.store.store import SCHEMA_VERSION, KBConfig, Store
    from rag.types import Document

    shutil.rmtree(kb, ignore_errors=True)
    t = time.perf_counter()
    store = Store.create(kb, KBConfig(schema_version=SCHEMA_VERSION, embedding_model="synthetic", dim=DIM,
                                      chunk_size=160, chunk_overlap=32, created_at="2026-01-01T00:00:00+00:00"))
    gen_s = 0.0
    with store.writer():
        for d in range(0, n, DOC_CHUNKS):
            g = time.perf_counter()
            m = min(DOC_CHUNKS, n - d)
            source = f"/synthetic/doc-{d // DOC_CHUNKS:05d}.txt"
            tokens = synth.tokens(m)
            chunks = [Chunk(id=d + i + 1, source=source, text=" ".join(tok), start=0, end=0)
                      for i, tok in enumerate(tokens)]
            vecs = synth.vectors(m)
            gen_s += time.perf_counter() - g
            store.put_document(Document(source=source, kind="txt", pages=None, rows=None, chunks=m,
                                        added_at="2026-01-01T00:00:00+00:00", sha256=f"{d}"), chunks, vecs, tokens)
    store.close()
    return {"build_s": time.perf_counter() - t - gen_s, "synth_s": gen_s}


def percentiles(ms: list[float]) -> tuple[float, float]:
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


