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
