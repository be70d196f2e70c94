"""Spreadsheets (.xlsx/.xlsm, legacy .xls, .csv) as one `Section` per data row, with the header alongside.

The header is the first row with two or more filled cells among a sheet's first ten; single-cell rows above it (a
title, a note) become sections of their own. That costs a little buffering and spares every chunk of a titled
Chinese report from carrying the title instead of the column names. `rows` is the row number Excel shows.

Trade-offs:
- .xlsx streams through openpyxl's read-only mode, so memory stays flat. The recorded dimension is ignored
  (`reset_dimensions`): writers that understate it would cut rows off, inflated ones would pad every row. A sheet
  ends after 1,000 empty rows in a row, with a warning: that bounds the time a sheet formatted down to row 1,048,576
  takes, at the price of data placed below such a gap.
- Read-only mode hides merged ranges, which the XML lists after the cells. We scan the raw XML for them first
  (decompressing the sheet twice) rather than hold the sheet in memory. The top-left value fills the range's first
  column on every row, and its other columns up to the row's last own value, so rows stand alone without a banner
  repeated into empty columns. A row with no value of its own is skipped.
- Formulas give the value Excel cached on save; a workbook written by a script and never opened has none, and
  those cells read as empty.
- Cell text is flattened to one line; integral floats lose ".0", dates are ISO, percentages keep their "%".
"""

from __future__ import annotations

import csv
import itertools
import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from ingest.loaders import LoaderWarning
from ingest.loaders.encoding import open_text, sniff_delimiter
from ingest.limits import DEFAULT_LIMITS, Limits
from ingest.types import CELL_SEPARATOR, Section
from rag.errors import LoaderError

EMPTY_RUN_LIMIT = 1000
HEADER_LOOKAHEAD = 10  # non-empty rows searched for the header
_SNIFF_CHARS = 32 * 1024
_CSV_FIELD_LIMIT = 64 * 1024 * 1024  # a whole article in one cell is legitimate; the default is 128 KiB
_MERGE_XML = re.compile(rb'<(?:[\w.-]+:)?mergeCell\s[^>]*?\bref="([A-Za-z]{1,3})(\d+):([A-Za-z]{1,3})(\d+)"')

Row = tuple[int, list[str]]  # 1-based row number, cell texts


@dataclass(frozen=True)
class _Merge:
    top: int  # 1-based, inclusive
    left: int
    bottom: int
    right: int


