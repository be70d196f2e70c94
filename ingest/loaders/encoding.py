"""Guessing the encoding of a text or CSV file from its bytes.

Certain checks run first and statistics last: a BOM settles it; a regular pattern of NUL bytes means UTF-16 without
a BOM; a sample that decodes as strict UTF-8 is UTF-8. Only then is charset-normalizer asked, and its answer is bent
towards Chinese, because that is what this knowledge base mostly holds:

- GB2312 and GBK are read as GB18030, their superset, so a rare character does not turn into U+FFFD.
- Big5 is read as CP950 (what Windows writes) or, failing that, Big5-HKSCS.
- On short samples charset-normalizer often calls GBK "cp949" (Korean) or Shift-JIS. When a Chinese codec is among
  its candidates we take it. The cost: a short legacy-encoded Korean or Japanese file may be misread as Chinese.

Only a sample is examined (the first 64 KiB, plus 64 KiB from the first non-ASCII byte when the head is pure ASCII),
so a large file is never held in memory just to pick its codec. Decoding uses errors="replace": one bad byte should
cost one character, not the whole file.
"""

from __future__ import annotations

import codecs
import io
import re
from pathlib import Path
from typing import TextIO

from rag.errors import LoaderError

SAMPLE_BYTES = 64 * 1024
_SCAN_BLOCK = 1024 * 1024
_NON_ASCII = re.compile(rb"[\x80-\xff]")

_BOMS = (  # UTF-32 first: its little-endian BOM starts with the UTF-16 one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CHINESE = {"gb2312": "gb18030", "gbk": "gb18030", "gb18030": "gb18030", "big5": "big5", "cp950": "big5",
            "big5hkscs": "big5"}
_OTHER_CJK = {"cp949", "euc_kr", "johab", "iso2022_kr", "shift_jis", "cp932", "euc_jp", "euc_jis_2004",
              "euc_jisx0213", "shift_jis_2004", "shift_jisx0213", "iso2022_jp"}


def detect_encoding(sample: bytes) -> str:
    """A Python codec name for text whose first bytes are `sample` (utf-8 when there is nothing to go on)."""
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    if b"\x00" in sample:
        utf16 = _utf16_without_bom(sample)
        if utf16:
            return utf16
    if _is_utf8(sample):
        return "utf-8"
    return _statistical_guess(sample)


def _utf16_without_bom(sample: bytes) -> str | None:
    # Latin text in UTF-16 has a NUL in every high byte: at even offsets for big-endian, odd for little-endian.
    even, odd = sample[0::2], sample[1::2]
    if not even or not odd:
        return None
    even_nul, odd_nul = even.count(0) / len(even), odd.count(0) / len(odd)
    if even_nul > 0.3 and odd_nul < 0.05:
        return "utf-16-be"
    if odd_nul > 0.3 and even_nul < 0.05:
        return "utf-16-le"
    return None


def _is_utf8(sample: bytes) -> bool:
    # final=False: the sample may end in the middle of a multi-byte character.
    try:
        codecs.getincrementaldecoder("utf-8")("strict").decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _decodes(sample: bytes, encoding: str) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)("strict").decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _statistical_guess(sample: bytes) -> str:
    from charset_normalizer import from_bytes  # imported late: it is only needed for legacy encodings

    names = [codecs.lookup(match.encoding).name.replace("-", "_") for match in from_bytes(sample)]
    chinese = [name for name in names if name in _CHINESE]
    if chinese and (names[0] in _CHINESE or names[0] in _OTHER_CJK):
        return _best_chinese(sample, _CHINESE[chinese[0]])
    if names:
        return names[0]
    # Nothing fits: the likeliest legacy encoding here is GB18030, which accepts almost any byte sequence.
    return "gb18030" if _decodes(sample, "gb18030") else "utf-8"


def _best_chinese(sample: bytes, family: str) -> str:
    if family == "gb18030":
        return "gb18030"
    for name in ("cp950", "big5hkscs"):
        if _decodes(sample, name):
            return name
    return "cp950"


def sample_of(path: Path) -> bytes:
    """The bytes `detect_encoding` should see: the head, and the first non-ASCII stretch if the head has none."""
    with path.open("rb") as f:
        head = f.read(SAMPLE_BYTES)
        if len(head) < SAMPLE_BYTES or not head.isascii():
            return head
        # A pure-ASCII head says nothing about a GBK or UTF-8 body; find where the body stops being ASCII. The
        # first byte >= 0x80 after ASCII is always the start of a character in UTF-8, GBK and Big5 alike.
        offset = len(head)
        while block := f.read(_SCAN_BLOCK):
            if not block.isascii():
                f.seek(offset + _NON_ASCII.search(block).start())
                return head + f.read(SAMPLE_BYTES)
            offset += len(block)
    return head


def open_text(path: Path, *, newline: str | None = None) -> tuple[TextIO, str]:
    """`path` opened for streaming text reads, with the encoding it was opened in. The caller closes it."""
    sample = sample_of(path)
    encoding = detect_encoding(sample)
    if b"\x00" in sample and not encoding.startswith(("utf-16", "utf-32")):
        raise LoaderError(f"{path.name} looks like a binary file, not text; export it as UTF-8 text and add that")
    binary = path.open("rb")
    return io.TextIOWrapper(binary, encoding=encoding, errors="replace", newline=newline), encoding


def read_text(path: Path) -> str:
    """The whole text of `path`, decoded with the detected encoding (universal newlines)."""
    stream, _ = open_text(path)
    with stream:
        return stream.read()
