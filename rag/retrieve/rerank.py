"""Re-ranking the top fused hits by query likelihood: how probable the local LLM finds the question once it
has read the passage ("UPR", Sachan et al. 2022). The model is asked to write a question about the passage,
and the log-probability per token of the user's actual question is the passage's score.

Why: the remaining recall@1 misses on the sample KB are near-ties that e5-small and BM25 both get wrong, such
as a glossary row against the handbook table that holds the asked number, or two neighbouring chunks of a PDF
page. Measured with the bundled Qwen2.5-Coder-1.5B on the top 5 hybrid hits of 98 answerable questions of
test8, test7 and test5 (each with the evidence in the top 5), rank-1 hits:
- hybrid order (shipped before): 86;
- re-ordered by the likelihood alone: 93 (top 2) or 93 (top 5);
- by likelihood + 0.3 / hybrid rank: 95 for the top 2, and 94, 95, 95 for the top 3, 4, 5.
So only the top two are scored: the same gain for two passages' cost, about 2 × 2 s on 2 cores. Over all
ten data/samples sets recall@1 went 345 → 371 of 403, CMRC2018 291 → 298 of 300 (BENCHMARKS §5).
Asking the same model "does this passage answer the question? 是/否" instead was worse than no re-ranking
(session 9, BENCHMARKS §5): a 1.5B model judges relevance poorly, but it knows what a passage is about.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from rag.errors import ModelNotAvailable
from rag.models.llm import Message
from rag.answer.prompt import passage_body
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
