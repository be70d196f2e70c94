"""The bounds of issue 17 one by one: zip parts, rows and cells of a table, and what libraries print."""

from __future__ import annotations

import io
import struct
import time
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import docx
import pytest

from bench.bombs import csv_rows, docx_bomb
from bench.fuzz_inputs import XLS_SEED, seed
from ingest.errors import FileTooLarge, LoaderError, LoaderWarning
from ingest.limits import Limits
from ingest.loaders import load
from ingest.loaders.archive import check_parts
from ingest.loaders.rows import Merge, fill_merges


def run(path: Path, limits: Limits) -> tuple[list, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sections = list(load(path, limits))
    return sections, [str(w.message) for w in caught if issubclass(w.category, LoaderWarning)]


def lie_about_size(path: Path, member: str, declared: int) -> None:
    """Rewrite `member`'s size in the central directory and its local header, as a hostile archive would."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    struct.pack_into("<I", data, info.header_offset + 22, declared)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46:central + 46 + name_length].decode() == member:
            struct.pack_into("<I", data, central + 24, declared)
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))


def test_zipfile_reads_a_whole_part_before_it_cuts_it_at_the_declared_size(tmp_path):
    # Why archive.py inflates every part itself first: zipfile cuts a lying part at its declared size, but
    # read() inflates the whole stream before cutting, so memory follows the real size, not the declared one.
    path = docx_bomb(tmp_path / "liar.docx", inflated_mb=64)
    lie_about_size(path, "word/document.xml", 1000)
    tracemalloc.start()
    try:
        with zipfile.ZipFile(path) as archive, pytest.raises(zipfile.BadZipFile, match="Bad CRC-32"):
            archive.read("word/document.xml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak > 60 * 2**20


def test_a_part_that_lies_about_its_size_fails_in_bounded_memory(tmp_path):
    path = docx_bomb(tmp_path / "liar.docx", inflated_mb=64)
    lie_about_size(path, "word/document.xml", 1000)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(FileTooLarge, match=r"^zip part word/document.xml declares 1,000 bytes inflated but holds"):
            run(path, Limits(max_unzipped_mb=8))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 2**20 and time.perf_counter() - started < 2


def test_only_stored_and_deflated_parts_are_read(tmp_path):
    path = tmp_path / "bz.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_BZIP2) as archive:
        archive.writestr("word/document.xml", b"<w:document/>")
    with pytest.raises(LoaderError, match="uses compression method 12, which Office never writes"):
        run(path, Limits())


def test_small_parts_are_not_ratio_checked():
    archive = zipfile.ZipFile(io.BytesIO(), "w", zipfile.ZIP_DEFLATED)
    archive.writestr("word/styles.xml", b"<a/>" * 200_000)  # 800 kB at about 400x: an ordinary file can do that
    check_parts(archive, Limits(max_zip_ratio=100))
    archive.writestr("word/document.xml", b"<a/>" * 300_000)  # 1.2 MB
    with pytest.raises(FileTooLarge, match="word/document.xml inflates .* times .* over max_zip_ratio = 100"):
        check_parts(archive, Limits(max_zip_ratio=100))


def test_docx_table_is_cut_at_max_rows(tmp_path):
    document = docx.Document()
    table = document.add_table(rows=30, cols=2)
    for r in range(30):
        table.cell(r, 0).text, table.cell(r, 1).text = f"name {r}", f"value {r}"
    document.save(tmp_path / "t.docx")
    sections, problems = run(tmp_path / "t.docx", Limits(max_rows=10))
    assert [s.rows[0] for s in sections] == list(range(2, 11))
    assert problems == ["table 1: kept the first 10 rows (max_rows = 10); the rest, from row 11 on, are not "
                        "indexed: raise max_rows to read them"]


def test_csv_is_cut_at_max_cells_inside_a_row(tmp_path):
    path = csv_rows(tmp_path / "c.csv", rows=100)  # 4 cells a row
    sections, problems = run(path, Limits(max_cells=22))
    assert [s.rows[0] for s in sections] == [2, 3, 4, 5, 6] and sections[-1].text.count(" | ") == 1
    assert problems == ["kept 22 cells (max_cells = 22); the rest, from row 6 on, are not indexed: raise max_cells "
                        "to read them"]


def test_xlsx_is_cut_at_max_rows_per_sheet(tmp_path):
    path = tmp_path / "s.xlsx"
    path.write_bytes(seed(".xlsx"))  # sheet 销售: a title, a header and two rows; sheet Notes: one row
    sections, problems = run(path, Limits(max_rows=3))
    assert [(s.sheet, s.rows[0]) for s in sections] == [("销售", 1), ("销售", 3), ("Notes", 1)]
    assert problems == ["sheet 销售: kept the first 3 rows (max_rows = 3); the rest, from row 4 on, are not "
                        "indexed: raise max_rows to read them"]


def test_merged_ranges_are_filled_within_max_cells():
    rows = [(n, ["a", "b", "c"]) for n in range(1, 101)]
    overlapping = [Merge(1, 1, 100, 3)] * 50  # not valid Excel, but nothing stops a file from listing them
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        filled = list(fill_merges(rows, overlapping, "sheet S", Limits(max_cells=1000)))
    assert len(filled) == 100 and [str(w.message) for w in caught] == [
        "sheet S: merged cells are not filled from row 8 on, their ranges cover more than max_cells = 1,000 cells: "
        "raise max_cells to fill them"]


def pdf_with(tmp_path: Path, *edits: tuple[bytes, bytes]) -> Path:
    data = seed(".pdf")
    for old, new in edits:
        assert old in data
        data = data.replace(old, new)
    path = tmp_path / "p.pdf"
    path.write_bytes(data)
    return path


def test_pypdf_repair_notes_do_not_reach_stderr_or_logging(tmp_path, capfd, caplog):
    path = pdf_with(tmp_path, (b"0000000061 00000 n", b"0000000000 00000 n"))  # "Ignoring wrong pointing object"
    sections, problems = run(path, Limits())
    assert sections and problems == []
    assert capfd.readouterr().err == "" and not [r for r in caplog.records if r.name.startswith(("pypdf", "pdfminer"))]


def test_pypdf_errors_become_one_warning(tmp_path, capfd):
    path = pdf_with(tmp_path, (b"/WinAnsiEncoding", b"/WinAnsiEncodi"))  # "Advanced encoding ... not implemented"
    sections, problems = run(path, Limits())
    assert sections and len(problems) == 1 and problems[0].startswith("the PDF reader reported: Advanced encoding")
    assert capfd.readouterr().err == ""


def test_xlrd_repair_notes_do_not_reach_stdout(tmp_path, capfd):
    if not XLS_SEED.is_file():
        pytest.skip("the .xls seed is in the shared corpus, which is not beside the repo")
    path = tmp_path / "odd.xls"
    path.write_bytes(XLS_SEED.read_bytes() + b"\0" * 100)  # "file size not 512 + multiple of sector size"
    sections, _ = run(path, Limits())
    assert sections and capfd.readouterr().out == ""
