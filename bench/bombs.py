"""Generators of the oversized files from issue 17, at any size: a .docx whose document.xml inflates to ~1 GB, an
.xlsx of 1,048,576 rows inflating to ~781 MB, a 63 MB CSV of 600,000 rows; and a PDF whose page stream inflates
past pypdf's 75 MB limit.

Each streams what it writes (zip members through `ZipFile.open(..., "w")`), so a 1 GB bomb costs a few MB of
memory and a few seconds. tests/ingest/test_bombs.py builds them small; bench/loader_abuse.py at the reported
sizes. Both run them with `parse_isolated`: the real `parse_files` in a child process, which reports the kernel's
exact peak RSS of its largest parse worker (`ru_maxrss` of its children: a process that spawned workers before
cannot ask that for itself), while the caller samples the whole tree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

from bench.common import ROOT, PeakRSS

_CHUNK = 1 << 20
_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_S_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
_SHEET_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
_CT = "http://schemas.openxmlformats.org/package/2006/content-types"


def docx_bomb(path: Path, inflated_mb: float, paragraph: str = "All work and no play makes Jack a dull boy. ") -> Path:
    """A valid .docx whose word/document.xml holds one repeated paragraph, `inflated_mb` MB once inflated."""
    p = f"<w:p><w:r><w:t>{paragraph * 4}</w:t></w:r></w:p>".encode()
    head = f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{_W_NS}"><w:body>'.encode()
    tail = b"</w:body></w:document>"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _content_types(
            "/word/document.xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"))
        archive.writestr("_rels/.rels", _rels([("rId1", _DOC_REL, "word/document.xml")]))
        _stream(archive, "word/document.xml", head, _repeat(p, int(inflated_mb * _CHUNK)), tail)
    return path


def xlsx_sheet(path: Path, rows: int, cells_per_row: int = 10, text: str = "x" * 32) -> Path:
    """A valid .xlsx with one sheet of `rows` rows: the row number, then `cells_per_row - 1` inline-string cells
    (about `cells_per_row * (len(text) + 45)` bytes a row inflated): 1,048,576 rows of 10 cells of 32 characters
    is the report's 781 MB sheet."""
    columns = [_column(i) for i in range(1, cells_per_row + 1)]
    # <dimension> as Excel writes it: without one, openpyxl's read-only mode parses the whole sheet on opening.
    head = (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_S_NS}">'
            f'<dimension ref="A1:{columns[-1]}{rows}"/><sheetData>').encode()

    def body() -> Iterator[bytes]:
        block: list[str] = []
        for r in range(1, rows + 1):
            # The row number in the first cell: identical rows would make identical chunks, which dedupe.
            cells = f'<c r="A{r}"><v>{r}</v></c>' + "".join(
                f'<c r="{c}{r}" t="inlineStr"><is><t>{text}</t></is></c>' for c in columns[1:])
            block.append(f'<row r="{r}">{cells}</row>')
            if len(block) == 1000:
                yield "".join(block).encode()
                block = []
        yield "".join(block).encode()

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _content_types(
            "/xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
            ("/xl/worksheets/sheet1.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml")))
        archive.writestr("_rels/.rels", _rels([("rId1", _DOC_REL, "xl/workbook.xml")]))
        archive.writestr("xl/workbook.xml", f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_S_NS}" '
                         f'xmlns:r="{_R_NS}"><sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>')
        archive.writestr("xl/_rels/workbook.xml.rels", _rels([("rId1", _SHEET_REL, "worksheets/sheet1.xml")]))
        _stream(archive, "xl/worksheets/sheet1.xml", head, body(), b"</sheetData></worksheet>")
    return path


def csv_rows(path: Path, rows: int, row_bytes: int = 105) -> Path:
    """A UTF-8 CSV of a header and `rows` rows of about `row_bytes` bytes: 600,000 rows is the report's 63 MB."""
    filler = "y" * max(1, row_bytes - 28)  # the other three fields take about 27 bytes
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("id,name,amount,note\n")
        block: list[str] = []
        for i in range(1, rows + 1):
            block.append(f"{i},item {i % 977},{i * 3.25:.2f},{filler}\n")
            if len(block) == 10_000:
                out.write("".join(block))
                block = []
        out.write("".join(block))
    return path


def pdf_bomb(path: Path, inflated_mb: float) -> Path:
    """A one-page PDF whose content stream, a line of text and then spaces, inflates to `inflated_mb` MB."""
    import zlib

    deflate = zlib.compressobj(9)
    data = [deflate.compress(b"BT /F1 12 Tf 72 720 Td (A page of spaces) Tj ET\n")]
    data += [deflate.compress(block) for block in _repeat(b" ", int(inflated_mb * _CHUNK))] + [deflate.flush()]
    stream = b"".join(data)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(stream), stream),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def _repeat(unit: bytes, total: int) -> Iterator[bytes]:
    block = unit * max(1, _CHUNK // len(unit))
    for _ in range(max(1, total // len(block))):
        yield block


def _stream(archive: zipfile.ZipFile, name: str, head: bytes, body: Iterator[bytes], tail: bytes) -> None:
    # force_zip64: the size is not known up front and may pass 2 GiB.
    with archive.open(name, "w", force_zip64=True) as member:
        member.write(head)
        for block in body:
            member.write(block)
        member.write(tail)


def _content_types(main: str, main_type: str, *more: tuple[str, str]) -> str:
    overrides = "".join(f'<Override PartName="{part}" ContentType="{kind}"/>' for part, kind in ((main, main_type), *more))
    return (f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{_CT}">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            f'<Default Extension="xml" ContentType="application/xml"/>{overrides}</Types>')


def _rels(rels: list[tuple[str, str, str]]) -> str:
    items = "".join(f'<Relationship Id="{i}" Type="{t}" Target="{target}"/>' for i, t, target in rels)
    return f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG_RELS}">{items}</Relationships>'


def _column(index: int) -> str:
    name = ""
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def parse_isolated(paths: Sequence[Path], limits, timeout: float = 300.0) -> dict:
    """`parse_files(paths, limits=limits)` with one worker in a child process: {"files": {path: {"seconds",
    "failure", "chunks", "warnings"}}, "worker_peak_mb": exact peak of the worker, "tree_peak_mb": sampled peak of
    the child and its worker together, "stderr": what the child and its worker printed there}."""
    command = [sys.executable, "-m", "bench.bombs", json.dumps(asdict(limits)), str(timeout), *map(str, paths)]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}) as child, PeakRSS(child.pid) as tree:
        out, err = child.communicate(timeout=timeout * len(paths) + 120)
    if child.returncode:
        raise RuntimeError(f"the child running parse_files failed:\n{err[-3000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    return {**result, "tree_peak_mb": tree.mb, "stderr": err}


def _child(limits_json: str, timeout: str, *paths: str) -> None:
    import resource

    from ingest.limits import Limits
    from ingest.workers import ChunkSpec, parse_files

    files, start = {}, time.perf_counter()
    for r in parse_files(paths, ChunkSpec(size=256, overlap=32), workers=1, timeout=float(timeout),
                         limits=Limits(**json.loads(limits_json))):
        done, failed = time.perf_counter(), hasattr(r, "message")
        files[r.source] = {"seconds": done - start, "failure": r.message if failed else None,
                           "chunks": 0 if failed else len(r.chunks), "warnings": [] if failed else r.warnings}
        start = done
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"files": files, "worker_peak_mb": peak}))


if __name__ == "__main__":
    _child(*sys.argv[1:])
