"""Re-ranking the top fused hits by query likelihood: how probable the local LLM finds the question once it
has read the passage ("UPR", Sachan et al. 2022). The model is asked to write a question about the passage,
and the log-probability per token of the user's actual question, plus a prior for the fused rank
(`RANK_PRIOR`), is the passage's score.

Why: the recall@1 misses left after fusion are near-ties that e5-small and BM25 both get wrong, such as a
glossary row against the handbook table that holds the asked number, or two neighbouring chunks of a PDF page.
Only the top two (`DEPTH`) are scored: scoring more gained nothing, and each passage costs an LLM pass. Asking
the model "does this passage answer the question?" instead was worse than no re-ranking: a 1.5B model judges
relevance poorly, but it knows what a passage is about.

Measurements: BENCHMARKS.md §7, Query-likelihood re-ranking.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from rag.answer.prompt import passage_body
from rag.errors import ModelNotAvailable
from rag.models import Message
from rag.types import Hit

DEPTH = 2
RANK_PRIOR = 0.3
PASSAGE_CHARS = 700  # long enough for a 160-token chunk, short enough to fit the scorer's window
INSTRUCTION = "请阅读下面这段资料，然后提出一个能用这段资料回答的问题。"

Likelihood = Callable[..., "float | None"]
log = logging.getLogger(__name__)
_said: set[str] = set()


def question_prompt(hit: Hit) -> list[Message]:
    return [{"role": "user", "content": f"{INSTRUCTION}\n\n资料：\n{passage_body(hit)[:PASSAGE_CHARS]}"}]


def rerank(question: str, hits: list[Hit], likelihood: Likelihood, depth: int = DEPTH) -> list[Hit]:
    """The hits with the top `depth` re-ordered by likelihood plus a prior for their fused rank. Without a
    model to score with, or when a passage does not fit the scorer, the fused order stands."""
    head = hits[:depth]
    if len(head) < 2:
        return hits
    try:
        scores = [likelihood(question_prompt(hit), question, lead="问题：") for hit in head]
    except ModelNotAvailable as exc:
        if str(exc) not in _said:  # once per reason, not on every search
            _said.add(str(exc))
            log.warning("results are not re-ranked: %s", exc)
        return hits
    if any(score is None for score in scores):
        return hits
    order = sorted(range(len(head)), key=lambda i: (-(scores[i] + RANK_PRIOR / (i + 1)), i))
    return [head[i] for i in order] + hits[depth:]
