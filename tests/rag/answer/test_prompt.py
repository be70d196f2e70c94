from rag.answer.prompt import build_messages, passage_body
from rag.language import REMINDER_EN, REMINDER_ZH, Question, asks_in_chinese, refusal_text
from rag.types import Hit


def _hit(text, rows=None, sheet=None):
    return Hit(text=text, source="/kb/glossary.xlsx", page=None, sheet=sheet, rows=rows, heading=None, score=1.0,
               chunk_id=1)


def test_table_rows_reach_the_model_as_column_value_pairs():
    text = ("表 1-1 不同精度下 7B 模型的权重大小\n精度 | 每个参数的字节数 | 7B 模型权重大小\n"
            "FP32（单精度） | 4 | 约 28 GB\nFP16 / BF16（半精度） | 2 | 约 14 GB\n注：按 1 GB = 10⁹ 字节估算")
    assert passage_body(_hit(text, rows=(2, 5), sheet="table 1")).split("\n") == [
        "表 1-1 不同精度下 7B 模型的权重大小",
        "精度：FP32（单精度）；每个参数的字节数：4；7B 模型权重大小：约 28 GB",
        "精度：FP16 / BF16（半精度）；每个参数的字节数：2；7B 模型权重大小：约 14 GB",
        "注：按 1 GB = 10⁹ 字节估算",  # a one-cell note stays as it is
    ]
    # A row written without its trailing empty cells pairs what it has.
    assert passage_body(_hit("术语 | English | 解释\n分词器 | Tokenizer", rows=(3, 3))) == \
        "术语：分词器；English：Tokenizer"


def test_text_and_tables_without_a_header_go_in_unchanged():
    assert passage_body(_hit("温度参数控制随机程度 | 越低越确定")) == "温度参数控制随机程度 | 越低越确定"  # no rows
    one_row_sheet = "Mistral 7B | Apache-2.0"
    assert passage_body(_hit(one_row_sheet, rows=(1, 1))) == one_row_sheet
    # Three lines for a one-row range cannot be a header and its rows.
    assert passage_body(_hit("a | b\nc | d\ne | f", rows=(4, 4))) == "a | b\nc | d\ne | f"


def test_the_prompt_carries_the_rendered_rows_under_the_passage_header():
    hit = _hit("术语 | English | 解释\n分词器 | Tokenizer | 把文本切成 token", rows=(3, 3), sheet="术语")
    messages, used = build_messages(Question.of("分词器是什么？"), [hit], count_tokens=len, n_ctx=4096, max_tokens=256)
    assert used == [hit]
    assert "[1] 来源：glossary.xlsx，术语, row 3\n术语：分词器；English：Tokenizer；解释：把文本切成 token" \
        in messages[-1]["content"]


def test_passages_keep_their_rank_numbers_but_the_best_sits_next_to_the_question():
    hits = [Hit(text=f"第 {n} 名的段落", source=f"/kb/{n}.md", page=None, sheet=None, rows=None, heading=None,
                score=1.0 / n, chunk_id=n) for n in (1, 2, 3)]
    messages, used = build_messages(Question.of("问题？"), hits, count_tokens=len, n_ctx=4096, max_tokens=256)
    assert used == hits  # [n] still maps to the n-th best hit
    content = messages[-1]["content"]
    order = [content.index(f"[{n}] 来源：{n}.md") for n in (3, 2, 1)]
    assert order == sorted(order)
    assert content.index("第 1 名的段落") < content.index("问题：问题？")
    assert "第 1 名的段落" in content.split("\n\n")[-2]  # the last passage block before the question


def test_one_rule_decides_the_language_of_everything_said_back():
    from rag.answer.citations import quote_answer

    hit = _hit("温度控制随机程度。温度越低，回答越确定。")
    english, chinese = "What does a lower 温度 do?", "Q4_K_M 是什么？"
    assert not asks_in_chinese(english) and asks_in_chinese(chinese)
    english, chinese = Question.of(english), Question.of(chinese)
    assert not english.chinese and chinese.chinese  # decided once, carried by the question
    assert refusal_text(english).startswith("The documents")
    assert quote_answer(english, [hit])[0].startswith("From the documents")
    messages, _ = build_messages(english, [hit], count_tokens=len, n_ctx=4096, max_tokens=256)
    assert messages[-1]["content"].endswith(REMINDER_EN)
    assert refusal_text(chinese).startswith("资料中")
    messages, _ = build_messages(chinese, [hit], count_tokens=len, n_ctx=4096, max_tokens=256)
    assert messages[-1]["content"].endswith(REMINDER_ZH)
