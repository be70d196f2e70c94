"""Clean-up of text extracted from PDF pages, and the garble score that decides when pdfminer gets a say.

Whitespace is normalised lightly: space runs collapse, spaces go from letter-spaced CJK lines, a CJK line that
wraps into the next one (a full-width line) is joined, "hyphen-\\nated" words and "l e t t e r - s p a c e d"
words (a pypdf quirk with some monospace fonts) are joined.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

_CID = re.compile(r"\(cid:\d+\)")
# "\\ d o c u m e n t": pypdf spaces out the letters of some monospace fonts; 4+ lone letters in a row are never prose.
_SPACED = re.compile(r"(?<!\S)(?:[A-Za-z\\] ){3,}[A-Za-z](?!\S)")
# CJK radicals, punctuation, kana, bopomofo, ideographs, compatibility ideographs, full-width forms (not Hangul:
# Korean puts spaces between words).
_CJK = "\u2e80-\u2fdf\u3000-\u30ff\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_SENTENCE_END = set("。！？；：…")
_CJK_CHAR = re.compile(f"[{_CJK}]")
_CJK_GAP = re.compile(f"(?<=[{_CJK}]) (?=[{_CJK}])")
_CJK_PAIR = re.compile(f"(?<=[{_CJK}])(?=[{_CJK}])")
_HYPHEN_BREAK = re.compile(r"(?<=[a-z])-\n(?=[a-z])")
_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})
_CJK_SCRIPTS = {"CJK", "HIRAGANA", "KATAKANA", "HALFWIDTH", "FULLWIDTH", "IDEOGRAPHIC", "KANGXI"}


def garble_score(text: str) -> float:
    """Share of non-space characters that look like a broken font mapping; 0.0 is clean, 1.0 hopeless."""
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return 0.0
    bad = sum(len(m) for m in _CID.findall(text))
    scripts: Counter[str] = Counter()
    for c in chars:
        cat = unicodedata.category(c)
        if c == "\ufffd" or cat in ("Co", "Cn", "Cs", "Cc", "Mn"):
            bad += 1
        elif cat[0] == "L":
            script = unicodedata.name(c, "UNKNOWN").split(" ", 1)[0]
            scripts["CJK" if script in _CJK_SCRIPTS else script] += 1
    # Real text uses one or two scripts (Chinese plus Latin, say); mojibake sprays letters over a dozen.
    bad += sum(count for _, count in scripts.most_common()[2:])
    return min(1.0, bad / len(chars))


def normalise(text: str) -> str:
    text = text.translate(_LIGATURES).replace("\r\n", "\n").replace("\r", "\n").replace("\x0c", "\n")
    text = re.sub(r"[^\S\n]+", " ", text)
    text = "\n".join(_close_cjk_gaps(line.strip()) for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    text = _SPACED.sub(lambda m: m.group().replace(" ", ""), text)
    text = _HYPHEN_BREAK.sub("", text)
    return _join_wrapped_cjk(text).strip()


def _width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def _join_wrapped_cjk(text: str) -> str:
    """Join CJK lines that wrap mid-sentence: a full-width line not ending a sentence. Others keep their break."""
    lines = text.split("\n")
    if len(lines) < 2:
        return text
    widths = [_width(line) for line in lines]
    full = max(widths) * 0.75
    out = [lines[0]]
    for i in range(1, len(lines)):
        prev, line = lines[i - 1], lines[i]
        # The width test uses the original previous line, so that joined lines do not snowball into one.
        wrapped = prev and prev[-1] not in _SENTENCE_END and _CJK_CHAR.match(prev[-1]) and widths[i - 1] >= full
        if wrapped and line and _CJK_CHAR.match(line[0]):
            out[-1] += line
        else:
            out.append(line)
    return "\n".join(out)


def _close_cjk_gaps(line: str) -> str:
    """Drop the spaces of a letter-spaced CJK line ("摘 要"). A line with only a few spaces between CJK characters
    keeps them: there they usually separate table cells or words."""
    gaps = len(_CJK_GAP.findall(line))
    if gaps and gaps >= len(_CJK_PAIR.findall(line)):
        return _CJK_GAP.sub("", line)
    return line
