from rag.answer import citations
from rag.answer.facts import invented_names, invented_numbers, names_in, unsupported_numbers
from rag.language import Question
from rag.types import Hit


def hit(text: str, n: int = 1) -> Hit:
    return Hit(text=text, source=f"/kb/doc{n}.pdf", page=n, sheet=None, rows=None, heading=None, score=1.0,
               chunk_id=n)


def test_names_are_titles_shaped_terms_and_known_people():
    found = names_in("王安石在《泊船瓜洲》里写的；GPT-4 和 MinerU 都支持，The Model is large.")
    assert {"泊船瓜洲", "GPT-4", "MinerU", "王安石"} <= found
    assert not {"The", "Model"} & found  # an ordinary capitalised word may be a translation


def test_a_name_no_passage_holds_is_invented_and_a_line_break_does_not_hide_one():
    passages = [hit("2023 AA+ 中诚信国际信\n用评级有限责\n任公司 稳定"), hit("《春晓》是孟浩然的诗。", 2)]
    assert invented_names("评级机构是中诚信国际信用评级有限责任公司", passages) == set()
    assert invented_names("这句出自《春夜喜雨》", passages) == {"春夜喜雨"}
    assert invented_names("这句出自《春夜喜雨》", passages, "《春夜喜雨》的作者是谁？") == set()


def test_numbers_compare_by_value_and_shown_arithmetic_is_the_answers_own():
    passages = [hit("营业收入(百万元) 746 1,567 3,684")]
    assert invented_numbers("2021 年营业收入 1567 百万元", passages, "2021 年的营业收入？") == set()
    assert invented_numbers("营业收入 1,600 百万元", passages) == {"1600"}
    assert unsupported_numbers("两年合计 746 + 1567 = 2313 百万元", passages) == set()
    assert unsupported_numbers("两年合计 2313 百万元", passages) == {"2313"}


def test_a_sentence_naming_a_title_its_passage_lacks_is_not_shown():
    passages = [hit("春风又绿江南岸，明月何时照我还。——《泊船瓜洲》"), hit("好雨知时节，当春乃发生。——《春夜喜雨》", 2)]
    question = Question.of("“春风又绿江南岸”这句出自哪首诗？")
    assert citations.attribute("这句出自《泊船瓜洲》 [1]。", passages, question)[0] == "这句出自《泊船瓜洲》 [1]。"
    assert citations.attribute("这句出自《春晓》 [1]。", passages, question) == ("", [])
