"""Table answers read from the cell the question points at.

A table chunk is a header line and rows, cells joined by `CELL_SEPARATOR`. A question about a table names a row
(a role and an expense type: "区域总经理…住宿费") and a column (a city tier: "一线城市") in words that the row's
text cells and the column's header share with it. A small model finds the right row but often reads the
neighbouring column. So when a sentence citing a table states a number that is one of the table's cells, and
the question points at exactly one cell (best row words plus column words, both present), the sentence gets
that cell's number: the answer is a lookup, and the citation shows the row. A PDF page has no cell separators,
but a financial table on it has year columns ("2022E 2023E") and lines of a label and as many figures, and is
read the same way (`text_tables`), and so is a list of figures after a span of years in prose ("2022-2024 年归母
净利润 4.7、7.2、9.3 亿元", `year_lists`).

The reverse holds too: a number read from a table row is that row's fact. When every row that holds a stated
number is keyed by words neither the question nor the sentence names ("工商银行" for a question about 农业银行,
"交通费" for one about 通讯费), the sentence borrowed another row's number, and `borrowed_row` says so. Rows are
the cells of a table chunk, or the lines of a PDF page that are a label followed by numbers ("营业收入(百万元)
746 1,567 3,684"), where one line may hold two tables side by side.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.types import CELL_SEPARATOR
from rag.language import CJK_BLOCK, IDEOGRAPH, asks_in_chinese

_NUMBER = re.compile(r"(?<![0-9.,])[0-9][0-9,]*(?:\.[0-9]+)?(?![0-9])")
_WORD = re.compile(rf"[{CJK_BLOCK}]+|[A-Za-z][A-Za-z0-9_-]+|(?<![0-9.,])(?:19|20)[0-9]{{2}}(?![0-9])")
_YEAR = re.compile(r"(?:19|20)[0-9]{2}[A-Z]?")  # a column of a financial table: "2023", "2023E", "2021A"
_FIGURE = re.compile(r"[-+]?[0-9][0-9,]*(?:\.[0-9]+)?%?")  # one whitespace-separated token of a PDF table row
MAX_KEY = 16  # a longer text cell is a description, not a row key


def _grams(text: str) -> set[str]:
    """Character bigrams of CJK runs, lower-cased Latin words and years: what a header or a row shares with a
    question."""
    grams = set()
    for run in _WORD.findall(text):
        if run.isascii():
            grams.add(run.lower())
        else:
            grams.update(a + b for a, b in zip(run, run[1:]))
    return grams


def _value(cell: str) -> str | None:
    """The number a cell holds, when the cell is a number (thousands separators dropped)."""
    match = _NUMBER.fullmatch(cell.strip())
    return match.group(0).replace(",", "") if match else None


def table_of(text: str) -> tuple[list[str], list[list[str]]] | None:
    """The header cells and the rows of a table chunk, or None when the text is not one."""
    lines = text.split("\n")
    at = next((i for i, line in enumerate(lines) if CELL_SEPARATOR in line), None)
    if at is None:
        return None
    header = [c.strip() for c in lines[at].split(CELL_SEPARATOR)]
    rows = [[c.strip() for c in line.split(CELL_SEPARATOR)] for line in lines[at + 1:] if CELL_SEPARATOR in line]
    return (header, rows) if sum(1 for c in header if c) >= 2 and rows else None


def tables_in(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """The tables a passage holds as (header, rows): a table chunk, or else a PDF page's year tables and prose
    year lists."""
    table = table_of(text)
    return [table] if table else text_tables(text) + year_lists(text)


def _half_named(grams: set[str], said: set[str]) -> bool:
    """A key is named when half of its bigrams are said: "部门总监" does not name "部门主管"."""
    return 2 * len(grams & said) >= len(grams)


def pointed_cell(question: str, text: str) -> str | None:
    """The number in the one cell the question names by its row and its column, if exactly one fits best."""
    asked = _grams(question)
    found = [f for header, rows in tables_in(text) if (f := _pointed(asked, header, rows))]
    return found[0][0] if found else None


def _pointed(asked: set[str], header: list[str], rows: list[list[str]]) -> tuple[str, int] | None:
    """The number and the column of the cell the question's grams `asked` point at."""
    best, values, columns = 0, set(), set()
    for row in rows:
        texts = [c for c in row if c and _value(c) is None]
        named = [_grams(c) & asked for c in texts]
        # The question must name the whole row: "区域总经理…通讯费" does not name "区域总经理 | 住宿费", nor
        # "部门总监" the row of "部门主管"; a short key by half of its bigrams, a longer cell by one.
        if not named or not all(n and (len(c) > MAX_KEY or _half_named(_grams(c), asked))
                                for c, n in zip(texts, named)):
            continue
        row_score = sum(len(n) for n in named)
        for column, cell in enumerate(row):
            value = _value(cell)
            column_score = len(_grams(header[column]) & asked) if column < len(header) else 0
            if value is None or not column_score:
                continue
            if row_score + column_score > best:
                best, values, columns = row_score + column_score, {value}, {column}
            elif row_score + column_score == best:
                values.add(value)
                columns.add(column)
    return (values.pop(), min(columns)) if len(values) == 1 else None