def load_xlsx(path: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[Section]:
    import openpyxl  # imported here so listing the registry stays cheap

    if _starts_with(path, b"\xd0\xcf\x11\xe0"):  # OLE: an .xls under the new suffix, or a password-protected .xlsx
        yield from _load_ole_workbook(path)
        return
    with path.open("rb") as binary:
        try:
            # A file object, not the path: openpyxl refuses a workbook whose suffix it does not know.
            workbook = openpyxl.load_workbook(binary, read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises many types on damaged files (BadZipFile, KeyError...)
            raise LoaderError(f"cannot open {path.name} as an Excel workbook ({error}); "
                              "open it in Excel and save it again as .xlsx") from error
        yield from _warn_if_empty(_workbook_sections(workbook, path))


def _workbook_sections(workbook, path: Path) -> Iterator[Section]:
    try:
        with zipfile.ZipFile(path) as archive:
            for ws in workbook.worksheets:
                # Private attribute: if openpyxl ever renames it, merged ranges are simply not filled.
                merges = _xlsx_merges(archive, getattr(ws, "_worksheet_path", None))
                ws.reset_dimensions()
                yield from _sheet_sections(ws.title, _fill_merges(_xlsx_rows(ws), merges))
    finally:
        workbook.close()


def _xlsx_rows(ws) -> Iterator[Row]:
    empty_run, last = 0, 0
    for number, row in enumerate(ws.iter_rows(), start=1):
        cells = [cell_text(cell.value, cell.number_format or "") for cell in row]
        if any(cells):
            empty_run, last = 0, number
            yield number, cells
            continue
        empty_run += 1
        if empty_run >= EMPTY_RUN_LIMIT:
            warnings.warn(
                f"sheet {ws.title!r}: stopped reading at row {number} after {EMPTY_RUN_LIMIT} empty rows "
                f"(last value in row {last}); if data follows further down, delete the empty rows and add the file "
                "again", LoaderWarning, stacklevel=2)
            return


def _xlsx_merges(archive: zipfile.ZipFile, member: str | None) -> list[_Merge]:
    from openpyxl.utils.cell import column_index_from_string

    if not member:
        return []
    merges, tail = [], b""
    with archive.open(member.lstrip("/")) as xml:
        while block := xml.read(1024 * 1024):
            buffer, end = tail + block, 0
            for match in _MERGE_XML.finditer(buffer):
                left, top, right, bottom = match.groups()
                merges.append(_Merge(int(top), column_index_from_string(left.upper().decode()),
                                     int(bottom), column_index_from_string(right.upper().decode())))
                end = match.end()
            # Keep enough of the end for an element cut in two by the block boundary, but never a matched one.
            tail = buffer[max(end, len(buffer) - 1024):]
    return merges


def load_xls(path: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[Section]:
    zipped = _starts_with(path, b"PK\x03\x04")  # an .xlsx saved under the old suffix
    yield from load_xlsx(path) if zipped else _load_ole_workbook(path)


def _load_ole_workbook(path: Path) -> Iterator[Section]:
    import xlrd

    try:
        book = xlrd.open_workbook(str(path), formatting_info=True, on_demand=True)
    except Exception as error:  # xlrd raises XLRDError, but also struct.error, AssertionError... on damaged files
        # An OLE file under a new suffix is almost always a password-protected .xlsx.
        protected = "encrypted" in str(error).lower() or path.suffix.lower() != ".xls"
        fix = "remove its password in Excel and save it" if protected else "open it in Excel or LibreOffice, save it"
        raise LoaderError(f"cannot read {path.name} ({error}); {fix} as .xlsx and add that") from error
    yield from _warn_if_empty(_book_sections(book))


def _book_sections(book) -> Iterator[Section]:
    try:
        for index in range(book.nsheets):
            sheet = book.sheet_by_index(index)
            merges = [_Merge(rlo + 1, clo + 1, rhi, chi) for rlo, rhi, clo, chi in sheet.merged_cells]
            rows = ((index + 1, cells) for index in range(sheet.nrows)
                    if any(cells := [_xls_cell_text(book, cell) for cell in sheet.row(index)]))
            yield from _sheet_sections(sheet.name, _fill_merges(rows, merges))
            book.unload_sheet(index)
    finally:
        book.release_resources()


def _xls_cell_text(book, cell) -> str:
    import xlrd  # already loaded by _load_ole_workbook; imported here to keep the module import cheap
    value, number_format = cell.value, ""
    if cell.ctype == xlrd.XL_CELL_DATE:
        try:
            value = xlrd.xldate.xldate_as_datetime(value, book.datemode)
        except (ValueError, OverflowError, xlrd.xldate.XLDateError):
            pass  # not a representable date: keep the serial number
    elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
        value = bool(value)
    elif cell.ctype == xlrd.XL_CELL_ERROR:
        value = xlrd.error_text_from_code.get(value, "#ERROR")
    elif cell.ctype == xlrd.XL_CELL_NUMBER and cell.xf_index is not None:
        xf = book.xf_list[cell.xf_index] if cell.xf_index < len(book.xf_list) else None
        number_format = book.format_map[xf.format_key].format_str if xf and xf.format_key in book.format_map else ""
    return cell_text(value, number_format)


def load_csv(path: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[Section]:
    if path.stat().st_size == 0:
        warnings.warn("empty file", LoaderWarning, stacklevel=2)
        return
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    stream, encoding = open_text(path, newline="")  # newline="": the csv module handles quoted line breaks
    with stream:
        sample = stream.read(_SNIFF_CHARS)
        delimiter = sniff_delimiter(sample, truncated=len(sample) == _SNIFF_CHARS)
        stream.seek(0)
        rows = _csv_rows(csv.reader(stream, delimiter=delimiter), encoding)
        yield from _warn_if_empty(_sheet_sections(path.stem, rows))


def _csv_rows(reader: Iterator[list[str]], encoding: str) -> Iterator[Row]:
    number, warned = 0, False
    try:
        # The record number is the row Excel shows: a quoted cell spanning lines is still one row.
        for number, record in enumerate(reader, start=1):
            cells = [cell_text(value) for value in record]
            if not any(cells):
                continue
            if not warned and any("\ufffd" in value for value in cells):
                warned = True
                warnings.warn(f"some characters are not valid {encoding} and show as \ufffd (first in row {number}); "
                              "save the file as UTF-8 and add it again", LoaderWarning, stacklevel=2)
            yield number, cells
    except csv.Error as error:
        warnings.warn(f"stopped reading after row {number}: {error}; check the file's quoting, or save it again "
                      "from Excel as CSV UTF-8", LoaderWarning, stacklevel=2)


def _sheet_sections(sheet: str, rows: Iterable[Row]) -> Iterator[Section]:
    rows = iter(rows)
    head = list(itertools.islice(rows, HEADER_LOOKAHEAD))
    if not head:
        return
    at = next((i for i, (_, cells) in enumerate(head) if sum(1 for value in cells if value) >= 2), 0)
    for number, cells in head[:at]:  # titles and notes above the table
        yield Section(text=_join(cells), sheet=sheet, rows=(number, number))
    header_number, header = head[at][0], _join(head[at][1])
    data = False
    for number, cells in itertools.chain(head[at + 1:], rows):
        data = True
        yield Section(text=_join(cells), sheet=sheet, rows=(number, number), header=header)
    if not data:  # a one-row sheet: its only row is content, not a header
        yield Section(text=header, sheet=sheet, rows=(header_number, header_number))


def _fill_merges(rows: Iterable[Row], merges: list[_Merge]) -> Iterator[Row]:
    pending = sorted(merges, key=lambda merge: merge.top)
    next_merge, active = 0, []
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
                if column != merge.left and column > extent:
                    break  # a banner is not repeated into columns the row does not otherwise reach
                if (number, column) == (merge.top, merge.left):
                    continue
                if column > len(cells):
                    cells.extend([""] * (column - len(cells)))
                if not cells[column - 1]:
                    cells[column - 1] = value
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


def _warn_if_empty(sections: Iterator[Section]) -> Iterator[Section]:
    found = False
    for section in sections:
        found = True
        yield section
    if not found:
        warnings.warn("no text found", LoaderWarning, stacklevel=2)


def _join(cells: list[str]) -> str:
    return CELL_SEPARATOR.join(cells[: _extent(cells)])


def _extent(cells: list[str]) -> int:
    """How many cells there are up to and including the last filled one."""
    return max((i + 1 for i, value in enumerate(cells) if value), default=0)


def _starts_with(path: Path, magic: bytes) -> bool:
    with path.open("rb") as f:
        return f.read(len(magic)) == magic
