"""The contenders of `bench.quality`: the project's answer pipeline with one ranker each, and LangChain's retriever.

Every contender is a `KnowledgeBase` whose `search` is pinned to one ranker, so `rag.evaluate.evaluate` scores
retrieval and answers of all of them with the same code: the same prompt, citation checking and refusal
rules. Only the passages differ. For LangChain that means its retriever (FAISS over
RecursiveCharacterTextSplitter chunks, same e5 model) feeding the project's prompt: the comparison isolates
retrieval, which is the part a LangChain user would have built differently.

Two caches keep the run within budget, neither of them changes a measurement:
- passage vectors (`bench.embcache`), filled by `bench.ingest` from the same model and texts;
- answers by prompt (`MemoGenerator`): when two rankers hand the model the same passages in the same order,
  the prompt is identical and its answer is generated once.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench.embcache import EmbeddingCache
from rag.api import KnowledgeBase
from rag.types import Hit


class CachedEmbedder:
    """The project's embedder with passage vectors served from the cache, and each query embedded once.

    Every ranker (and `ask` after `search`) embeds the same question again; on a busy 2-core machine one
    e5 query takes up to a second, so that would be a large share of the run.
    """

    def __init__(self, inner, cache: EmbeddingCache) -> None:
        self._inner, self._cache = inner, cache
        self._queries: dict[str, np.ndarray] = {}

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def embed(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        if not query:
            return self._cache.embed(list(texts), self._inner.embed)
        if not texts:
            return self._inner.embed([], query=True)
        missing = [t for t in dict.fromkeys(texts) if t not in self._queries]
        if missing:
            self._queries.update(zip(missing, self._inner.embed(missing, query=True)))
        return np.stack([self._queries[t] for t in texts])


class MemoGenerator:
    """The LLM, answering each distinct prompt once; `calls` and `reused` count what happened."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self._answers: dict[str, str] = {}
        self.calls = self.reused = 0

    @property
    def name(self) -> str:
        return self._inner.name

    def count_tokens(self, text: str) -> int:
        return self._inner.count_tokens(text)

    def stream(self, messages, **sampling):
        key = json.dumps([messages, sampling], ensure_ascii=False, sort_keys=True)
        if key in self._answers:
            self.reused += 1
            yield self._answers[key]
            return
        self.calls += 1
        pieces = []
        for piece in self._inner.stream(messages, **sampling):
            pieces.append(piece)
            yield piece
        self._answers[key] = "".join(pieces)


class LangChainRetriever:
    """FAISS similarity search over LangChain's chunks of the same files, returning the project's `Hit`s."""

    def __init__(self, files: list[str], model_path: str, cache: EmbeddingCache) -> None:
        from langchain_community.vectorstores import FAISS
        from langchain_core.embeddings import Embeddings

        from bench import baseline

        inner = baseline.embeddings(model_path)
        queries: dict[str, list[float]] = {}

        class Cached(Embeddings):
            def embed_documents(self, texts):
                compute = lambda t: np.array(inner.embed_documents(t), dtype=np.float32)
                return cache.embed(list(texts), compute).tolist()

            def embed_query(self, text):  # each question once, as for the project (CachedEmbedder)
                if text not in queries:
                    queries[text] = inner.embed_query(text)
                return queries[text]

        chunks = baseline.splitter(model_path).split_documents(baseline.load_all(files))
        self.chunks = len(chunks)
        self.store = FAISS.from_documents(chunks, Cached())

    def search(self, query: str, k: int) -> list[Hit]:
        hits = []
        for i, (doc, distance) in enumerate(self.store.similarity_search_with_score(query, k=k)):
            cosine = 1.0 - float(distance) / 2.0  # FAISS returns squared L2; between unit vectors 2 - 2·cos
            page = doc.metadata.get("page")
            hits.append(Hit(text=doc.page_content, source=doc.metadata.get("source", ""),
                            page=page + 1 if isinstance(page, int) else None, sheet=doc.metadata.get("sheet"),
                            rows=None, heading=None, score=cosine, chunk_id=i, dense=cosine))
        return hits


class RankerKB(KnowledgeBase):
    """A `KnowledgeBase` whose searches (for `evaluate` and inside `ask`) all use one ranker."""

    def __init__(self, path: Path, settings, *, ranker: str, embedder, generator,
                 langchain: LangChainRetriever | None = None) -> None:
        super().__init__(path, settings, embedder=embedder, generator=generator, create=False)
        self.ranker, self.langchain = ranker, langchain

    def search(self, query: str, k: int | None = None, *, mode: str = "hybrid") -> list[Hit]:
        k = k or self.settings.top_k
        if self.langchain is not None:
            return self.langchain.search(query, k)
        return super().search(query, k, mode=self.ranker)
