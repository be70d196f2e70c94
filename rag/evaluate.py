"""`rag eval`: retrieval and answer quality over a JSONL file of questions with gold evidence.

A hit counts when its text contains one of the question's evidence strings (white space ignored), or when its
file name is one of the question's gold `sources`. Answer checks: all `keywords` (or any of `answers`) appear
in the answer; each citation's passage holds the evidence; unanswerable questions are refused.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from rag.answer.gate import relevant
from rag.errors import ConfigError

_SPACE = re.compile(r"\s+")


@dataclass
class Question:
    question: str
    answerable: bool = True
    evidence: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    id: str = ""


@dataclass
class QuestionResult:
    id: str
    question: str
    rank: int | None = None  # of the first passage holding the evidence, in the top 5
    answer: str = ""
    refused: bool | None = None
    correct: bool | None = None
    citations_ok: list[bool] = field(default_factory=list)


@dataclass
class EvalResult:
    questions: int
    answerable: int
    recall_at_1: float
    recall_at_5: float
    mrr: float
    floor_keeps_answerable: float  # answerable questions with a passage over the relevance floor
    floor_refuses_unanswerable: float  # unanswerable questions with no passage over the floor
    answer_accuracy: float | None = None
    answers_cited: float | None = None
    citation_precision: float | None = None
    refusal_unanswerable: float | None = None
    false_refusal: float | None = None
    seconds: float = 0.0
    misses: list[str] = field(default_factory=list)
    details: list[QuestionResult] = field(default_factory=list)


def _norm(text: str) -> str:
    return _SPACE.sub("", text).lower()


def load_questions(path: Path) -> list[Question]:
    questions = []
    known = set(Question.__dataclass_fields__)
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            questions.append(Question(**{k: v for k, v in raw.items() if k in known}))
        except (json.JSONDecodeError, TypeError) as exc:
            raise ConfigError(f"{path}:{n}: not a question record ({exc})") from exc
    return questions


def holds_evidence(q: Question, text: str, source: str) -> bool:
    body = _norm(text)
    return any(_norm(e) in body for e in q.evidence) or Path(source).name in q.sources


def answer_correct(q: Question, text: str) -> bool:
    body = _norm(text)
    if q.answers:
        return any(_norm(a) in body for a in q.answers)
    return all(_norm(k) in body for k in q.keywords)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def evaluate(kb, questions: list[Question], *, answers: bool = False, mode: str = "hybrid") -> EvalResult:
    started = time.perf_counter()
    floor = kb.settings.relevance_floor
    ranks, keeps, refuses, misses = [], [], [], []
    correct, cited, precise, refused_un, refused_ans = [], [], [], [], []
    details = []
    for q in questions:
        detail = QuestionResult(id=q.id, question=q.question)
        details.append(detail)
        hits = kb.search(q.question, 5, mode=mode)
        over_floor = bool(relevant(hits, floor))
        if q.answerable:
            rank = next((i for i, h in enumerate(hits, 1) if holds_evidence(q, h.text, h.source)), None)
            detail.rank = rank
            ranks.append(rank)
            keeps.append(over_floor)
            if rank is None:
                misses.append(q.id or q.question)
        else:
            refuses.append(not over_floor)
        if not answers:
            continue
        answer = kb.ask(q.question)
        detail.answer, detail.refused = answer.text, answer.refused
        if not q.answerable:
            refused_un.append(answer.refused)
            continue
        refused_ans.append(answer.refused)
        detail.correct = not answer.refused and answer_correct(q, answer.text)
        correct.append(detail.correct)
        if not answer.refused:
            cited.append(bool(answer.citations))
            detail.citations_ok = [holds_evidence(q, c.text, c.source) for c in answer.citations]
            precise.extend(detail.citations_ok)
    n = len(ranks) or 1
    return EvalResult(
        questions=len(questions), answerable=len(ranks),
        recall_at_1=sum(r == 1 for r in ranks) / n,
        recall_at_5=sum(r is not None for r in ranks) / n,
        mrr=sum(1 / r for r in ranks if r) / n,
        floor_keeps_answerable=_mean(keeps) or 0.0,
        floor_refuses_unanswerable=_mean(refuses) if refuses else 1.0,
        answer_accuracy=_mean(correct), answers_cited=_mean(cited), citation_precision=_mean(precise),
        refusal_unanswerable=_mean(refused_un), false_refusal=_mean(refused_ans),
        seconds=time.perf_counter() - started, misses=misses, details=details,
    )


def format_report(r: EvalResult) -> str:
    rows = [("questions (answerable)", f"{r.questions} ({r.answerable})"),
            ("recall@1", f"{r.recall_at_1:.3f}"), ("recall@5", f"{r.recall_at_5:.3f}"), ("MRR", f"{r.mrr:.3f}"),
            ("floor keeps answerable", f"{r.floor_keeps_answerable:.3f}"),
            ("floor refuses unanswerable", f"{r.floor_refuses_unanswerable:.3f}")]
    for label, value in (("answer accuracy", r.answer_accuracy), ("answers with a citation", r.answers_cited),
                         ("citation precision", r.citation_precision),
                         ("refused when unanswerable", r.refusal_unanswerable),
                         ("refused when answerable", r.false_refusal)):
        if value is not None:
            rows.append((label, f"{value:.3f}"))
    rows.append(("seconds", f"{r.seconds:.1f}"))
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    if r.misses:
        lines.append("missed in top 5: " + ", ".join(r.misses[:20]) + (" …" if len(r.misses) > 20 else ""))
    return "\n".join(lines)
