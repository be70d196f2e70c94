"""The contenders of `bench.ingest`, each living in its own process and taking the corpus one part at a time.

A contender loads its model once, then answers commands from the parent, one JSON line each way:
`{"run": [...]}` ingests (or encodes) one part and returns its seconds; `{"finish": [...]}` does the
untimed work at the end and returns the totals. The protocol owns the process's real stdout: everything
else printed, by us or by a library, goes to stderr.

- project: `KnowledgeBase.add(part)` into one KB, instrumented from the outside to show where the time goes
  (waiting for parse workers, embedding, keyword tokens, SQLite writes). It returns the texts it embedded,
  which the parent hands to the ceiling.
- ceiling: `SentenceTransformer.encode` alone on those texts (every Nth of them), in one call per part.
- LangChain: loaders → RecursiveCharacterTextSplitter → HuggingFaceEmbeddings → `FAISS.from_documents` for
  the first part, `add_documents` for the rest (`bench.baseline`).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from bench.common import Clock


class Project:
    def __init__(self, work: Path, every: int) -> None:
        from rag.api import KnowledgeBase
        from rag.settings import Settings
        from rag.store import indexer
        from rag.store.store import Store

        self.kb_dir = work / "kb-project"
        shutil.rmtree(self.kb_dir, ignore_errors=True)
        self.settings = Settings.load(kb=str(self.kb_dir))
        self.kb = KnowledgeBase(self.kb_dir, self.settings)
        self.kb.embedder.warm_up()
        self.kb.embedder.embed(["预热 warm-up"])
        self.clock, self.texts = Clock(), []
        real_embed = self.kb.embedder.embed

        def embed(texts, **kwargs):  # records what the ceiling must encode
            self.texts.extend(texts)
            return real_embed(texts, **kwargs)

        # Instrumented from the outside: the names the indexer looks up at call time are replaced by timed ones.
        self.kb.embedder.embed = self.clock.wrap("embed", embed)
        indexer.parse_files = self.clock.wrap_iter("wait for parse workers", indexer.parse_files)
        indexer.tokenize = self.clock.wrap("keyword tokens (jieba)", indexer.tokenize)
        Store.put_document = self.clock.wrap("SQLite + FTS5 writes", Store.put_document)
        Store.flush = self.clock.wrap("write index.faiss", Store.flush)
        self.every = every

    def run(self, files: list[str]) -> dict:
        self.texts = []
        t = time.perf_counter()
        report = self.kb.add(files)
        return {"seconds": time.perf_counter() - t, "docs": len(report.added), "failed": len(report.failed),
                "chunks": report.chunks_embedded, "chars": sum(map(len, self.texts)),
                "texts": self.texts[::self.every]}

    def finish(self, files: list[str]) -> dict:
        from bench.baseline import e5_path
        from bench.embcache import export_project_vectors

        parts = dict(self.clock.totals)
        t = time.perf_counter()
        again = self.kb.add(files)
        again_s = time.perf_counter() - t
        self.kb.close()
        # Outside any clock: hand the vectors to bench.quality, which needs the same ones.
        export_project_vectors(self.kb_dir, self.kb_dir.parent / "embeddings.sqlite", e5_path(self.settings))
        return {"parts": parts, "workers": self.settings.workers or os.cpu_count(),
                "batch": self.settings.embed_batch_size,
                "again": {"seconds": again_s, "unchanged": len(again.unchanged), "embedded": again.chunks_embedded}}


class Ceiling:
    def __init__(self, work: Path, every: int) -> None:
        from sentence_transformers import SentenceTransformer

        from bench.baseline import e5_path
        from rag.settings import Settings

        settings = Settings.load()
        self.batch = settings.embed_batch_size
        self.model = SentenceTransformer(e5_path(settings), device="cpu")
        self.encode(["预热 warm-up"])
        self.seen: list[str] = []

    def encode(self, texts: list[str]):
        return self.model.encode(texts, prompt_name="passage", batch_size=self.batch, normalize_embeddings=True,
                                 show_progress_bar=False)

    def run(self, texts: list[str]) -> dict:
        self.seen.extend(texts)
        t = time.perf_counter()
        self.encode(texts)
        return {"seconds": time.perf_counter() - t, "chunks": len(texts)}

    def finish(self, sample: int) -> dict:
        """What length-sorting is worth: one sorted call against batches in document order, same texts."""
        if not sample:
            return {}
        part = self.seen[len(self.seen) // 3:len(self.seen) // 3 + sample]
        t = time.perf_counter()
        self.encode(part)
        sorted_s = time.perf_counter() - t
        t = time.perf_counter()
        for i in range(0, len(part), self.batch):  # each call sorts only its own batch
            self.encode(part[i:i + self.batch])
        return {"sample": {"chunks": len(part), "sorted": sorted_s, "document_order": time.perf_counter() - t}}


class LangChain:
    def __init__(self, work: Path, every: int) -> None:
        from bench import baseline
        from rag.settings import Settings

        self.path = baseline.e5_path(Settings.load())
        self.emb = baseline.embeddings(self.path)
        self.emb.embed_documents(["预热 warm-up"])
        self.split = baseline.splitter(self.path)
        self.store, self.parts, self.cache = None, Clock(), work / "embeddings.sqlite"

    def run(self, files: list[str]) -> dict:
        from langchain_community.vectorstores import FAISS

        from bench import baseline

        t = time.perf_counter()
        docs = self.parts.wrap("loaders", baseline.load_all)(files)
        chunks = self.parts.wrap("splitter", self.split.split_documents)(docs)
        if self.store is None:
            self.store = self.parts.wrap("embed + FAISS", FAISS.from_documents)(chunks, self.emb)
        else:
            self.parts.wrap("embed + FAISS", self.store.add_documents)(chunks)
        return {"seconds": time.perf_counter() - t, "docs": len(files), "chunks": len(chunks),
                "chars": sum(len(c.page_content) for c in chunks)}

    def finish(self, _files: list[str]) -> dict:
        from bench.embcache import EmbeddingCache

        # Outside the clock: hand the vectors to bench.quality, which needs the same ones.
        store, c = self.store, EmbeddingCache(self.cache, f"{self.path}|langchain")
        vectors = store.index.reconstruct_n(0, store.index.ntotal)
        c.put((store.docstore.search(store.index_to_docstore_id[i]).page_content, vectors[i])
              for i in range(store.index.ntotal))
        c.close()
        return {"parts": self.parts.totals}


SIDES = {"project": Project, "ceiling": Ceiling, "langchain": LangChain}


def serve(name: str, work: Path, every: int) -> None:
    """The child's main loop: build the contender, say ready, then answer one command per line."""
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # from here on, anything printed to stdout (Python or C) lands on stderr
    sys.stdout = sys.stderr
    side = SIDES[name](work, every)
    protocol.write(json.dumps({"ready": True}) + "\n")
    protocol.flush()
    for line in sys.stdin:
        command = json.loads(line)
        out = side.finish(command["finish"]) if "finish" in command else side.run(command["run"])
        protocol.write(json.dumps(out, ensure_ascii=False) + "\n")
        protocol.flush()
