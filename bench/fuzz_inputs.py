"""Inputs for fuzzing the loaders: a small valid seed file per format, and mutations of it as plain data.

A mutation is a list of `Op`s (kind, position, payload) applied to the seed's bytes, or, for the zip formats, to
the inflated bytes of one part, re-zipped with good CRCs, so the damage reaches the XML parsers instead of
stopping at zipfile's checks. Plain data, so hypothesis can generate and shrink it (tests/ingest/test_fuzz.py)
and `random_mutation` can draw thousands without hypothesis (bench/loader_abuse.py). Payloads come from random
bytes or from `TOKENS`, the syntax that gets a mutation past the first parse error of each format.

`outcome` is the property both check: a file ends in chunks, a named `LoaderError`, or a `LoaderWarning`.
"""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from bench.common import SHARED

Op = tuple[int, int, bytes]  # (kind: one of OPS, position (taken modulo the length), payload)
OPS = ("replace", "insert", "delete", "truncate", "duplicate")
FORMATS = (".docx", ".xlsx", ".xls", ".pdf", ".csv", ".md", ".txt")
ZIPPED = (".docx", ".xlsx")
XLS_SEED = SHARED / "corpus" / "xlsx" / "en_unstructured_tests-example.xls"
TOKENS = (
    b"<", b">", b"</", b"/>", b'"', b"&", b"&#0;", b"&amp;", b"<![CDATA[", b"]]>", b"<!--", b"\x00", b"\xff\xfe",
    b"<!DOCTYPE d [<!ENTITY e 'eeeeeeee'>]>", b"&e;", b"999999999", b"-1", b"4294967296", b"NaN",
    b"<w:tbl><w:tr><w:tc><w:p><w:r><w:t>t</w:t></w:r></w:p></w:tc></w:tr></w:tbl>", b'w:val="99999"',
    b'<w:gridSpan w:val="16384"/>', b'<w:vMerge/>', b"<w:txbxContent>", b'<w:pStyle w:val="Heading1"/>',
    b'r="XFD1048576"', b'ref="A1:XFD1048576"', b'<mergeCell ref="A1:C999999"/>', b't="s"', b't="e"', b't="d"',
    b"<v>1e308</v>", b"<v>99999999</v>", b'<row r="1048576">',
    b"obj", b"endobj", b"stream\n", b"endstream", b"/Length 99999999", b"/FlateDecode", b"xref", b"trailer",
    b"startxref", b"%%EOF", b"<<", b">>", b"/Kids [3 0 R 3 0 R]", b"/Parent 2 0 R", b"Tj", b"TJ", b"BT", b"ET",
    b'"', b'""', b",", b";", b"\t", b"\n", b"\r", b"\r\n", b"# ", b"```", b"---\n", b"===\n", b"\xef\xbb\xbf",
    b"\xe4\xb8\xad\xe6\x96\x87", b"\xff\xfe\x00\x00",
)


def apply_ops(data: bytes, ops: Sequence[Op]) -> bytes:
    out = bytearray(data)
    for kind, position, payload in ops:
        at = position % (len(out) + 1)
        name = OPS[kind % len(OPS)]
        if name == "replace":
            out[at:at + len(payload)] = payload
        elif name == "insert":
            out[at:at] = payload
        elif name == "delete":
            del out[at:at + 1 + len(payload) * 8]
        elif name == "truncate":
            del out[at:]
        else:  # duplicate: repeat a slice of the file where it is
            piece = out[at:at + 1 + len(payload) * 16]
            out[at:at] = piece * (1 + len(payload) % 4)
    return bytes(out)


def mutate(seed: bytes, part: int | None, ops: Sequence[Op]) -> bytes:
    """`seed` with `ops` applied to its raw bytes (`part` None) or to part number `part` of its zip archive."""
    if part is None:
        return apply_ops(seed, ops)
    with zipfile.ZipFile(io.BytesIO(seed)) as source:
        items = [(info.filename, source.read(info)) for info in source.infolist()]
    target = part % len(items)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for i, (name, data) in enumerate(items):
            out.writestr(name, apply_ops(data, ops) if i == target else data)
    return buffer.getvalue()


def random_mutation(rng: random.Random, suffix: str) -> tuple[int | None, list[Op]]:
    """What hypothesis draws in tests/ingest/test_fuzz.py, drawn with `rng` instead."""
    ops = []
    for _ in range(rng.randint(1, 6)):
        payload = rng.choice(TOKENS) if rng.random() < 0.6 else rng.randbytes(rng.randint(0, 12))
        ops.append((rng.randrange(len(OPS)), rng.randrange(1 << 20), payload))
    part = rng.randrange(32) if suffix in ZIPPED and rng.random() < 0.7 else None
    return part, ops


def available_formats() -> tuple[str, ...]:
    """Every format with a seed here: .xls needs the shared corpus (nothing here writes .xls)."""
    return tuple(f for f in FORMATS if f != ".xls" or XLS_SEED.is_file())


@lru_cache(maxsize=None)
def seed(suffix: str) -> bytes:
    return _SEEDS[suffix]()


def outcome(path: Path, limits) -> str:
    """"chunks", "warning" or "loader_error" for one file through the real parse worker function; any other
    exception propagates: that is what the fuzz looks for."""
    from ingest.errors import LoaderError
    from ingest.workers import ChunkSpec, parse_file

    try:
        result = parse_file(str(path), ChunkSpec(size=128, overlap=16), limits)
    except LoaderError:
        return "loader_error"
    return "chunks" if result.chunks else "warning"


def _docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("第一章 总则", level=1)
    document.add_paragraph("本办法适用于全体员工。 Plain English text follows.")
    document.add_heading("1.1 适用范围", level=2)
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate([("职务", "住宿费", "伙食费"), ("普通员工", "500", "50"), ("经理", "800", "80")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(1, 0).merge(table.cell(2, 0))
    document.sections[0].header.paragraphs[0].text = "公司内部文件"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _xlsx() -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "销售"
    sheet.append(["2024年报表"])
    sheet.append(["地区", "产品", "数量", "日期", "占比"])
    sheet.append(["华东", "苹果", 10.5, datetime(2024, 1, 5), 0.25])
    sheet.append(["华北", "香蕉", 3, datetime(2024, 2, 1, 9, 30), None])
    sheet.merge_cells("A3:A4")
    sheet["E3"].number_format = "0%"
    workbook.create_sheet("Notes").append(["note", "only"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _pdf() -> bytes:
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    # Uncompressed page streams: mutations then land in the text operators, not in deflate's bits.
    pdf = canvas.Canvas(buffer, pageCompression=0)
    for page in range(2):
        pdf.drawString(72, 720, f"Page {page + 1}: the travel policy applies to all staff.")
        pdf.drawString(72, 700, "Hotel 500 per night, meals 50 per day.")
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


_SEEDS: dict[str, Callable[[], bytes]] = {
    ".docx": _docx,
    ".xlsx": _xlsx,
    ".xls": XLS_SEED.read_bytes,
    ".pdf": _pdf,
    ".csv": lambda: '名称,数值,备注\n温度,0.7,"多行\n备注"\ntop_p,0.9,""\n'.encode("utf-8"),
    ".md": lambda: "---\ntitle: 手册\n---\n# 第一章\n正文。\n\n## 1.1 节\n```\n# not a heading\n```\nSetext\n===\n".encode(),
    ".txt": lambda: "报销制度\n\n第一条 本制度适用于全体员工。\n\nSecond paragraph.\n".encode("gb18030"),
}
