from rag.answer import citations
from rag.answer.cells import KeyedRow, borrowed_row, keyed_rows, look_up, pointed_cell, text_tables, year_lists
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


BANKS = ("表 7-2：截至 2023 年 3 月末发行人授信及使用情况\n单位：万元\n序号 金融机构名称 授信总额 已使用情况 剩余额度\n"
         "1 工商银行 330,435.30 234,850.00 95,585.30\n2 徽商银行南京中山北路支行 330,435.30 256,735.30 73,700.00")
# A PDF page with two tables side by side: a left table's heading row, then the right table's rows.
SIDE_BY_SIDE = ("主要财务指标 2021 2022E 2023E 2024E 利润表(百万元) 2021 2022E 2023E 2024E\n"
                "每股指标(元) 营业总收入 1,567 3,684 5,056 5,752\n"
                "每股净资产 7.13 10.43 15.39 21.76 毛利率% 33.7% 35.0% 36.0% 38.0%")


def test_the_rows_of_a_pdf_page_are_its_lines_of_a_label_and_numbers():
    rows, loose = keyed_rows(SIDE_BY_SIDE)
    assert KeyedRow((("营业总收入",),), frozenset({1567.0, 3684.0, 5056.0, 5752.0})) in rows
    assert KeyedRow((("毛利率%",),), frozenset({33.7, 35.0, 36.0, 38.0})) in rows
    assert KeyedRow((("每股净资产",),), frozenset({7.13, 10.43, 15.39, 21.76})) in rows
    assert 2024.0 in loose  # the header's years are not a row's cells
    rows, loose = keyed_rows(BANKS)
    assert KeyedRow((("工商银行",),), frozenset({330435.3, 234850.0, 95585.3})) in rows and 2023.0 in loose
    # In a table chunk, a role repeats over expense types: only the two together name a row. A column of
    # unique values names a row alone.
    rows, _ = keyed_rows(TABLE)
    assert rows[1].names == (("区域总经理", "住宿费"),)
    rows, _ = keyed_rows("Food | Examples | Calories\nLeaves | Ash | 50\nBerries | Blueberry | 150")
    assert rows[1].names == (("Berries",), ("Blueberry",), ("Berries", "Blueberry"))
    rows, _ = keyed_rows("模型 | 发布方 | 参数量（B）\nMistral 7B | Mistral AI | 7.3")  # one row: any key names it
    assert rows[0].names == (("Mistral 7B",), ("Mistral AI",), ("Mistral 7B", "Mistral AI"))


def test_a_number_borrowed_from_a_row_the_question_does_not_name_is_caught():
    asked = "截至2023年3月末，发行人在农业银行的授信总额是多少？"
    assert borrowed_row("发行人在农业银行的授信总额为330,435.30万元", asked, [BANKS])
    assert not borrowed_row("发行人在工商银行的授信总额为330,435.30万元", asked.replace("农业", "工商"), [BANKS])
    # The table has no 通讯费 row: 50 is the 伙食费 row's, whose key the question does not name.
    asked = "区域总经理去一线城市出差，通讯费每天能报销多少？"
    assert borrowed_row("通讯费每天能报销 50 元", asked, [TABLE])
    assert not borrowed_row("伙食费每天能报销 50 元", asked.replace("通讯费", "伙食费"), [TABLE])
    assert not borrowed_row("2024 年的毛利率能达到 38.0%", "研报预计 2024 年的毛利率能达到多少？", [SIDE_BY_SIDE])
    # A number the passage also states in prose is not a table cell only; an English question cannot name 住宿费.
    assert not borrowed_row("通讯费每天 50 元", "区域总经理的通讯费？", ["通讯费每天 50 元，实报实销。\n" + TABLE])
    # A list names its row once, in an earlier clause of the answer.
    listed = "机构：工商银行；授信总额：330,435.30"
    assert not borrowed_row("授信总额：330,435.30", "第一家银行的授信情况？", [BANKS], listed)
    in_prose = BANKS + "\n其中 330,435.30 万元已审批。"
    assert not borrowed_row("总额为 330,435.30 万元", "农业银行的授信总额？", [in_prose])
    assert not borrowed_row("The limit is 800 yuan.", "What is the hotel limit for 区域总经理 in tier-1 cities?",
                            [TABLE])


