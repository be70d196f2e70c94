"""The oversized files of issue 17, built small, through the real `parse_files` with small limits: each ends fast
with its named message, and no parse worker's peak RSS comes near the worker's memory cap.

The files run in one child process (`bench.bombs.parse_isolated`), which reports the kernel's exact peak RSS of
its worker. `python -m bench.loader_abuse` runs the same files at the reported sizes with the default settings.
"""

from __future__ import annotations

import pytest

from bench.bombs import csv_rows, docx_bomb, parse_isolated, pdf_bomb, xlsx_sheet
from ingest.limits import Limits

LIMITS = Limits(max_rows=2000, max_cells=50_000, max_unzipped_mb=8, max_zip_ratio=100, memory_mb=768)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("bombs")
    files = {
        "docx": docx_bomb(folder / "bomb.docx", inflated_mb=64),  # 64 MB of XML from about 0.3 MB
        "docx_ratio": docx_bomb(folder / "ratio.docx", inflated_mb=6),  # under 8 MB, but 200x
        "xlsx": xlsx_sheet(folder / "bomb.xlsx", rows=40_000),  # about 30 MB of sheet XML
        "xlsx_tall": xlsx_sheet(folder / "tall.xlsx", rows=30_000, cells_per_row=2, text="v"),  # under 8 MB
        "csv": csv_rows(folder / "big.csv", rows=200_000),  # 21 MB
        "pdf": pdf_bomb(folder / "bomb.pdf", inflated_mb=100),  # past pypdf's 75 MB; pdfminer has no limit
    }
    run = parse_isolated(list(files.values()), LIMITS, timeout=60)
    assert run["stderr"] == ""  # nothing the libraries say leaks out of the workers
    return {"peak_mb": run["worker_peak_mb"], **{name: run["files"][str(path)] for name, path in files.items()}}


def test_docx_bomb_fails_by_name_on_the_inflated_size(outcomes):
    failure = outcomes["docx"]["failure"]
    assert failure.startswith("zip part word/document.xml inflates to 64 MB, over max_unzipped_mb = 8")
    assert "raise that setting" in failure and outcomes["docx"]["seconds"] < 10


def test_docx_under_the_size_bound_fails_on_its_ratio(outcomes):
    failure = outcomes["docx_ratio"]["failure"]
    assert failure.startswith("zip part word/document.xml inflates") and "over max_zip_ratio = 100" in failure


def test_xlsx_bomb_fails_before_openpyxl_reads_it(outcomes):
    failure = outcomes["xlsx"]["failure"]
    assert failure.startswith("zip part xl/worksheets/sheet1.xml inflates to") and "max_unzipped_mb = 8" in failure
    assert outcomes["xlsx"]["seconds"] < 10


def test_tall_sheet_is_cut_at_max_rows(outcomes):
    tall = outcomes["xlsx_tall"]
    assert tall["failure"] is None and tall["chunks"]
    assert tall["warnings"] == ["sheet Data: kept the first 2,000 rows (max_rows = 2,000); the rest, from row 2,001 "
                                "on, are not indexed: raise max_rows to read them"]
    assert tall["seconds"] < 20


def test_large_csv_is_cut_at_max_rows_and_stops_reading(outcomes):
    big = outcomes["csv"]
    assert big["failure"] is None and big["warnings"] == [
        "kept the first 2,000 rows (max_rows = 2,000); the rest, from row 2,001 on, are not indexed: raise max_rows "
        "to read them"]
    assert big["chunks"] < 1000 and big["seconds"] < 10  # 2,000 of 200,000 rows read


def test_pdf_page_past_pypdfs_limit_is_skipped_not_handed_to_pdfminer(outcomes):
    bomb = outcomes["pdf"]
    assert bomb["failure"] is None and bomb["seconds"] < 10
    assert bomb["warnings"][0].startswith("page 1: skipped, a stream on it inflates past pypdf's limit")


def test_worker_peak_memory_stays_far_under_its_cap(outcomes):
    assert outcomes["peak_mb"] < LIMITS.memory_mb / 2, outcomes["peak_mb"]
