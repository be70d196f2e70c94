"""Spreadsheets (.xlsx/.xlsm, legacy .xls, .csv) as one `Section` per data row, with the header alongside
(`ingest.loaders.rows`: header, merged cells, cell text, and the `max_rows`/`max_cells` cut of each sheet).

Trade-offs:
- .xlsx streams through openpyxl's read-only mode, so memory stays flat. The package passes the zip bounds first
  (`ingest.loaders.archive`). The recorded dimension is ignored (`reset_dimensions`): writers that understate it
  would cut rows off, inflated ones would pad every row. A sheet ends after 1,000 empty rows in a row, with a
  warning: that bounds the time a sheet formatted down to row 1,048,576 takes, at the price of data placed below
  such a gap. A sheet without a `<dimension>` element (Excel always writes one) is parsed whole by openpyxl as it
  opens, before the first row: `max_unzipped_mb` bounds that pass too.
- Read-only mode hides merged ranges, which the XML lists after the cells. We scan the raw XML for them first
  (decompressing the sheet twice) rather than hold the sheet in memory. The top-left value fills the range's first
  column on every row, and its other columns up to the row's last own value, so rows stand alone without a banner
  repeated into empty columns. A row with no value of its own is skipped.
- A sheet whose XML turns out damaged half-way keeps the rows read so far, with a warning, like a CSV file does.
- Formulas give the value Excel cached on save; a workbook written by a script and never opened has none, and
  those cells read as empty.
- .xls goes through xlrd, which holds one sheet in memory at a time; an .xls is at most 65,536 rows.
"""

from __future__ import annotations

import csv
import io
import re
import struct
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

from ingest.errors import LoaderError, LoaderWarning
from ingest.limits import DEFAULT_LIMITS, Limits
from ingest.loaders.archive import READ_ERRORS, open_package
from ingest.loaders.encoding import open_text, sniff_delimiter
from ingest.loaders.rows import Merge, Row, bounded, cell_text, fill_merges, sheet_sections, warn_if_empty
from ingest.types import Section

__all__ = ["cell_text", "load_csv", "load_xls", "load_xlsx"]

EMPTY_RUN_LIMIT = 1000
_SNIFF_CHARS = 32 * 1024
_CSV_FIELD_LIMIT = 64 * 1024 * 1024  # a whole article in one cell is legitimate; the default is 128 KiB
_MERGE_XML = re.compile(rb'<(?:[\w.-]+:)?mergeCell\s[^>]*?\bref="([A-Za-z]{1,3})(\d+):([A-Za-z]{1,3})(\d+)"')
# What a damaged worksheet raises part-way through openpyxl's row stream: the zip errors, XML syntax errors
# (lxml's and ElementTree's are SyntaxErrors), and openpyxl's own conversions of malformed cells.
_SHEET_ERRORS = (*READ_ERRORS, SyntaxError, KeyError, IndexError, TypeError)
# What xlrd raises on a damaged sheet record besides its XLRDError: the errors of its unchecked unpacking and indexing.
_XLS_SHEET_ERRORS = (struct.error, IndexError, KeyError, ValueError, AssertionError, EOFError)


