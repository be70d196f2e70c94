"""Table answers read from the cell the question points at.

A table chunk is a header line and rows, cells joined by `CELL_SEPARATOR`. A question about a table names a row
(a role and an expense type: "区域总经理…住宿费") and a column (a city tier: "一线城市") in words that the row's
text cells and the column's header share with it. A small model finds the right row but often reads the
neighbouring column. So when a sentence citing a table states a number that is one of the table's cells, and
the question points at exactly one cell (best row words plus column words, both present), the sentence gets
that cell's number: the answer is a lookup, and the citation shows the row.
"""

from __future__ import annotations

import re

from ingest.types import CELL_SEPARATOR
from rag.language import CJK_BLOCK

_NUMBER = re.compile(r"(?<![0-9.,])[0-9][0-9,]*(?:\.[0-9]+)?(?![0-9])")
_WORD = re.compile(rf"[{CJK_BLOCK}]+|[A-Za-z][A-Za-z0-9_-]+")


def _grams(text: str) -> set[str]:
    """Character bigrams of CJK runs and lower-cased Latin words: what a header or a row shares with a question."""
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


def pointed_cell(question: str, text: str) -> str | None:
    """The number in the one cell the question names by its row and its column, if exactly one fits best."""
    table = table_of(text)
    found = _pointed(_grams(question), *table) if table else None
    return found[0] if found else None


def _pointed(asked: set[str], header: list[str], rows: list[list[str]]) -> tuple[str, int] | None:
    """The number and the column of the cell the question's grams `asked` point at."""
    best, values, columns = 0, set(), set()
    for row in rows:
        named = [_grams(c) & asked for c in row if c and _value(c) is None]
        if not named or not all(named):
            continue  # the question must name the whole row: "区域总经理…通讯费" does not name "区域总经理 | 住宿费"
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
    table = table_of(passage)
    asked = _grams(question)
    pointed = _pointed(asked, *table) if table else None
    if pointed is None:
        return sentence
    cell, column = pointed
    header, rows = table
    if any(len(c) >= 2 and c in answer and not _grams(c) <= asked for row in rows for c in row if _value(c) is None):
        return sentence
    said = _grams(sentence)
    if any(len(_grams(h) & said) > len(_grams(header[column]) & said) for h in header):
        return sentence  # the sentence names another column ("一线城市…：300" when the question asks for 三线)
    cells = {v for row in rows for c in row if (v := _value(c))}
    given = {n.replace(",", "") for n in _NUMBER.findall(question)}
    read = [m for m in _NUMBER.finditer(sentence) if (n := m.group(0).replace(",", "")) in cells and n not in given]
    if len(read) != 1 or read[0].group(0).replace(",", "") == cell:
        return sentence  # several cells stated (a comparison) are not one lookup
    return sentence[:read[0].start()] + cell + sentence[read[0].end():]
