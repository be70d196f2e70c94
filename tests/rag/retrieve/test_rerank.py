"""Re-ranking the top fused hits by the LLM's question likelihood, with a scripted likelihood."""

from __future__ import annotations

from rag.errors import ModelNotAvailable
from rag.retrieve.rerank import RANK_PRIOR, rerank
from rag.types import Hit


def _hits(*texts):
    return [Hit(text=t, source=f"{t}.md", page=None, sheet=None, rows=None, heading=None, score=1.0 / n, chunk_id=n)
            for n, t in enumerate(texts, 1)]


def scripted(scores):
    calls = []

    def likelihood(messages, question, *, lead=""):
        text = messages[-1]["content"]
        calls.append(text)
        return next(s for t, s in scores.items() if t in text)
    likelihood.calls = calls
    return likelihood


def test_the_second_hit_moves_up_when_the_question_is_clearly_likelier_after_it():
    hits = _hits("glossary row", "handbook table", "faq")
    likelihood = scripted({"glossary row": -4.0, "handbook table": -3.5, "faq": -1.0})
    assert [h.text for h in rerank("q", hits, likelihood)] == ["handbook table", "glossary row", "faq"]
    assert len(likelihood.calls) == 2  # only the top two are scored


def test_the_fused_order_stands_within_the_rank_prior():
    hits = _hits("a", "b")
    margin = RANK_PRIOR / 2  # what rank 1 gets over rank 2
    assert [h.text for h in rerank("q", hits, scripted({"a": -4.0, "b": -4.0 + margin * 0.9}))] == ["a", "b"]
    assert [h.text for h in rerank("q", hits, scripted({"a": -4.0, "b": -4.0 + margin * 1.1}))] == ["b", "a"]


def test_without_a_model_or_room_the_fused_order_stands():
    hits = _hits("a", "b")

    def missing(messages, question, *, lead=""):
        raise ModelNotAvailable("GGUF model not found")

    assert rerank("q", hits, missing) == hits
    assert rerank("q", hits, lambda *a, **k: None) == hits
    assert rerank("q", hits[:1], missing) == hits[:1]
