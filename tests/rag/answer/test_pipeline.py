import pytest

from rag.answer.pipeline import answer, stop_marker_runs
from rag.language import Question
from rag.types import Hit


class Index:
    """A keyword index that knows every token, so the gate's name check passes."""

    def keyword_search(self, tokens, k):
        return [(1, 1.0)]

    def starts_compound(self, token):
        return False

    def chunk_counts(self, tokens):
        return {}

    def chunk_count(self):
        return 1


def _hit(dense):
    return Hit(text="温度越低，输出越确定。", source="/kb/faq.md", page=None, sheet=None, rows=None, heading=None,
               score=1.0, chunk_id=1, dense=dense)


OPTIONS = {"temperature": 0.0, "top_p": 1.0, "max_tokens": 64, "seed": 0}


def test_a_question_the_gate_refuses_never_loads_the_model():
    def model():
        pytest.fail("the model was loaded for a refused question")

    stream = answer(Question.of("温度有什么用？"), [_hit(0.1)], model=model, index=Index(), floor=0.5, n_ctx=2048,
                    options=OPTIONS, started=0.0)
    assert list(stream) == ["资料中没有相关信息。"]
    assert stream.answer.refused and stream.answer.hits == [_hit(0.1)]


def test_the_draft_goes_through_the_citation_checks(fake_generator):
    fake_generator.replies.append("温度越低，输出越确定 [1]。")
    stream = answer(Question.of("温度有什么用？"), [_hit(0.9)], model=lambda: fake_generator, index=Index(),
                    floor=0.5, n_ctx=2048, options=OPTIONS, started=0.0)
    assert "".join(stream) == "温度越低，输出越确定 [1]。"
    assert not stream.answer.refused and [c.number for c in stream.answer.citations] == [1]
    assert stream.answer.draft == "温度越低，输出越确定 [1]。"


def test_a_run_of_markers_ends_the_stream_and_closes_the_model():
    closed = []

    def counting():
        try:
            for n in range(1, 200):
                yield f"[{n}] "
        finally:
            closed.append(True)

    pieces = list(stop_marker_runs(counting()))
    assert len(pieces) == 8 and closed == [True]
