"""The data the facade hands out: search hits, answers with citations, documents, ingest reports."""

from __future__ import annotations

from dataclasses import dataclass, field


def format_locator(page: int | None, sheet: str | None, rows: tuple[int, int] | None,
                   heading: str | None) -> str:
    """A short human locator: 'p. 3', 'Sheet1 rows 2-9', '§ 架构 > 检索'."""
    parts = []
    if page is not None:
        parts.append(f"p. {page}")
    if sheet:
        parts.append(sheet)
    if rows:
        parts.append(f"row {rows[0]}" if rows[0] == rows[1] else f"rows {rows[0]}-{rows[1]}")
    if heading:
        parts.append(f"§ {heading}")
    return ", ".join(parts)


@dataclass
class Hit:
    text: str
    source: str
    page: int | None
    sheet: str | None
    rows: tuple[int, int] | None
    heading: str | None
    score: float  # fused rank score: higher is better, comparable only within one result list
    chunk_id: int
    dense: float | None = None  # cosine similarity to the query, if the dense ranker saw it
    keyword_rank: int | None = None  # 1-based rank in the keyword ranker, if it matched

    @property
    def locator(self) -> str:
        return format_locator(self.page, self.sheet, self.rows, self.heading)


@dataclass
class Citation:
    number: int
    source: str
    page: int | None
    sheet: str | None
    rows: tuple[int, int] | None
    heading: str | None
    text: str  # the cited chunk's text
    quote: str = ""  # the part of the chunk that supports the answer, when found
    chunk_id: int = 0

    @property
    def locator(self) -> str:
        return format_locator(self.page, self.sheet, self.rows, self.heading)


@dataclass
class Answer:
    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False  # True when the KB had nothing relevant, or the model said the passages lack the answer
    hits: list[Hit] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds: retrieval, first_token, total
    draft: str = ""  # the model's raw text, before citations were checked


PARTIAL = "partial:"


@dataclass
class Document:
    source: str
    kind: str
    pages: int | None
    rows: int | None
    chunks: int
    added_at: str  # ISO 8601, UTC
    sha256: str = ""  # PARTIAL + the hash while a large file is stored batch by batch
    title: str = ""  # the title the file declares (`ingest.titles`), "" if none

    @property
    def partial(self) -> bool:
        """Only part of the file is stored: its ingest was stopped (file_timeout, a kill) and the next
        ingest goes on from there."""
        return self.sha256.startswith(PARTIAL)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, message)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (path, message)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why): hidden files, outside links
    chunks_embedded: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass
class LLMStatus:
    """How the answers are written, for the UI's sidebar and `rag doctor`."""

    backend: str  # "llama_cpp" or "openai"
    model: str  # the GGUF's file name, or the server's name for its model
    where: str  # "in this process: CPU, repacked weights on", or the server's address
    reranking: bool  # whether search re-ranks with this backend
    problem: str = ""  # why it cannot answer, with what to do; "" when it can
    rerank_note: str = ""  # why search does not re-rank, when it does not
