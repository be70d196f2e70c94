"""Refusal: the one place that decides whether the user gets an answer or "the documents do not say".

Before the model runs, on what `rag.answer.gate` found: no passage clears the relevance floor, or the question
names terms the knowledge base never mentions. The model is then not called at all. After it wrote: the model
declined in its own words, or the citation checks found no passage that backs its draft, which is then not
shown, because a claim no document supports is worse than no answer; or the question asks how many, how much
or how long and the draft states no quantity at all: it answered something else ("劳务派遣的比例是多少？" answered
with a rule about who may not dispatch workers), because the documents lack the figure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.language import REFUSAL_EN, REFUSAL_ZH, Question, refusal_text
from rag.types import Citation, Hit

# How the model says the passages lack the answer, in its own words (the prompt asks for REFUSAL_ZH/EN).
_DECLINES = ("没有相关信息", "没有提到", "未提及", "没有提供", "无法回答", "not contain", "no information",
             "not mentioned", "does not mention", "cannot answer")


# "哪几个环节" asks which, not how many.
_QUANTITY = re.compile(r"多少|(?<!哪)几[个种次年月天岁位条项名倍]|多长|多久|多大|多高|多重|多远|比例|百分之几"
                       r"|how (?:many|much|long|old|far)|what (?:percentage|share|proportion)", re.IGNORECASE)
_NUMERAL = re.compile(r"[0-9０-９零〇一二两三四五六七八九十百千万亿半]|\b(?:one|two|three|four|five|six|seven|eight|"
                      r"nine|ten|eleven|twelve|twenty|hundred|thousand|million|billion|half|dozen|once|twice)\b",
                      re.IGNORECASE)


@dataclass(frozen=True)
class Refusal:
    text: str | None  # what to show instead of an answer; None keeps the model's own words of refusal


def declined(text: str) -> bool:
    """Whether the model's text says the passages do not hold the answer."""
    lowered = text.lower()
    return any(p in lowered for p in _DECLINES) or text.strip() in {REFUSAL_ZH, REFUSAL_EN}


def decide(question: Question, *, usable: list[Hit], unknown: list[str], draft: str | None = None,
           citations: list[Citation] | None = None) -> Refusal | None:
    """None when the answer stands; otherwise the refusal. Called before generation (no `draft`) and after
    it, with the draft (its [n] markers removed) and the citations the checks kept."""
    if not usable or unknown:
        return Refusal(refusal_text(question, unknown))
    if draft is None:
        return None
    if declined(draft):
        return Refusal(None)
    if not citations:
        return Refusal(refusal_text(question, ungrounded=True))
    if _QUANTITY.search(question.text) and not _NUMERAL.search(draft):
        return Refusal(refusal_text(question))
    return None