def load_xlsx(path: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[Section]:
    import openpyxl  # imported here so listing the registry stays cheap

    if _starts_with(path, b"\xd0\xcf\x11\xe0"):  # OLE: an .xls under the new suffix, or a password-protected .xlsx
        yield from _load_ole_workbook(path, limits)
        return
    reopen = "open it in Excel and save it again as .xlsx"
    with open_package(path, limits, f"cannot open {path.name} as an Excel workbook ({{error}}); {reopen}") as archive:
        with path.open("rb") as binary:
            try:
                # A file object, not the path: openpyxl refuses a workbook whose suffix it does not know.
                workbook = openpyxl.load_workbook(binary, read_only=True, data_only=True)
            except Exception as error:  # openpyxl raises many types on damaged files (BadZipFile, KeyError...)
                raise LoaderError(f"cannot open {path.name} as an Excel workbook ({error}); {reopen}") from error
            yield from warn_if_empty(_workbook_sections(workbook, archive, limits))


def _workbook_sections(workbook, archive: zipfile.ZipFile, limits: Limits) -> Iterator[Section]:
    try:
        for ws in workbook.worksheets:
            # Private attribute: if openpyxl ever renames it, merged ranges are simply not filled.
            where = f"sheet {ws.title}"
            merges = _xlsx_merges(archive, getattr(ws, "_worksheet_path", None), where, limits)
            ws.reset_dimensions()
            rows = bounded(_xlsx_rows(ws), where, limits)
            yield from sheet_sections(ws.title, fill_merges(rows, merges, where, limits))
    finally:
        workbook.close()


def _xlsx_rows(ws) -> Iterator[Row]:
    empty_run, last = 0, 0
    try:
        for number, row in enumerate(ws.iter_rows(), start=1):
            cells = [cell_text(cell.value, cell.number_format or "") for cell in row]
            if any(cells):
                empty_run, last = 0, number
                yield number, cells
                continue
            empty_run += 1
            if empty_run >= EMPTY_RUN_LIMIT:
                warnings.warn(
                    f"sheet {ws.title!r}: stopped reading at row {number} after {EMPTY_RUN_LIMIT} empty rows (last "
                    f"value in row {last}); if data follows further down, delete the empty rows and add the file "
                    "again", LoaderWarning, stacklevel=2)
                return
    except _SHEET_ERRORS as error:
        warnings.warn(f"sheet {ws.title!r}: stopped reading after row {last}, the rest is damaged "
                      f"({type(error).__name__}: {error}); open the file in Excel and save it again",
                      LoaderWarning, stacklevel=2)


def _xlsx_merges(archive: zipfile.ZipFile, member: str | None, where: str, limits: Limits) -> list[Merge]:
    """The merged ranges a sheet lists, up to one per two of `max_cells` (a range covers two cells or more)."""
    from openpyxl.utils.cell import column_index_from_string

    if not member:
        return []
    merges, tail = [], b""
    try:
        with archive.open(member.lstrip("/")) as xml:
            while block := xml.read(1024 * 1024):
                buffer, end = tail + block, 0
                for match in _MERGE_XML.finditer(buffer):
                    left, top, right, bottom = match.groups()
                    merges.append(Merge(int(top), column_index_from_string(left.upper().decode()),
                                        int(bottom), column_index_from_string(right.upper().decode())))
                    end = match.end()
                    if len(merges) > limits.max_cells // 2:
                        warnings.warn(f"{where}: lists more than {limits.max_cells // 2:,} merged ranges (half of "
                                      "max_cells); the rest are not filled: raise max_cells to fill them",
                                      LoaderWarning, stacklevel=2)
                        return merges
                # Keep enough of the end for an element cut in two by the block boundary, but never a matched one.
                tail = buffer[max(end, len(buffer) - 1024):]
    except (*READ_ERRORS, KeyError):
        return merges  # the row stream reads the same damaged part and says so
    return merges


def load_xls(path: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[Section]:
    zipped = _starts_with(path, b"PK\x03\x04")  # an .xlsx saved under the old suffix
    yield from load_xlsx(path, limits) if zipped else _load_ole_workbook(path, limits)


def _load_ole_workbook(path: Path, limits: Limits) -> Iterator[Section]:
    import xlrd

    try:
        # logfile: xlrd prints its repair notes ("file size not 512 + multiple of sector size") to stdout.
        book = xlrd.open_workbook(str(path), formatting_info=True, on_demand=True, logfile=io.StringIO())
    except Exception as error:  # xlrd raises XLRDError, but also struct.error, AssertionError... on damaged files
        # An OLE file under a new suffix is almost always a password-protected .xlsx.
        protected = "encrypted" in str(error).lower() or path.suffix.lower() != ".xls"
        fix = "remove its password in Excel and save it" if protected else "open it in Excel or LibreOffice, save it"
        raise LoaderError(f"cannot read {path.name} ({error}); {fix} as .xlsx and add that") from error
    yield from warn_if_empty(_book_sections(book, limits))


def _book_sections(book, limits: Limits) -> Iterator[Section]:
    from xlrd import XLRDError

    try:
        for index in range(book.nsheets):
            try:
                sheet = book.sheet_by_index(index)  # on demand: the sheet's records are parsed here
            except (XLRDError, *_XLS_SHEET_ERRORS) as error:
                warnings.warn(f"sheet {book.sheet_names()[index]}: cannot read it ({type(error).__name__}: {error}); "
                              "open the file in Excel or LibreOffice, save it as .xlsx and add that", LoaderWarning,
                              stacklevel=2)
                continue
            merges = [Merge(rlo + 1, clo + 1, rhi, chi) for rlo, rhi, clo, chi in sheet.merged_cells]
            rows = ((index + 1, cells) for index in range(sheet.nrows)
                    if any(cells := [_xls_cell_text(book, cell) for cell in sheet.row(index)]))
            where = f"sheet {sheet.name}"
            yield from sheet_sections(sheet.name, fill_merges(bounded(rows, where, limits), merges, where, limits))
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
        rows = bounded(_csv_rows(csv.reader(stream, delimiter=delimiter), encoding), "", limits)
        yield from warn_if_empty(sheet_sections(path.stem, rows))


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


def _starts_with(path: Path, magic: bytes) -> bool:
    with path.open("rb") as f:
        return f.read(len(magic)) == magic
