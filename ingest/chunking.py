"""Chinese-aware chunking: a pure function from located sections to chunks.

Text is cut into sentences at 。！？；!?; and line breaks, then sentences are packed greedily up to `size`
tokens of the embedding model, carrying about `overlap` tokens of trailing sentences into the next chunk.
A sentence longer than `size` is cut at commas, then by characters, so no chunk overshoots much.

Consecutive sections with the same locator (same page, or same heading) are joined with a newline first, so
short paragraphs share chunks; a chunk's `start`/`end` are offsets into that joined text.

Table rows never overlap: each chunk is the header line followed by as many whole rows as fit, so every
chunk stands alone and its locator is the sheet plus the row range.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from itertools import groupby

from ingest.types import Chunk, Section, chunk_id

TokenCounter = Callable[[str], int]

# A sentence ends after CJK or ASCII terminal punctuation (with any closing quotes), after a full stop that is
# followed by white space (so "1.5B" stays whole), or at a line break.
_SENTENCE_BREAK = re.compile(r"(?:[。！？；!?;]+|\.(?=\s))[”’」』）)\"']*[ \t]*|\n+")
_SOFT_BREAK = re.compile(r"[^，,、：:\s]*(?:[，,、：:]|\s+|$)")


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate, used when no tokenizer is available: a CJK character is about one token,
    an ASCII word about 1.3."""
    cjk = sum(1 for ch in text if ord(ch) >= 0x2E80)
    words = len(re.findall(r"[A-Za-z0-9]+", text))
    return cjk + int(words * 1.3) + 1


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of sentences, covering the text without gaps."""
    spans, start = [], 0
    for m in _SENTENCE_BREAK.finditer(text):
        if m.end() > start:
            spans.append((start, m.end()))
            start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def _split_long(text: str, start: int, end: int, size: int, count: TokenCounter) -> list[tuple[int, int]]:
    """Cut one over-long sentence at soft breaks, then by characters, into spans of at most `size` tokens."""
    pieces = [(start + m.start(), start + m.end()) for m in _SOFT_BREAK.finditer(text[start:end]) if m.end() > m.start()]
    out: list[tuple[int, int]] = []
    for s, e in pieces:
        tokens = count(text[s:e])
        if tokens <= size:
            out.append((s, e))
            continue
        step = max(1, int((e - s) * size / tokens))
        out.extend((i, min(i + step, e)) for i in range(s, e, step))
    # Re-pack the soft pieces so we do not emit many tiny fragments.
    packed: list[tuple[int, int]] = []
    for s, e in out:
        if packed and count(text[packed[-1][0]:e]) <= size:
            packed[-1] = (packed[-1][0], e)
        else:
            packed.append((s, e))
    return packed


def _pack_text(text: str, size: int, overlap: int, count: TokenCounter) -> Iterator[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for s, e in split_sentences(text):
        spans.extend(_split_long(text, s, e, size, count) if count(text[s:e]) > size else [(s, e)])
    lengths = [count(text[s:e]) for s, e in spans]
    i = 0
    while i < len(spans):
        j, total = i, 0
        while j < len(spans) and (j == i or total + lengths[j] <= size):
            total += lengths[j]
            j += 1
        yield spans[i][0], spans[j - 1][1]
        if j >= len(spans):
            break
        # Step back over trailing sentences worth at most `overlap` tokens, but always make progress.
        back, carried = j, 0
        while back - 1 > i and carried + lengths[back - 1] <= overlap:
            back -= 1
            carried += lengths[back]
        i = back


def _locator(section: Section) -> tuple:
    return (section.page, section.sheet, section.heading, section.header is not None, section.header)


def chunk_sections(source: str, sections: Iterable[Section], *, size: int, overlap: int,
                   count: TokenCounter = estimate_tokens) -> Iterator[Chunk]:
    """Chunks of `sections`, in document order. Duplicate texts within one source are emitted once."""
    if size < 1:
        raise ValueError("size must be at least 1 token")
    if not 0 <= overlap < size:
        raise ValueError("overlap must be at least 0 and less than size")
    seen: set[int] = set()
    for _, group in groupby(sections, key=_locator):
        group = list(group)
        first = group[0]
        pieces = _table_chunks(group, size, count) if first.header is not None else _text_chunks(group, size, overlap, count)
        for text, rows, start, end in pieces:
            text = text.strip()
            if not text:
                continue
            cid = chunk_id(source, text)
            if cid in seen:
                continue
            seen.add(cid)
            yield Chunk(id=cid, source=source, text=text, page=first.page, sheet=first.sheet,
                        rows=rows, heading=first.heading, start=start, end=end)


def _text_chunks(group: list[Section], size: int, overlap: int, count: TokenCounter):
    joined = "\n".join(s.text for s in group)
    for start, end in _pack_text(joined, size, overlap, count):
        # Report offsets of the stripped body, so `joined[start:end]` is exactly the chunk text.
        body = joined[start:end]
        lead = len(body) - len(body.lstrip())
        trail = len(body) - len(body.rstrip())
        yield body, None, start + lead, end - trail


def _table_chunks(group: list[Section], size: int, count: TokenCounter):
    header = group[0].header or ""
    budget = max(1, size - count(header))
    rows: list[Section] = []
    used = 0
    offset = 0  # offsets count row texts joined by newlines, as for text sections
    chunk_start = 0
    for row in group:
        n = count(row.text)
        if rows and used + n > budget:
            yield _table_piece(header, rows), _row_range(rows), chunk_start, offset - 1
            rows, used, chunk_start = [], 0, offset
        rows.append(row)
        used += n
        offset += len(row.text) + 1
    if rows:
        yield _table_piece(header, rows), _row_range(rows), chunk_start, offset - 1


def _table_piece(header: str, rows: list[Section]) -> str:
    return "\n".join([header, *(r.text for r in rows)]) if header else "\n".join(r.text for r in rows)


def _row_range(rows: list[Section]) -> tuple[int, int] | None:
    numbers = [n for r in rows if r.rows for n in r.rows]
    return (min(numbers), max(numbers)) if numbers else None