def look_up(sentence: str, question: str, passage: str, answer: str = "") -> str:
    """The sentence with a number read from the wrong cell of `passage` replaced by the pointed-at cell's. Not
    when the whole `answer` names a row the question does not: it is about that row on purpose ("Q8_0 是…")."""
    asked = _grams(question)
    for header, rows in tables_in(passage):
        if (pointed := _pointed(asked, header, rows)) is not None:
            return _replaced(sentence, question, answer, asked, header, rows, *pointed)
    return sentence


def _replaced(sentence: str, question: str, answer: str, asked: set[str], header: list[str], rows: list[list[str]],
              cell: str, column: int) -> str:
    if any(len(c) >= 2 and c in answer and not _grams(c) <= asked for row in rows for c in row if _value(c) is None):
        return sentence
    said = _grams(sentence)
    numeric = [h for i, h in enumerate(header) if any(i < len(row) and _value(row[i]) for row in rows)]
    if any(len(_grams(h) & said) > len(_grams(header[column]) & said) for h in numeric):
        return sentence  # the sentence names another column ("一线城市…：300" when the question asks for 三线)
    cells = {v for row in rows for c in row if (v := _value(c))}
    given = {n.replace(",", "") for n in _NUMBER.findall(question)}
    read = [m for m in _NUMBER.finditer(sentence) if (n := m.group(0).replace(",", "")) in cells and n not in given]
    if len(read) != 1 or read[0].group(0).replace(",", "") == cell:
        return sentence  # several cells stated (a comparison) are not one lookup
    written = next(row[column] for row in rows if column < len(row) and _value(row[column]) == cell)
    return sentence[:read[0].start()] + written + sentence[read[0].end():]


def text_tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """The tables of a PDF page whose columns are years: a header line of labels and years ("主要财务指标 2021
    2022E 2023E"), then lines of a label and as many figures. Two tables side by side on one line are two tables;
    a figure keeps its digits, without "%", so that it is a number cell."""
    tables: list[tuple[list[str], list[list[str]]]] = []
    width: list[int] = []  # the columns of each table under the current header
    for line in text.split("\n"):
        tokens = line.split()
        if sum(bool(_YEAR.fullmatch(t)) for t in tokens) >= 2 and all(
                _YEAR.fullmatch(t) or _amount(t) is None for t in tokens):
            segments = _segments(tokens, lambda t: bool(_YEAR.fullmatch(t)))
            tables += [([label, *years], []) for label, years in segments if years]
            width = [len(years) for _, years in segments]
            continue
        if not width:
            continue
        segments = _segments(tokens, lambda t: _amount(t) is not None)
        for at, (label, figures) in enumerate(segments):
            if at < len(width) and figures and len(figures) == width[at]:
                tables[len(tables) - len(width) + at][1].append([label, *(f.rstrip("%") for f in figures)])
    return [t for t in tables if t[1]]


_YEARS = re.compile(r"((?:19|20)[0-9]{2})\s*[-–~至到]\s*((?:19|20)[0-9]{2})\s*年?([^。；;\n]*)")
_LISTED = re.compile(r"([^0-9、，,。；;]*?)\s*([0-9]+(?:\.[0-9]+)?(?:\s*[、/]\s*[0-9]+(?:\.[0-9]+)?)+)")


