"""Guessing how a text or CSV file is written: its encoding from its bytes, and a CSV file's delimiter.

Certain checks run first and statistics last: a BOM settles it; a regular pattern of NUL bytes means UTF-16 without
a BOM; a sample that decodes as strict UTF-8 is UTF-8. Legacy encodings are then tried Chinese first, because that
is what this knowledge base mostly holds:

- The sample is decoded as GB18030 (the superset of GB2312 and GBK, so a rare character does not become U+FFFD) and
  as Big5 (CP950, what Windows writes, or Big5-HKSCS). Real Chinese text is nearly all punctuation and level-1
  (common) hanzi of its standard; another encoding's bytes read as Chinese scatter over rare characters. A reading
  with at least 80% common characters wins. charset-normalizer alone gets short Chinese samples wrong: it calls GBK
  "cp949", Big5 "utf_16_be", and a repetitive GBK table "mac_cyrillic".
- Only then is charset-normalizer asked (European code pages and the like).
- The cost: legacy EUC-KR Korean, whose Hangul bytes fall exactly on common GB2312 hanzi, is misread as Chinese.

The delimiter is csv.Sniffer's pick among , ; tab and |. The sniffer gives up on small samples with quoted
multi-line cells; then the delimiter that splits the sample's records into the most consistent number of fields
(more than one) wins, ties going to the earlier of , tab ; |.

Only a sample is examined (the first 64 KiB, plus 64 KiB from the first non-ASCII byte when the head is pure ASCII),
so a large file is never held in memory just to pick its codec. Decoding uses errors="replace": one bad byte should
cost one character, not the whole file.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from pathlib import Path
from typing import TextIO

from ingest.errors import LoaderError

SAMPLE_BYTES = 64 * 1024
_SCAN_BLOCK = 1024 * 1024
_NON_ASCII = re.compile(rb"[\x80-\xff]")
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")

_BOMS = (  # UTF-32 first: its little-endian BOM starts with the UTF-16 one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Candidate codecs in order of preference, and the family whose common characters decide between them.
_CHINESE = (("gb18030", "gb"), ("cp950", "big5"), ("big5hkscs", "big5"))
# Lead-byte ranges of punctuation and of level-1 hanzi: GB2312 rows A1-A9 and B0-D7, Big5 rows A1-A3 and A4-C6.
# Chinese text is almost all level-1 characters; another encoding's bytes read as Chinese land anywhere.
_COMMON = {"gb": ("gb2312", ((0xA1, 0xA9), (0xB0, 0xD7))), "big5": ("big5", ((0xA1, 0xA3), (0xA4, 0xC6)))}


def detect_encoding(sample: bytes) -> str:
    """A Python codec name for text whose first bytes are `sample` (utf-8 when there is nothing to go on)."""
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    if b"\x00" in sample:
        utf16 = _utf16_without_bom(sample)
        if utf16:
            return utf16
    if _decoded(sample, "utf-8") is not None:
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


def _statistical_guess(sample: bytes) -> str:
    # Chinese first: the sample is read as GB18030 and as Big5, and wins if its characters are common ones.
    scores = {name: _common_share(text, *_COMMON[family]) for name, family in _CHINESE
              if (text := _decoded(sample, name)) is not None}
    best = max(scores, key=scores.get, default=None)  # dict order breaks ties: GB18030 first
    if best is not None and scores[best] >= 0.8:
        return best
    from charset_normalizer import from_bytes  # imported late: only legacy non-Chinese files get here

    match = from_bytes(sample).best()
    if match is None:
        return "utf-8"  # no codec fits; decoding with replacement characters is the best left
    name = codecs.lookup(match.encoding).name
    if name in ("gb2312", "gbk", "gb18030"):
        return "gb18030"
    if name in ("big5", "cp950", "big5hkscs"):
        return "big5hkscs" if "big5hkscs" in scores and "cp950" not in scores else "cp950"
    return name


def _decoded(sample: bytes, encoding: str) -> str | None:
    try:
        return codecs.getincrementaldecoder(encoding)("strict").decode(sample, final=False)
    except UnicodeDecodeError:
        return None


def _common_share(text: str, standard: str, leads: tuple[tuple[int, int], ...]) -> float:
    """The share of non-ASCII characters in `text` that are punctuation or level-1 (common) hanzi of `standard`."""
    chars = [char for char in text if ord(char) > 127][:4000]
    common = 0
    for char in chars:
        try:
            lead = char.encode(standard)[0]
        except UnicodeEncodeError:
            continue
        common += any(low <= lead <= high for low, high in leads)
    return common / len(chars) if chars else 0.0


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
    # Text has next to no control bytes (a stray NUL or DOS end-of-file mark is fine); binary data is full of them.
    if not encoding.startswith(("utf-16", "utf-32")) and len(_CONTROL.findall(sample)) > len(sample) // 50:
        raise LoaderError(f"{path.name} looks like a binary file, not text; export it as UTF-8 text and add that")
    binary = path.open("rb")
    return io.TextIOWrapper(binary, encoding=encoding, errors="replace", newline=newline), encoding


def read_text(path: Path) -> str:
    """The whole text of `path`, decoded with the detected encoding (universal newlines)."""
    stream, _ = open_text(path)
    with stream:
        return stream.read()


def sniff_delimiter(sample: str, *, truncated: bool = False) -> str:
    """The likeliest delimiter of a CSV text sample; "," when nothing stands out."""
    if truncated and "\n" in sample:
        sample = sample[: sample.rfind("\n")]  # the last line is cut short
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        pass
    best, best_score = ",", 0.0
    for delimiter in ",\t;|":
        try:  # the csv module itself keeps quoted delimiters and line breaks inside their field
            widths = Counter(len(record) for record in csv.reader(io.StringIO(sample), delimiter=delimiter) if record)
        except csv.Error:
            continue
        width, count = widths.most_common(1)[0] if widths else (0, 0)
        score = count / sum(widths.values()) if width > 1 else 0.0
        if score > best_score:
            best, best_score = delimiter, score
    return best