def test_an_answer_from_another_rows_cell_is_refused():
    hit = Hit(text=BANKS, source="/kb/说明书.pdf", page=1, sheet=None, rows=None, heading=None, score=1.0,
              chunk_id=1)
    question = Question.of("截至2023年3月末，发行人在农业银行的授信总额是多少？")
    assert citations.attribute("发行人在农业银行的授信总额为330,435.30万元 [1]。", [hit], question) == ("", [])


def test_a_pdf_table_with_year_columns_is_read_by_its_header():
    assert text_tables(SIDE_BY_SIDE) == [
        (["主要财务指标", "2021", "2022E", "2023E", "2024E"], [["每股净资产", "7.13", "10.43", "15.39", "21.76"]]),
        (["利润表(百万元)", "2021", "2022E", "2023E", "2024E"],
         [["营业总收入", "1,567", "3,684", "5,056", "5,752"], ["毛利率%", "33.7", "35.0", "36.0", "38.0"]]),
    ]
    asked = "德邦预测 2023 年的营业收入是多少（百万元）？"
    # The sentence read the 2024 column; the question points at 2023, and the cell keeps its thousands separator.
    assert look_up("2023 年的营业收入是 5,752 百万元", asked, SIDE_BY_SIDE) == "2023 年的营业收入是 5,056 百万元"
    assert look_up("2023 年的营业收入是 5,056 百万元", asked, SIDE_BY_SIDE) == "2023 年的营业收入是 5,056 百万元"
    assert text_tables("目前 36 线单 GW 切割线耗约 50 万公里，较 38 线提升约 30%。") == []


def test_a_cell_read_from_a_neighbouring_chunk_is_looked_up_in_the_chunk_that_holds_the_row():
    header = "职务 | 报销类型 | 一线城市报销标准（元） | 二线城市报销标准（元） | 三线城市报销标准（元）\n"
    first = Hit(text=header + "部门总监 | 住宿费 | 700 | 600 | 500\n部门主管 | 伙食费 | 50 | 40 | 30",
                source="/kb/报销.xlsx", page=None, sheet="Sheet1", rows=(2, 3), heading=None, score=1.0, chunk_id=1)
    second = Hit(text=header + "部门总监 | 伙食费 | 50 | 40 | 30\n部门总监 | 交通费 | 50 | 40 | 30",
                 source="/kb/报销.xlsx", page=None, sheet="Sheet1", rows=(4, 5), heading=None, score=1.0, chunk_id=2)
    question = Question.of("部门总监去二线城市出差，伙食费每天能报销多少？")
    text, cites = citations.attribute("部门总监去二线城市出差，伙食费每天能报销 50 元 [1]。", [first, second], question)
    assert text == "部门总监去二线城市出差，伙食费每天能报销 40 元 [2]。" and [c.number for c in cites] == [2]
    # A sentence whose cited chunk holds the pointed cell is not moved: 40 is right there.
    text, _ = citations.attribute("伙食费每天能报销 40 元 [2]。", [first, second], question)
    assert text == "伙食费每天能报销 40 元 [2]。"


def test_figures_listed_after_a_span_of_years_are_a_table():
    prose = "盈利预测：预计公司 2022-2024 年归母净利润 4.7、7.2、9.3 亿元，对应 PE 30、20、15 倍，维持评级。"
    assert year_lists(prose) == [(["", "2022", "2023", "2024"], [["归母净利润", "4.7", "7.2", "9.3"],
                                                                 ["对应 PE", "30", "20", "15"]])]
    asked = "德邦预测高测股份 2023 年的净利润是多少？"
    assert look_up("2023 年的净利润是 9.3 亿元", asked, prose) == "2023 年的净利润是 7.2 亿元"
    assert year_lists("2021 年到 2023 年，公司营收增长 30%。") == []  # no list of one figure a year