def year_lists(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Tables that prose writes as lists after a span of years: "预计公司 2022-2024 年归母净利润 4.7、7.2、9.3
    亿元，对应 PE 30、20、15 倍" is a header of three years and two rows, a label and one figure a year."""
    tables = []
    for first, last, rest in _YEARS.findall(text):
        years = [str(y) for y in range(int(first), int(last) + 1)]
        rows = [[label.strip(), *values] for label, listed in _LISTED.findall(rest)
                if len(values := re.split(r"\s*[、/]\s*", listed)) == len(years) > 1]
        if rows:
            tables.append((["", *years], rows))
    return tables


def _segments(tokens: list[str], is_value) -> list[tuple[str, list[str]]]:
    """A line's tokens as (label, values) runs. A label after values starts the next table's run; so does a
    Chinese label after a Chinese one ("每股指标(元) 营业总收入 1,567": a left table's heading row, then the
    right table's row)."""
    segments: list[tuple[str, list[str]]] = []
    label: list[str] = []
    values: list[str] = []
    for token in tokens:
        if is_value(token):
            values.append(token)
            continue
        if values or (label and IDEOGRAPH.search(label[-1]) and IDEOGRAPH.search(token)):
            segments.append((" ".join(label), values))
            label, values = [], []
        label.append(token)
    if label or values:
        segments.append((" ".join(label), values))
    return segments


def _amount(token: str) -> float | None:
    """The value of a figure ("1,567", "38.0%", "-0.5"), or None when the token is not one."""
    return float(token.rstrip("%").replace(",", "")) if _FIGURE.fullmatch(token) else None


@dataclass(frozen=True)
class KeyedRow:
    """A table row as `borrowed_row` reads it: the ways a question can name it, each a tuple of cells that must
    all be named (a column of unique values names a row alone; otherwise the row's text cells together, as a
    role and an expense type do), and the values of its number cells."""

    names: tuple[tuple[str, ...], ...]
    values: frozenset[float]


def keyed_rows(text: str) -> tuple[list[KeyedRow], set[float]]:
    """The rows of the tables in a passage, and the numbers the passage states outside them (prose, headers)."""
    lines = text.split("\n")
    table = table_of(text)
    if table:
        rows = table[1]
        keys = [[c for c in row if c and _value(c) is None and len(c) <= MAX_KEY] for row in rows]
        width = max(len(row) for row in rows)
        # A chunk of one row (a models.csv line) has every column unique: any of its keys names it.
        unique = {i for i in range(width)
                  if len(cells := [row[i] for row in rows if i < len(row) and row[i]]) == len(set(cells))}
        keyed = []
        for row, cells in zip(rows, keys):
            alone = tuple((c,) for i, c in enumerate(row) if i in unique and c in cells)
            keyed.append(KeyedRow(alone + ((tuple(cells),) if cells else ()),
                                  frozenset(float(v) for c in row if (v := _value(c)))))
        around = [line for line in lines if CELL_SEPARATOR not in line]  # a title, a note
        header = next(line for line in lines if CELL_SEPARATOR in line)
        return keyed, {_amount(n) for line in [header, *around] for n in _NUMBER.findall(line)}
    keyed, loose = [], set()
    for line in lines:
        tokens = line.split()
        amounts = [_amount(t) for t in tokens]
        count = sum(a is not None for a in amounts)
        if count < 2 or count < len(tokens) - count:
            loose.update(_amount(n) for n in _NUMBER.findall(line))
            continue
        for label, figures in _segments(tokens, lambda t: _amount(t) is not None):
            keyed.append(KeyedRow(((label,),) if label else (), frozenset(map(_amount, figures))))
    return keyed, loose


def borrowed_row(sentence: str, question: str, passages: list[str], answer: str = "") -> bool:
    """Whether the sentence states a number that the passages hold only in table rows whose keys neither the
    question nor the answer names: another row's cell. The whole `answer` counts, since a list names its row
    once ("模型：DeepSeek-V3；…；参数量（B）：671"). A key counts as named when half of its bigrams are said; a
    key in another script than the question's cannot be named by it ("hotel" for 住宿费) and counts."""
    said = _grams(question + " " + sentence + " " + answer)
    chinese = asks_in_chinese(question)
    given = {_amount(n) for n in _NUMBER.findall(question)}

    def named(key: str) -> bool:
        grams = _grams(key)
        return not grams or bool(IDEOGRAPH.search(key)) != chinese or _half_named(grams, said)

    parsed = [keyed_rows(p) for p in passages]
    for number in {_amount(n) for n in _NUMBER.findall(sentence)} - given:
        if any(number in loose for _, loose in parsed):
            continue
        holders = [row for rows, _ in parsed for row in rows if number in row.values]
        if holders and all(row.names and not any(all(map(named, cells)) for cells in row.names) for row in holders):
            return True
    return False
