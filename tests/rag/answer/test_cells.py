from rag.answer import citations
from rag.answer.cells import look_up, pointed_cell
from rag.language import Question
from rag.types import Hit

TABLE = ("职务 | 报销类型 | 一线城市报销标准（元） | 二线城市报销标准（元） | 三线城市报销标准（元）\n"
         "普通员工 | 住宿费 | 500 | 400 | 300\n"
         "区域总经理 | 住宿费 | 800 | 700 | 600\n"
         "区域总经理 | 伙食费 | 50 | 40 | 30")
ASKED = "区域总经理去一线城市出差，住宿费每天最多能报多少钱？"


def test_the_question_points_at_one_cell_by_its_row_and_its_column():
    assert pointed_cell(ASKED, TABLE) == "800"
    assert pointed_cell("普通员工去三线城市住宿费能报多少？", TABLE) == "300"
    # A row the table does not have (通讯费) is not named by a row that shares only the role.
    assert pointed_cell("区域总经理去一线城市出差，通讯费每天能报销多少？", TABLE) is None
    assert pointed_cell(ASKED, "温度越低，输出越确定。") is None  # not a table


def test_a_number_read_from_the_neighbouring_column_is_replaced_by_the_pointed_cell():
    assert look_up("住宿费每天最多能报 700 元", ASKED, TABLE) == "住宿费每天最多能报 800 元"
    # Left alone: the right cell, a number the question gives, two cells compared, a clause naming its column.
    assert look_up("住宿费每天最多能报 800 元", ASKED, TABLE) == "住宿费每天最多能报 800 元"
    assert look_up("一线是 800 元，二线是 700 元", ASKED, TABLE) == "一线是 800 元，二线是 700 元"
    assert look_up("二线城市报销标准（元）：700", ASKED, TABLE) == "二线城市报销标准（元）：700"


def test_the_answer_cites_the_row_it_was_looked_up_in():
    hit = Hit(text=TABLE, source="/kb/报销.xlsx", page=None, sheet="Sheet1", rows=(2, 4), heading=None, score=1.0,
              chunk_id=1)
    text, cites = citations.attribute("区域总经理去一线城市，住宿费最多报 700 元 [1]。", [hit], Question.of(ASKED))
    assert "800" in text and "700" not in text and [c.number for c in cites] == [1]


def test_an_answer_about_another_row_on_purpose_is_left_alone():
    # The answer names 普通员工, a row the question does not: a comparison, not a misread cell.
    answer = "普通员工一线城市住宿费是 500 元，区域总经理更高。"
    assert look_up("普通员工一线城市住宿费是 500 元", ASKED, TABLE, answer) == "普通员工一线城市住宿费是 500 元"
