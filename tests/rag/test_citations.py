from rag.citations import attribute, best_quote, is_refusal, support
from rag.types import Hit


def hit(text: str, n: int) -> Hit:
    return Hit(text=text, source=f"/kb/doc{n}.pdf", page=n, sheet=None, rows=None, heading=None, score=1.0,
               chunk_id=n)


PASSAGES = [
    hit("温度参数用来调整概率分布的平滑程度。温度越低，输出越确定。", 1),
    hit("Top-p 采样只在累计概率达到 p 的最小词集合里抽样，也叫核采样。", 2),
    hit("量化把 32 位浮点权重压缩为 4 位整数，模型体积缩小约八倍。", 3),
]


def test_valid_markers_are_kept_and_mapped_to_their_passage():
    text, cites = attribute("温度越低，输出越确定 [1]。", PASSAGES)
    assert "[1]" in text
    assert [(c.number, c.page) for c in cites] == [(1, 1)]
    assert cites[0].quote == "温度越低，输出越确定。"


def test_wrong_marker_is_reattributed_to_the_supporting_passage():
    text, cites = attribute("量化把 32 位浮点权重压缩为 4 位整数 [2]。", PASSAGES)
    assert "[3]" in text and "[2]" not in text
    assert [c.number for c in cites] == [3]


def test_out_of_range_and_placeholder_markers_are_dropped_and_support_is_attached():
    text, cites = attribute("Top-p 采样也叫核采样 [7][编号]。", PASSAGES)
    assert "[7]" not in text and "编号" not in text
    assert [c.number for c in cites] == [2]


def test_marker_variants_are_normalised():
    text, cites = attribute("温度越低，输出越确定【1】。量化让模型体积缩小约八倍[资料3]。", PASSAGES)
    assert [c.number for c in cites] == [1, 3]
    assert "[1]" in text and "[3]" in text


def test_uncited_answer_gets_at_least_one_citation():
    text, cites = attribute("模型体积缩小约八倍", PASSAGES)
    assert cites and cites[0].number == 3


def test_refusal_carries_no_citation():
    text, cites = attribute("资料中没有相关信息。", PASSAGES)
    assert is_refusal(text) and cites == []


def test_support_is_high_for_copied_text_and_low_for_unrelated():
    assert support("温度越低，输出越确定", PASSAGES[0].text) > 0.9
    assert support("长江全长约六千三百公里", PASSAGES[0].text) < 0.2


def test_best_quote_picks_the_matching_sentence():
    assert best_quote("核采样", PASSAGES[1].text).startswith("Top-p")


def test_answer_that_no_passage_supports_gets_no_citation():
    text, cites = attribute("2025年诺贝尔物理学奖得主是阿方索·爱因斯坦。", PASSAGES)
    assert cites == []


def test_markers_trailing_after_the_last_sentence_are_not_trusted():
    text, cites = attribute("温度越低，输出越确定 [1]。 [3]", PASSAGES)
    assert [c.number for c in cites] == [1]
    assert "[3]" not in text


def test_english_answer_over_chinese_passages_keeps_the_models_valid_markers():
    text, cites = attribute("Quantization shrinks the model about eight times [3][9].", PASSAGES)
    assert [c.number for c in cites] == [3]
    assert "[9]" not in text and "[3]" in text
    text, cites = attribute("Top-p sampling is also called nucleus sampling.", PASSAGES)
    assert [c.number for c in cites] == [1] and "[1]" in text
