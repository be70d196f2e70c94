"""From retrieved passages to a cited answer, top to bottom:

gate (relevance floor, unknown names) → prompt → generate → check citations → refuse or answer.

`answer` returns an `AnswerStream` at once: the caller shows the model's pieces as they come, and the checked
`Answer` is built when the last piece is read. The model is loaded only when the gate lets a question through.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any

from rag.answer.citations import attribute, without_markers
from rag.answer.gate import Vocabulary, gate
from rag.answer.prompt import build_messages
from rag.answer.refusal import decide
from rag.language import Question
from rag.models import Generator as Model
from rag.types import Answer, Hit

Pieces = Generator[str, None, None]
# Eight markers in a row cite more passages than a prompt holds: the model is counting, not citing.
_MARKER_RUN = re.compile(r"(?:[\[【［]\s*\d+\s*[\]】］][\s,，、]*){8}$")


class AnswerStream:
    """Iterate for the answer's text pieces as the model writes them; then `.answer` holds the cited Answer."""

    def __init__(self, pieces: Pieces, finish: Callable[[str, float | None], Answer]) -> None:
        self._pieces, self._finish = pieces, finish
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        text, first = [], None
        for piece in self._pieces:
            first = first or time.perf_counter()
            text.append(piece)
            yield piece
        self.answer = self._finish("".join(text), first)

    def close(self) -> None:
        """Stop generating: a reader that walks away mid-answer (a closed browser tab) frees the model now
        rather than when the abandoned stream is garbage-collected."""
        self._pieces.close()


def answer(question: Question, hits: list[Hit], *, model: Callable[[], Model], index: Vocabulary,
           floor: float, n_ctx: int, options: dict[str, Any], started: float) -> AnswerStream:
    """The answer to `question` from `hits`. `model` loads the generator; `options` are its sampling options;
    `started` is when the question came in, for the timings."""
    usable, unknown = gate(question, hits, floor, index)
    retrieval = time.perf_counter() - started
    if refused := decide(question, usable=usable, unknown=unknown):
        reply = refused.text or ""
        return AnswerStream(_once(reply), lambda _text, _first: Answer(
            question=question.text, text=reply, refused=True, hits=hits,
            timings={"retrieval": retrieval, "total": time.perf_counter() - started}))

    generator = model()
    messages, used = build_messages(question, usable, count_tokens=generator.count_tokens, n_ctx=n_ctx,
                                    max_tokens=options["max_tokens"])
    pieces = stop_marker_runs(generator.stream(messages, **options))

    def finish(draft: str, first: float | None) -> Answer:
        text, citations = attribute(draft, used, question)
        refused = decide(question, usable=usable, unknown=unknown, draft=without_markers(draft),
                         citations=citations)
        timings = {"retrieval": retrieval, "total": time.perf_counter() - started}
        if first:
            timings["first_token"] = first - started
        return Answer(question=question.text, text=refused.text or text if refused else text,
                      citations=citations, refused=refused is not None, hits=used, timings=timings, draft=draft)

    return AnswerStream(pieces, finish)


def stop_marker_runs(pieces: Pieces) -> Pieces:
    """Pass the pieces on, but stop at a run of markers. The 1.5B model sometimes starts counting ("[3] [4]
    [5] … [108]") and would go on until max_tokens, seconds of nothing; the markers already written are
    sorted out by `attribute` like any others."""
    tail = ""
    try:
        for piece in pieces:
            yield piece
            tail = (tail + piece)[-160:]
            if _MARKER_RUN.search(tail.rstrip()):
                return
    finally:
        pieces.close()


def _once(text: str) -> Pieces:
    yield text
