"""Incremental ingest: hash files, parse only what changed, embed only chunks without a stored vector.

Parsing runs in worker processes (`ingest.workers`) while this process embeds finished files in
length-sorted batches and writes each document in one SQLite transaction. The FAISS file is written once at
the end; if we crash before that, the store rebuilds it from the vectors kept in SQLite.

A large file (more chunks than one batch) waits until the small ones are stored, so it cannot hold them up,
and is then stored in parts: first every chunk whose vector is known, then one transaction per embedded
batch. Until its last part it is marked partial, so a kill, or running out of `file_timeout`, keeps what was
stored, and the next ingest parses it again and embeds only what is still missing.

Ingesting a directory also syncs it: documents that were ingested from under it and are gone now are removed.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ingest.limits import DEFAULT_LIMITS, Limits
from ingest.loaders import SUPPORTED_SUFFIXES
from ingest.titles import document_title
from ingest.types import CELL_SEPARATOR, LoadResult
from ingest.workers import ChunkSpec, FileFailure, parse_files
from rag.language import tokenize
from rag.types import PARTIAL, Document, IngestReport

Progress = Callable[[int, int, str], None]  # (files done, files total, current file)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def embed_text(chunk, title: str = "") -> str:
    """What the embedder and the keyword index see: the heading path gives a chunk its context.

    Flat text (no heading, page or sheet: a .txt, a headingless .md or .docx) has no path, so its document's
    title stands in, and a file's later chunks stay tied to what the file is about: "这套示例知识库的资料版本"
    finds the version line at the end of "示例知识库说明". PDF pages keep their own text: their /Title in front
    of each chunk did no better in sum.

    A .docx table with a caption ("表 2-1 采样参数对比") is described by it better than by the heading it sits
    under (a table comparing every sampling parameter, placed at the end of "2.3.2 Top-p", is not about Top-p),
    so a captioned table goes without the path.

    Measurements: BENCHMARKS.md §7, Chunk context for embedding.
    """
    if chunk.heading:
        return chunk.text if _captioned_table(chunk) else f"{chunk.heading}\n{chunk.text}"
    if title and chunk.page is None and chunk.sheet is None and not chunk.text.startswith(title):
        return f"{title}\n{chunk.text}"
    return chunk.text


def _captioned_table(chunk) -> bool:
    """A table chunk whose first line, above the header row, is a caption."""
    lines = chunk.text.split("\n", 2)
    return (chunk.rows is not None and chunk.sheet is not None and len(lines) > 1
            and CELL_SEPARATOR not in lines[0] and CELL_SEPARATOR in lines[1])


def expand(paths: Iterable[str | Path], report: IngestReport, skip: Path | None = None,
           follow_symlinks: bool = False) -> tuple[list[Path], list[Path]]:
    """Files to ingest and the directories they were found in (for sync). Hidden files, the KB itself and
    links that lead out of the folder are skipped, and listed in `report.skipped`."""
    files: list[Path] = []
    dirs: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser().resolve()
        if path.is_dir():
            dirs.append(path)
            files += _walk(path, report, skip, follow_symlinks)
        elif path.is_file():
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                files.append(path)
            else:
                report.failed.append((str(path), f"unsupported format {path.suffix or '(no suffix)'}; "
                                                 f"supported: {', '.join(SUPPORTED_SUFFIXES)}"))
        else:
            report.failed.append((str(path), "no such file or directory"))
    return list(dict.fromkeys(files)), dirs


def _walk(root: Path, report: IngestReport, skip: Path | None, follow: bool) -> list[Path]:
    files: list[Path] = []
    seen: set[Path] = set()  # real directories walked: with follow_symlinks, a link loop ends here
    for top, dirnames, filenames in os.walk(root, followlinks=follow):
        here = Path(top)
        real = here.resolve()
        if real in seen:
            dirnames.clear()
            continue
        seen.add(real)
        for name in sorted(dirnames):
            entry = here / name
            if name.startswith("."):
                report.skipped.append((str(entry), "hidden folder"))
            elif skip and entry.resolve().is_relative_to(skip):
                pass  # the knowledge base's own directory (uploads live there and are ingested by name)
            elif entry.is_symlink() and not follow and not entry.resolve().is_relative_to(root):
                report.skipped.append((str(entry), _OUTSIDE))
            else:
                continue
            dirnames.remove(name)
        dirnames.sort()
        for name in sorted(filenames):
            entry = here / name
            if name.startswith("."):
                report.skipped.append((str(entry), "hidden file"))
            elif entry.is_symlink() and not follow and not entry.resolve().is_relative_to(root):
                report.skipped.append((str(entry), _OUTSIDE))
            elif not entry.is_file() or (skip and entry.resolve().is_relative_to(skip)):
                continue
            elif entry.suffix.lower() in SUPPORTED_SUFFIXES:
                files.append(entry)
            else:
                report.warnings.append((str(entry), f"skipped: unsupported format {entry.suffix or '(no suffix)'}"))
    return files


_OUTSIDE = "a link to outside the folder (setting follow_symlinks ingests it)"


class Indexer:
    def __init__(self, store, embedder, spec: ChunkSpec, *, workers: int = 0, timeout: float = 600.0,
                 batch_size: int = 32, limits: Limits = DEFAULT_LIMITS, follow_symlinks: bool = False) -> None:
        self.store, self.embedder, self.spec = store, embedder, spec
        self.workers, self.timeout, self.batch_size = workers, timeout, batch_size
        self.limits, self.follow_symlinks = limits, follow_symlinks

    @property
    def _part(self) -> int:
        """Chunks embedded and committed together: a few embedder batches."""
        return self.batch_size * 8

    def add(self, paths: Iterable[str | Path], progress: Progress | None = None,
            skip: Path | None = None) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport()
        files, dirs = expand(paths, report, skip, self.follow_symlinks)
        hashes: dict[str, str] = {}
        todo: list[str] = []
        for i, path in enumerate(files):
            source = str(path)
            try:
                hashes[source] = file_sha256(path)
            except OSError as exc:
                report.failed.append((source, f"cannot read: {exc}"))
                continue
            if self.store.document_hash(source) == hashes[source]:
                report.unchanged.append(source)
            else:
                todo.append(source)
        done = len(files) - len(todo)
        if progress:
            progress(done, len(files), "")
        buffer: list[LoadResult] = []
        large: list[tuple[LoadResult, float]] = []  # with the time each has left, after reading
        for result in parse_files(todo, self.spec, workers=self.workers, timeout=self.timeout, limits=self.limits):
            if isinstance(result, FileFailure):
                done += 1
                if progress:
                    progress(done, len(files), Path(result.source).name)
                report.failed.append((result.source, result.message))
                continue
            report.warnings.extend((result.source, w) for w in result.warnings)
            if len(result.chunks) > self._part:
                large.append((result, self.timeout - result.seconds))
                continue
            done += 1
            if progress:
                progress(done, len(files), Path(result.source).name)
            buffer.append(result)
            if sum(len(r.chunks) for r in buffer) >= self._part:
                self._write(buffer, hashes, report)
                buffer = []
        self._write(buffer, hashes, report)
        for result, budget in large:
            self._write_in_parts(result, hashes[result.source], report, time.monotonic() + budget)
            done += 1
            if progress:
                progress(done, len(files), Path(result.source).name)
        untitled = self.store.untitled()
        self.store.backfill_titles({s: document_title(Path(s)) for s in report.unchanged if s in untitled})
        self._sync(dirs, {str(f) for f in files}, report)
        self.store.flush()
        report.seconds = time.perf_counter() - started
        return report

    def _write(self, results: list[LoadResult], hashes: dict[str, str], report: IngestReport) -> None:
        if not results:
            return
        texts = {c.id: embed_text(c, r.title) for r in results for c in r.chunks}
        known = self._vectors(texts, report)
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        for r in results:
            existed = self.store.document_hash(r.source) is not None
            doc = Document(source=r.source, kind=r.kind, pages=r.pages, rows=r.rows, chunks=len(r.chunks),
                           added_at=now, sha256=hashes[r.source], title=r.title)
            self._put(doc, r.chunks, known, texts)
            (report.updated if existed else report.added).append(r.source)

    def _vectors(self, texts: dict[int, str], report: IngestReport) -> dict[int, np.ndarray]:
        """Vectors for these chunk ids: the stored ones, and the rest embedded now."""
        known = self.store.known_vectors(list(texts))
        missing = [cid for cid in texts if cid not in known]
        if missing:
            vectors = self.embedder.embed([texts[cid] for cid in missing])
            known.update(zip(missing, np.asarray(vectors, dtype=np.float32)))
            report.chunks_embedded += len(missing)
        return known

    def _put(self, doc: Document, chunks: list, known: dict[int, np.ndarray], texts: dict[int, str]) -> None:
        dim = self.store.config.dim
        matrix = np.stack([known[c.id] for c in chunks]) if chunks else np.zeros((0, dim), np.float32)
        self.store.put_document(doc, chunks, matrix, [tokenize(texts[c.id]) for c in chunks])

    def _write_in_parts(self, r: LoadResult, sha256: str, report: IngestReport, deadline: float) -> None:
        texts = {c.id: embed_text(c, r.title) for c in r.chunks}
        chunks = list({c.id: c for c in r.chunks}.values())  # a repeated passage is stored once
        known = self.store.known_vectors(list(texts))
        stored, missing = [c for c in chunks if c.id in known], [c for c in chunks if c.id not in known]
        existed = self.store.document_hash(r.source) is not None
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        doc = Document(source=r.source, kind=r.kind, pages=r.pages, rows=r.rows, chunks=len(chunks), added_at=now,
                       sha256=sha256 if not missing else PARTIAL + sha256, title=r.title)
        # One transaction replaces the old version with every chunk already embedded (a resumed file's).
        self._put(doc, stored, known, texts)
        for start in range(0, len(missing), self._part):
            if time.monotonic() > deadline:
                report.failed.append((r.source, f"gave up after {self.timeout:.0f} s with {len(stored):,} of "
                                                f"{len(chunks):,} passages stored (setting file_timeout); those "
                                                f"are searchable, and the next ingest goes on from there"))
                return
            part = missing[start:start + self._part]
            vectors = np.asarray(self.embedder.embed([texts[c.id] for c in part]), dtype=np.float32)
            report.chunks_embedded += len(part)
            self.store.append_chunks(r.source, part, vectors, [tokenize(texts[c.id]) for c in part])
            stored += part
        if missing:
            self.store.finish_document(r.source, sha256)
        (report.updated if existed else report.added).append(r.source)

    def carry_over(self, old_store, documents: list[Document], report: IngestReport) -> None:
        """Into a rebuilt KB, the stored passages of documents whose file is gone, embedded again: a rebuild
        must not lose what only the KB still holds."""
        for doc in documents:
            chunks = old_store.document_chunks(doc.source)
            texts = {c.id: embed_text(c, doc.title) for c in chunks}
            self._put(doc, chunks, self._vectors(texts, report), texts)
            report.warnings.append((doc.source, f"the file is gone; its {len(chunks)} stored passages were "
                                                f"kept as they were"))

    def _sync(self, dirs: list[Path], seen: set[str], report: IngestReport) -> None:
        if not dirs:
            return
        for doc in self.store.documents():
            path = Path(doc.source)
            if doc.source not in seen and any(path.is_relative_to(d) for d in dirs) and not path.exists():
                self.store.remove_document(doc.source)
                report.removed.append(doc.source)
