"""Questions that name a document: "手册里说…", "按术语表的估算…", "According to the RAG guide, …".

Users point at a document by a word of its title or file name, and neither ranker sees that: the word is
rarely in the passage that holds the answer. So a document whose name the question uses gets a small extra
RRF vote for each of its chunks among the candidates (`rag.retrieve.retriever`).

What counts as naming: a query token that is in a document's name (its declared title, `ingest.titles`, plus
its file name) and is rare in the KB's text: in at most `RARE_SHARE` of the chunks. Title words that are also
topic words ("RAG" in "RAG 实践指南", "模型" in "大语言模型实用手册") are common in the text and do not name
anything; "手册", "术语表", "guide", "glossary" are rare there. When several documents are named, the ones
whose matching words are rarest (summed IDF) win, so "the LLM handbook" names the handbook and not the
"LLM 术语表". The vote stays small (`NAME_WEIGHT`): where every passage's title is its topic, a strong one hurts.

Trade-off: the name words of every document are tokenized once per KB generation, on the first search after a
change. Storing them at ingest would save that once-per-change cost at the price of a column to keep in step
with the tokenizer.

Measurements: BENCHMARKS.md §7, Document naming.
"""

from __future__ import annotations

import math
import re
import threading
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from rag.language import query_tokens

if TYPE_CHECKING:
    from rag.store.store import Store

RARE_SHARE = 0.05  # a name word may occur in at most this share of the chunks
NAME_WEIGHT = 0.1  # the naming vote's RRF weight; the keyword ranker's is 1.0 and the dense one's 0.5

_FILE_NAME_SEPARATORS = re.compile(r"[-_.+]+")


def name_tokens(source: str, title: str) -> set[str]:
    """The words a user may call a document by: its declared title and its file name without suffix."""
    stem = _FILE_NAME_SEPARATORS.sub(" ", Path(source).stem)
    return set(query_tokens(f"{title} {stem}"))


class DocumentNames:
    """Which documents each name word points at, for one generation of the KB."""

    def __init__(self, titles: Iterable[tuple[str, str]]) -> None:
        self.by_token: dict[str, set[str]] = {}
        for source, title in titles:
            for token in name_tokens(source, title):
                self.by_token.setdefault(token, set()).add(source)

    def candidates(self, tokens: Iterable[str]) -> list[str]:
        """The query tokens that are name words of some document."""
        return [t for t in dict.fromkeys(tokens) if t in self.by_token]

    def named(self, tokens: list[str], chunk_counts: dict[str, int], total_chunks: int) -> set[str]:
        """The documents the question names: the best-scoring ones by the summed IDF of their rare name words."""
        scores: dict[str, float] = {}
        for token in tokens:
            count = chunk_counts.get(token, 0)
            if token not in self.by_token or count > RARE_SHARE * total_chunks:
                continue
            idf = math.log((total_chunks + 1) / (count + 1))
            for source in self.by_token[token]:
                scores[source] = scores.get(source, 0.0) + idf
        if not scores:
            return set()
        best = max(scores.values())
        return {source for source, score in scores.items() if score >= best - 1e-9}


class NameIndex:
    """The `DocumentNames` of the KB a store reads now, rebuilt when it changes.

    Whoever searches more than once keeps one (`KnowledgeBase` does), so the names are tokenized once per
    generation, not once per search.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # two threads searching a changed KB build its names once
        self._built: tuple[weakref.ref[Store], Path, int | None, DocumentNames] | None = None

    def named(self, store: Store, tokens: list[str]) -> set[str]:
        """Sources of the documents the query (its `query_tokens`) names."""
        total = store.chunk_count()  # syncs, so the generation below is SQLite's current one
        names = self._names(store)
        candidates = names.candidates(tokens)
        if not candidates:
            return set()
        return names.named(candidates, store.chunk_counts(candidates), total)

    def _names(self, store: Store) -> DocumentNames:
        # The generation alone does not tell KBs apart: a reopened KB, or one a rebuild replaced (a new data
        # directory), may count from the same number. A weak reference, so a closed store is not kept alive.
        with self._lock:
            generation = store.generation
            data = store.data  # after `generation`, which follows a swap to the new data directory first
            built = self._built
            if built is None or built[0]() is not store or built[1] != data or built[2] != generation:
                built = (weakref.ref(store), data, generation, DocumentNames(store.titles()))
                self._built = built
            return built[3]
