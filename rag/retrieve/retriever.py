"""Hybrid retrieval: dense vectors and a persisted keyword index, fused by weighted reciprocal rank.

The dense ranker's weight is `DENSE_SHARE * (1 - unk_rate(query))`: the share of the query the embedder can
read, because a dense model that cannot read the query's script (MiniLM on Chinese) drags fusion below keyword
search alone; and `DENSE_SHARE` < 1 so that where the rankers disagree on the top places, the keyword ranker's
exact matches (numbers, model names, table cells) break the tie. In hybrid mode only, a question that names a
document gives its candidates a small extra vote (`rag.retrieve.naming`), and the top two fused hits may swap
places after `rag.retrieve.rerank` asks the local LLM; "dense" and "keyword" stay single rankers, for comparison.
A hit is relevant when its dense cosine (looked up for keyword-only hits too) clears `relevance_floor`; when
none does, the KB has nothing to say and the LLM is not called.

Measurements: BENCHMARKS.md §7, Hybrid fusion weight.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rag.language import Question
from rag.models import Embedder
from rag.retrieve import naming
from rag.types import Hit

RRF_K = 60
DENSE_SHARE = 0.5


def rrf(rankings: list[list[int]], weights: list[float], k: int = RRF_K) -> dict[int, float]:
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return scores


class Retriever:
    def __init__(self, store, embedder: Embedder, *, candidates: int = 50, mode: str = "hybrid",
                 rerank: Callable[[str, list[Hit]], list[Hit]] | None = None, rerank_depth: int = 0,
                 names: naming.NameIndex | None = None) -> None:
        if mode not in {"hybrid", "dense", "keyword"}:
            raise ValueError("mode must be 'hybrid', 'dense' or 'keyword'")
        self.store, self.embedder, self.candidates, self.mode = store, embedder, candidates, mode
        self.rerank = rerank if mode == "hybrid" and rerank_depth > 1 else None
        self.rerank_depth = rerank_depth
        self.names = names if names is not None else naming.NameIndex()  # pass one in to keep the names across Retrievers

    def dense_weight(self, query: str) -> float:
        return DENSE_SHARE * (1.0 - self.embedder.unk_rate(query))

    def search(self, question: Question | str, k: int = 5) -> list[Hit]:
        if isinstance(question, str):
            question = Question.of(question)
        query = question.text.strip()
        if not query or self.store.chunk_count() == 0:
            return []
        n = max(k, self.candidates)
        qvec = np.asarray(self.embedder.embed([query], query=True), dtype=np.float32)[0]
        tokens = list(question.tokens)
        dense = self.store.dense_search(qvec, n) if self.mode != "keyword" else []
        keyword = self.store.keyword_search(tokens, n) if self.mode != "dense" else []
        weights = [self.dense_weight(query) if self.mode == "hybrid" else 1.0, 1.0]
        fused = rrf([[i for i, _ in dense], [i for i, _ in keyword]], weights)
        if self.mode == "hybrid" and (named := self.names.named(self.store, tokens)):
            for i, source in self.store.sources(list(fused)).items():
                if source in named:
                    fused[i] += naming.NAME_WEIGHT / (RRF_K + 1)
        shown = max(k, self.rerank_depth) if self.rerank else k
        top = sorted(fused, key=lambda i: (-fused[i], i))[:shown]
        cosine = dict(dense)
        missing = [i for i in top if i not in cosine]
        for i, vec in self.store.known_vectors(missing).items():
            cosine[i] = float(vec @ qvec)
        keyword_rank = {i: r for r, (i, _) in enumerate(keyword, start=1)}
        chunks = self.store.chunks(top)
        hits = [
            Hit(text=c.text, source=c.source, page=c.page, sheet=c.sheet, rows=c.rows, heading=c.heading,
                score=fused[i], chunk_id=i, dense=cosine.get(i), keyword_rank=keyword_rank.get(i))
            for i in top if (c := chunks.get(i)) is not None
        ]
        return (self.rerank(query, hits) if self.rerank else hits)[:k]
