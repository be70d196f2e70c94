"""Plain text and Markdown as sections, streamed line by line in the file's detected encoding.

Plain text has no structure we can trust, so paragraphs (blank-line separated) are grouped into sections of about
4,000 characters; the chunker cuts them finer. Memory stays bounded on any file: lines are read at most 64 KiB at a
time, so even a file with no line breaks arrives in pieces.

Markdown gets one section per heading block: the text under a heading up to the next heading, with the heading path
("Chapter > Section") in `heading` and the heading line itself left out of the text. ATX headings (`#` to `######`)
follow CommonMark: a space after the hashes is required, so `#hashtag` and `#5` stay text, and so does a
Chinese-style `#标题` written without one. Lines inside fenced code blocks are never headings. Setext headings
(a line underlined with `===` or `---`) take only the last line above the underline as the title, where CommonMark
would take the whole paragraph. A very long heading block is cut at a blank line after 100,000 characters, each part
keeping the heading.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ingest.errors import LoaderWarning
from ingest.limits import DEFAULT_LIMITS, Limits
from ingest.loaders.encoding import open_text
from ingest.types import Section

PARAGRAPH_GROUP_CHARS = 4000
MAX_SECTION_CHARS = 100_000
_LINE_LIMIT = 64 * 1024

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))??(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_SETEXT = re.compile(r"^ {0,3}(={3,}|-{3,})[ \t]*$")
# A line above `---` that is a list item, quote, table row or indented code is not a setext title.
_NOT_A_TITLE = re.compile(r"^(?: {4}|\t| {0,3}\|| {0,3}(?:[-*+>]|\d+[.)])(?:\s|$))")


def load_text(path: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[Section]:
    yield from _warn_if_nothing(path, _text_sections)


def load_markdown(path: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[Section]:
    yield from _warn_if_nothing(path, _markdown_sections)


def _warn_if_nothing(path: Path, sections: Callable[[Iterable[str]], Iterator[Section]]) -> Iterator[Section]:
    if path.stat().st_size == 0:
        warnings.warn("empty file", LoaderWarning, stacklevel=3)
        return
    stream, _ = open_text(path)
    found = False
    with stream:
        for section in sections(iter(lambda: stream.readline(_LINE_LIMIT), "")):
            found = True
            yield section
    if not found:
        warnings.warn("no text found", LoaderWarning, stacklevel=3)


def _text_sections(lines: Iterable[str]) -> Iterator[Section]:
    buffer: list[str] = []
    size = 0
    for line in lines:
        buffer.append(line)
        size += len(line)
        # Cut at a paragraph break once the group is big enough, or anywhere once it is far too big.
        if (size >= PARAGRAPH_GROUP_CHARS and not line.strip()) or size >= 4 * PARAGRAPH_GROUP_CHARS:
            yield from _section(buffer, None)
            buffer, size = [], 0
    yield from _section(buffer, None)


def _markdown_sections(lines: Iterable[str]) -> Iterator[Section]:
    path: list[tuple[int, str]] = []  # the open headings, outermost first
    body: list[str] = []
    size = 0
    fence: str | None = None  # the opening fence while inside a fenced code block
    front_matter = False
    for number, line in enumerate(lines):
        stripped = line.rstrip("\r\n")
        if number == 0 and stripped == "---":
            front_matter = True  # YAML front matter: its closing "---" must not make a setext heading
        elif front_matter:
            front_matter = stripped not in ("---", "...")
        elif fence is not None:
            if re.match(rf"^ {{0,3}}{fence[0]}{{{len(fence)},}}[ \t]*$", stripped):
                fence = None
        elif opening := _FENCE.match(stripped):
            if not (opening.group(1)[0] == "`" and "`" in opening.group(2)):  # ``` with a backtick is inline code
                fence = opening.group(1)
        elif atx := _ATX.match(stripped):
            yield from _section(body, _heading(path))
            body, size = [], 0
            _open_heading(path, len(atx.group(1)), atx.group(2) or "")
            continue
        elif _SETEXT.match(stripped) and body and body[-1].strip() and not _NOT_A_TITLE.match(body[-1]):
            title = body.pop().strip()
            yield from _section(body, _heading(path))
            body, size = [], 0
            _open_heading(path, 1 if stripped.strip()[0] == "=" else 2, title)
            continue
        body.append(line)
        size += len(line)
        if size >= MAX_SECTION_CHARS and (not line.strip() and fence is None or size >= 4 * MAX_SECTION_CHARS):
            yield from _section(body, _heading(path))
            body, size = [], 0
    yield from _section(body, _heading(path))


def _open_heading(path: list[tuple[int, str]], level: int, title: str) -> None:
    while path and path[-1][0] >= level:
        path.pop()
    path.append((level, title.strip()))


def _heading(path: list[tuple[int, str]]) -> str | None:
    return " > ".join(title for _, title in path if title) or None


def _section(lines: list[str], heading: str | None) -> Iterator[Section]:
    text = "".join(lines).strip("\n").rstrip()
    if text.strip():
        yield Section(text=text, heading=heading)
