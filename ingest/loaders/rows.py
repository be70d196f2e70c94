"""Rows of a table as sections: the header, merged cells, cell text, and the row and cell bounds of one table.

Shared by the spreadsheet and CSV loaders (`ingest.loaders.sheets`) and by .docx tables.

The header is the first row with two or more filled cells among a table's first ten; single-cell rows above it (a
title, a note) become sections of their own. That costs a little buffering and spares every chunk of a titled
Chinese report from carrying the title instead of the column names. `rows` is the row number Excel shows.

A table is cut at `max_rows` rows or `max_cells` cells with one `LoaderWarning`. The bound sits on the row stream,
so reading stops there: a sheet of a million rows costs the first 100,000, not a million.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from ingest.errors import LoaderWarning
from ingest.limits import Limits
from ingest.types import CELL_SEPARATOR, Section

HEADER_LOOKAHEAD = 10  # non-empty rows searched for the header

Row = tuple[int, list[str]]  # 1-based row number, cell texts


@dataclass(frozen=True)
class Merge:
    top: int  # 1-based, inclusive
    left: int
    bottom: int
    right: int


def bounded(rows: Iterable[Row], where: str, limits: Limits) -> Iterator[Row]:
    """`rows` up to `max_rows` rows and `max_cells` cells, then a warning naming the bound; `where` names the
    table ("sheet Data", "table 2"; "" for a CSV file, which is one table). A row that would cross `max_cells`
    is kept up to the bound."""
    kept = cells = 0
    place = f"{where}: " if where else ""
    for number, row in rows:
        if kept >= limits.max_rows:
            warnings.warn(f"{place}kept the first {kept:,} rows (max_rows = {limits.max_rows:,}); the rest, from "
                          f"row {number:,} on, are not indexed: raise max_rows to read them", LoaderWarning,
                          stacklevel=2)
            return
        if cells + len(row) > limits.max_cells:
            if row := row[: limits.max_cells - cells]:
                yield number, row
            warnings.warn(f"{place}kept {limits.max_cells:,} cells (max_cells = {limits.max_cells:,}); the rest, "
                          f"from row {number:,} on, are not indexed: raise max_cells to read them", LoaderWarning,
                          stacklevel=2)
            return
        kept, cells = kept + 1, cells + len(row)
        yield number, row


def sheet_sections(sheet: str, rows: Iterable[Row]) -> Iterator[Section]:
    rows = iter(rows)
    head = list(itertools.islice(rows, HEADER_LOOKAHEAD))
    if not head:
        return
    at = next((i for i, (_, cells) in enumerate(head) if sum(1 for value in cells if value) >= 2), 0)
    for number, cells in head[:at]:  # titles and notes above the table
        yield Section(text=join(cells), sheet=sheet, rows=(number, number))
    header_number, header = head[at][0], join(head[at][1])
    data = False
    for number, cells in itertools.chain(head[at + 1:], rows):
        data = True
        yield Section(text=join(cells), sheet=sheet, rows=(number, number), header=header)
    if not data:  # a one-row sheet: its only row is content, not a header
        yield Section(text=header, sheet=sheet, rows=(header_number, header_number))


def fill_merges(rows: Iterable[Row], merges: list[Merge], where: str, limits: Limits) -> Iterator[Row]:
    """Rows with merged ranges filled in. The cells of merged ranges visited count against `max_cells`: past
    it, later rows come unfilled, with a warning. Ranges that overlap are not valid Excel, but a hostile file can
    list thousands of them over every row, and each would be visited on each row."""
    pending = sorted(merges, key=lambda merge: merge.top)
    next_merge, active, visited = 0, [], 0
    for number, cells in rows:
        while next_merge < len(pending) and pending[next_merge].top <= number:
            merge = pending[next_merge]
            next_merge += 1
            if merge.top == number and merge.left <= len(cells) and cells[merge.left - 1]:
                active.append((merge, cells[merge.left - 1]))
        active = [(merge, value) for merge, value in active if merge.bottom >= number]
        extent = _extent(cells)
        for merge, value in active:
            for column in range(merge.left, merge.right + 1):
                visited += 1
                if column != merge.left and column > extent:
                    break  # a banner is not repeated into columns the row does not otherwise reach
                if (number, column) == (merge.top, merge.left):
                    continue
                if column > len(cells):
                    cells.extend([""] * (column - len(cells)))
                if not cells[column - 1]:
                    cells[column - 1] = value
        if visited > limits.max_cells and active:
            warnings.warn(f"{where}: merged cells are not filled from row {number + 1:,} on, their ranges cover "
                          f"more than max_cells = {limits.max_cells:,} cells: raise max_cells to fill them",
                          LoaderWarning, stacklevel=2)
            pending, active = [], []
        yield number, cells


def cell_text(value: object, number_format: str = "") -> str:
    """How a cell reads as text: integral numbers without ".0", ISO dates, one line."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return _number(value * 100) + "%" if "%" in number_format else _number(value)
    if isinstance(value, datetime) and value.time() == time(0):
        return value.date().isoformat()
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    text = " ".join(str(value).split())
    # WPS stores a picture placed in a cell as the text of its DISPIMG formula: not content.
    return "" if text.startswith("=DISPIMG(") else text


def _number(value: int | float) -> str:
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.15g}"  # Excel shows at most 15 significant digits: 0.1 + 0.2 reads as 0.3
    return str(value)


def warn_if_empty(sections: Iterator[Section]) -> Iterator[Section]:
    found = False
    for section in sections:
        found = True
        yield section
    if not found:
        warnings.warn("no text found", LoaderWarning, stacklevel=2)


def join(cells: list[str]) -> str:
    return CELL_SEPARATOR.join(cells[: _extent(cells)])


def _extent(cells: list[str]) -> int:
    """How many cells there are up to and including the last filled one."""
    return max((i + 1 for i, value in enumerate(cells) if value), default=0)
