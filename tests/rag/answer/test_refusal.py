from rag.answer.refusal import decide, declined
from rag.language import Question
from rag.types import Citation, Hit

HIT = Hit(text="温度越低，输出越确定。", source="/kb/faq.md", page=None, sheet=None, rows=None, heading=None,
          score=1.0, chunk_id=1, dense=0.9)
CITED = [Citation(number=1, source="/kb/faq.md", page=None, sheet=None, rows=None, heading=None, text=HIT.text)]
ZH, EN = Question.of("温度有什么用？"), Question.of("What does temperature do?")


def test_before_the_model_runs_no_usable_passage_or_an_unknown_name_refuses():
    assert decide(ZH, usable=[], unknown=[]).text == "资料中没有相关信息。"
    assert decide(EN, usable=[HIT], unknown=["GPT-5"]).text == \
        "The documents do not contain this information. (Not mentioned anywhere: GPT-5.)"
    assert decide(ZH, usable=[HIT], unknown=[]) is None  # the model may answer


def test_after_the_model_wrote_its_own_refusal_keeps_its_words_and_an_uncited_draft_is_replaced():
    assert decide(ZH, usable=[HIT], unknown=[], draft="资料中没有提到这一点。", citations=[]).text is None
    ungrounded = decide(EN, usable=[HIT], unknown=[], draft="It is about 42.", citations=[])
    assert ungrounded.text.startswith("The documents do not contain") and "not supported" in ungrounded.text
    assert decide(ZH, usable=[HIT], unknown=[], draft="温度越低越确定 [1]。", citations=CITED) is None


def test_the_models_ways_of_declining_are_recognised_in_both_languages():
    assert declined("资料中没有相关信息。") and declined("The passages do not contain that.")
    assert not declined("温度越低，输出越确定 [1]。")


def test_a_draft_stating_no_quantity_does_not_answer_how_many():
    asked = Question.of("劳务派遣用工不得超过用工总量的具体比例是多少？")
    off = decide(asked, usable=[HIT], unknown=[], draft="用工单位不得设立劳务派遣单位向本单位派遣劳动者。",
                 citations=CITED)
    assert off.text == "资料中没有相关信息。"
    for draft in ("不得超过用工总量的 10%。", "试用期不得超过二个月。"):  # digits or Chinese numerals
        assert decide(asked, usable=[HIT], unknown=[], draft=draft, citations=CITED) is None
    assert decide(Question.of("How many stages are there?"), usable=[HIT], unknown=[], draft="There are three.",
                  citations=CITED) is None
    # "哪几个环节" asks which stages, not how many.
    assert decide(Question.of("延迟主要花在哪几个环节上？"), usable=[HIT], unknown=[], draft="解码和重排序。",
                  citations=CITED) is None
