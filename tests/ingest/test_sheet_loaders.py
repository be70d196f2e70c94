"""Spreadsheet loaders: rows as sections, row numbers as Excel shows them, merged cells, encodings, bad files."""

from __future__ import annotations

import csv
import io
import time
import tracemalloc
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from ingest.errors import LoaderError
from ingest.loaders.sheets import cell_text, load_csv, load_xls, load_xlsx
from ingest.types import Section
from tests.conftest import corpus_file, load_with_warnings

corpus = corpus_file


run = load_with_warnings


def by_row(sections: list[Section], sheet: str) -> dict[int, Section]:
    return {s.rows[0]: s for s in sections if s.sheet == sheet}


def patch_member(path: Path, member: str, old: bytes, new: bytes) -> None:
    """Rewrite one file inside a zip package: how a test gives openpyxl output what Excel would have written."""
    with zipfile.ZipFile(path) as source:
        items = [(info, source.read(info.filename)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in items:
            if info.filename == member:
                assert old in data, f"{old!r} not in {member}"
                data = data.replace(old, new)
            target.writestr(info, data)


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    wb = openpyxl.Workbook()
    sales = wb.active
    sales.title = "销售"
    sales.append(["地区", "产品", "数量", "日期", "占比"])
    sales.append(["华东", "苹果", 10.0, datetime(2024, 1, 5), 0.25])
    sales["E2"].number_format = "0%"
    sales.append([])  # row 3 stays empty
    sales.append(["华北", "香蕉\n（进口）", 2.5, datetime(2024, 2, 1, 9, 30), None])
    sales.append([None, "梨", 7])  # A4:A5 merged: "华北" fills A5
    sales.merge_cells("A4:A5")
    sales.append(["合计", None, "=SUM(C2:C5)"])  # the cached value is patched in below
    notes = wb.create_sheet("Notes")
    notes.append(["2024年报销标准"])
    notes.merge_cells("A1:C1")  # a banner: not repeated into B and C
    notes.append(["职务", "住宿费", "伙食费"])
    notes.append(["普通员工", 500, 50])
    path = tmp_path / "book.xlsx"
    wb.save(path)
    patch_member(path, "xl/worksheets/sheet1.xml", b"<f>SUM(C2:C5)</f><v></v>", b"<f>SUM(C2:C5)</f><v>19.5</v>")
    return path


def test_xlsx_rows_become_sections_with_excel_row_numbers(workbook: Path) -> None:
    sections, problems = run(load_xlsx, workbook)
    assert problems == []
    sales = by_row(sections, "销售")
    assert sorted(sales) == [2, 4, 5, 6]  # the empty row 3 is skipped but keeps the numbering
    header = "地区 | 产品 | 数量 | 日期 | 占比"
    assert all(s.header == header and s.rows == (r, r) for r, s in sales.items())
    assert sales[2].text == "华东 | 苹果 | 10 | 2024-01-05 | 25%"
    assert sales[4].text == "华北 | 香蕉 （进口） | 2.5 | 2024-02-01 09:30:00"


def test_xlsx_merged_cells_fill_their_range(workbook: Path) -> None:
    sales = by_row(run(load_xlsx, workbook)[0], "销售")
    assert sales[5].text == "华北 | 梨 | 7"


def test_xlsx_formula_gives_its_cached_value(workbook: Path) -> None:
    sales = by_row(run(load_xlsx, workbook)[0], "销售")
    assert sales[6].text == "合计 |  | 19.5"


def test_xlsx_title_row_above_the_header_is_its_own_section(workbook: Path) -> None:
    sections = [s for s in run(load_xlsx, workbook)[0] if s.sheet == "Notes"]
    assert [(s.rows, s.header, s.text) for s in sections] == [
        ((1, 1), None, "2024年报销标准"),
        ((3, 3), "职务 | 住宿费 | 伙食费", "普通员工 | 500 | 50"),
    ]


def test_xlsx_understated_dimension_does_not_cut_rows(workbook: Path) -> None:
    # Some writers record "A1" whatever the size; read-only openpyxl would then return one cell.
    patch_member(workbook, "xl/worksheets/sheet1.xml", b'<dimension ref="A1:E6"/>', b'<dimension ref="A1"/>')
    sales = by_row(run(load_xlsx, workbook)[0], "销售")
    assert sorted(sales) == [2, 4, 5, 6]
    assert sales[2].text.endswith("| 25%")


def test_xlsx_stops_after_a_long_run_of_empty_rows(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["key", "value"])
    ws.append(["a", 1])
    ws.cell(row=900, column=1, value="near")  # 897 empty rows above: still read
    ws.cell(row=2000, column=1, value="far")  # 1,099 empty rows above: not reached
    path = tmp_path / "gappy.xlsx"
    wb.save(path)
    sections, problems = run(load_xlsx, path)
    assert [(s.rows, s.text) for s in sections] == [((2, 2), "a | 1"), ((900, 900), "near")]
    assert len(problems) == 1 and "'Sheet'" in problems[0] and "1000 empty rows" in problems[0]


def test_xlsx_inflated_dimension_is_fast_and_warns() -> None:
    path = corpus("bad/xlsx_inflated_dimension_1M_rows.xlsx")
    started = time.perf_counter()
    sections, problems = run(load_xlsx, path)
    assert time.perf_counter() - started < 20
    sheet1 = by_row(sections, "Sheet1")
    assert sorted(sheet1) == [2, 3, 4, 5, 6, 7]
    assert sheet1[2].header == "first | second | third" and sheet1[7].text == "6 | 0 | -6"
    assert {s.sheet for s in sections} == {"Sheet1", "Sheet2", "Sheet3", "Sheet4"}  # later sheets still read
    assert len(problems) == 1 and "Sheet1" in problems[0]


def test_xlsx_corpus_merged_formula_and_image_cells() -> None:
    sections, problems = run(load_xlsx, corpus("xlsx/en_mineru_xlsx_01_multisheet_merged.xlsx"))
    assert problems == []
    sheet1 = by_row(sections, "Sheet1")
    assert sheet1[8].text == "21 | hyperlink"  # =SUM(A2:A7), cached by the spreadsheet program
    assert 9 not in sheet1  # only a WPS in-cell picture (=DISPIMG) there
    sheet3 = by_row(sections, "Sheet3")
    assert sheet3[2].header == "first | header"
    assert sheet3[5].text == "3 | 6 | 7"  # A4:A5 merged
    assert sheet3[7].text == "10 | 9 | 9 |  | first (f) | header (f)"  # B6:C7 merged, value 9
    assert sheet3[8].text == " |  |  |  | first (f) | second | third"  # E7:E8 merged
    assert by_row(sections, "Sheet4")[2].text == "1"  # hidden sheets are read too


def test_xlsm_dates_are_iso() -> None:
    sections, _ = run(load_xlsx, corpus("xlsx/en_docling_xlsx_02_sample_sales_data.xlsm"))
    assert len(sections) == 20
    assert sections[0].header == "Product | Date | Quantity | Revenue"
    first = sections[0]
    assert (first.sheet, first.rows, first.text) == ("SalesData", (2, 2), "Widget A | 2024-01-01 | 5 | 5000")
    assert sections[-1].rows == (21, 21)


def test_xlsx_chinese_table() -> None:
    sections, _ = run(load_xlsx, corpus("xlsx/zh_maxkb_table_template_zh.xlsx"))
    assert len(sections) == 12
    assert sections[0].header.startswith("职务 | 报销类型 | 一线城市报销标准（元）")
    assert sections[3].text == "区域总经理 | 住宿费 | 800 | 700 | 600" and sections[3].rows == (5, 5)


def test_empty_workbook_warns() -> None:
    sections, problems = run(load_xlsx, corpus("xlsx/en_unstructured_empty.xlsx"))
    assert sections == [] and problems == ["no text found"]


def test_damaged_xlsx_raises_loader_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(LoaderError, match="save it again as .xlsx"):
        list(load_xlsx(path))


def test_xls_sheets_titles_and_numbers() -> None:
    sections, problems = run(load_xls, corpus("xlsx/en_unstructured_tests-example.xls"))
    assert problems == []
    assert [s.sheet for s in sections][:1] == ["Example Test"]
    example = by_row(sections, "Example Test")
    assert example[6].text.startswith("FIB | The student activities fee is | 95 | dollars")  # 95.0 read as 95
    abbr = by_row(sections, "Format Abbr.")
    assert (abbr[4].header, abbr[4].text) == (None, "http://www.cmu.edu/blackboard")  # A4:B4 merged, not repeated
    assert (abbr[9].header, abbr[9].text) == ("Abbreviation | Question Type", "MC | Multiple Choice")
    assert 8 not in abbr  # row 8 is the header


def test_xls_that_is_really_xlsx(workbook: Path, tmp_path: Path) -> None:
    renamed = tmp_path / "old-name.xls"
    renamed.write_bytes(workbook.read_bytes())
    assert by_row(run(load_xls, renamed)[0], "销售")[5].text == "华北 | 梨 | 7"


def test_unreadable_xls_says_to_save_as_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "export.xls"
    path.write_text("<html><table><tr><td>not a real xls</td></tr></table></html>")
    with pytest.raises(LoaderError, match=r"save it as \.xlsx"):
        list(load_xls(path))


# The quoted cell spanning two lines is still one row.
CSV_ROWS = [["名稱", "數量", "備註"], ["蘋果", "10", "第一行\n第二行"], ["香蕉", "3.0", "產地：台灣"]]


def write_csv(path: Path, rows: list[list[str]], encoding: str, delimiter: str) -> Path:
    text = io.StringIO(newline="")
    csv.writer(text, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_bytes(text.getvalue().encode(encoding))
    return path


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("gb18030", ";"), ("utf-16", "\t"), ("utf-8-sig", ","), ("big5", "|"), ("utf-8", "\t"), ("utf-16-le", ",")],
)
def test_csv_encodings_delimiters_and_multiline_cells(tmp_path: Path, encoding: str, delimiter: str) -> None:
    path = write_csv(tmp_path / "清单.csv", CSV_ROWS, encoding, delimiter)
    sections, problems = run(load_csv, path)
    assert problems == []
    assert [(s.sheet, s.rows, s.header, s.text) for s in sections] == [
        ("清单", (2, 2), "名稱 | 數量 | 備註", "蘋果 | 10 | 第一行 第二行"),
        ("清单", (3, 3), "名稱 | 數量 | 備註", "香蕉 | 3.0 | 產地：台灣"),
    ]


def test_csv_corpus_files() -> None:
    semicolon, _ = run(load_csv, corpus("csv/en_unstructured_semicolon-delimited.csv"))
    assert semicolon[0].header == "Lorem, ipsum | dolor sit | amet"
    assert semicolon[-1].text == "Ut enim | ad minim | veniam, quis" and semicolon[-1].rows == (5, 5)

    utf16, _ = run(load_csv, corpus("csv/en_unstructured_stanley-cups-utf-16.csv"))
    assert (utf16[0].rows, utf16[0].header, utf16[0].text) == ((1, 1), None, "Stanley Cups")
    assert (utf16[1].header, utf16[1].text) == ("Team | Location | Stanley Cups", "Blues | STL | 1")

    issues, _ = run(load_csv, corpus("csv/zh_chatchat_langchain-ChatGLM_open.csv"))
    assert len(issues) == 323 and issues[-1].text.startswith("322 | [FEATURE] 支持AMD win10 本地部署吗？")
    assert issues[-1].rows == (324, 324)  # the record number: its quoted cells span many more lines
    assert issues[0].header == " | title | file | url | detail | id"

    template, _ = run(load_csv, corpus("csv/zh_maxkb_csv_template_zh.csv"))
    assert len(template) == 1 and template[0].rows == (2, 2)
    assert "\n" not in template[0].text and "MaxKB是什么？ MaxKB产品介绍" in template[0].text


def test_csv_streams_a_large_file(tmp_path: Path) -> None:
    rows = [["编号", "内容"]] + [[str(i), "数据" * 150 + f" 第{i}行"] for i in range(1, 12_001)]
    path = write_csv(tmp_path / "big.csv", rows, "gb18030", ",")
    assert path.stat().st_size > 7_000_000
    tracemalloc.start()
    try:
        sections = load_csv(path)
        first = [next(sections) for _ in range(10)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3_000_000  # well under the file (14 MB as text): rows are not all read up front
    assert first[0].text.endswith("第1行") and first[0].rows == (2, 2)
    rest = list(sections)
    assert len(rest) == 11_990 and rest[-1].rows == (12_001, 12_001) and rest[-1].text.startswith("12000 |")


def test_csv_bad_bytes_are_replaced_with_a_warning(tmp_path: Path) -> None:
    body = "名字,说明\n" + "".join(f"项目{i},正常的一行\n" for i in range(3000)) + "坏,\xff\n"
    path = tmp_path / "mixed.csv"
    path.write_bytes(body.encode("utf-8").replace(b"\xc3\xbf", b"\xff"))  # a lone 0xFF after the sample
    sections, problems = run(load_csv, path)
    assert len(sections) == 3001 and sections[-1].text == "坏 | \ufffd"
    assert len(problems) == 1 and "utf-8" in problems[0] and "row 3002" in problems[0]


def test_csv_empty_and_header_only(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert run(load_csv, empty) == ([], ["empty file"])
    blank = tmp_path / "blank.csv"
    blank.write_bytes(b"\r\n,,\r\n")
    assert run(load_csv, blank) == ([], ["no text found"])
    only = write_csv(tmp_path / "only.csv", [["问题", "答案"]], "utf-8", ",")
    assert run(load_csv, only)[0] == [Section(text="问题 | 答案", sheet="only", rows=(1, 1))]


@pytest.mark.parametrize(
    ("value", "number_format", "expected"),
    [(3.0, "", "3"), (0.1 + 0.2, "", "0.3"), (1234567.891, "", "1234567.891"), (0.125, "0.0%", "12.5%"),
     (True, "", "TRUE"), (datetime(2024, 3, 1), "", "2024-03-01"), ("  多行\r\n文本\t单元格 ", "", "多行 文本 单元格"),
     (None, "", "")],
)
def test_cell_text(value: object, number_format: str, expected: str) -> None:
    assert cell_text(value, number_format) == expected
