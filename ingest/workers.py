"""Parse and chunk files in worker processes, handing results back as each file finishes.

Workers are `pebble` processes (spawned, not forked, because the parent may already hold torch's thread pool).
A file that runs past the timeout has its worker killed and replaced; a file that crashes its worker (a
segfault in a C extension, the OOM killer) comes back as a failure naming the file. Neither stops the run.
Each worker's address space is capped (`Limits.memory_mb`, `resource.setrlimit`), so a file that inflates
beyond every loader bound fails with MemoryError in its own worker instead of taking the machine's memory.

The worker count is bounded by cores and by memory: a worker holding a large PDF or workbook can take a few
hundred MB, so we allow one worker per GB of available memory at most.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ingest.chunking import TokenCounter, chunk_sections, estimate_tokens
from ingest.errors import LoaderError, LoaderWarning
from ingest.limits import DEFAULT_LIMITS, Limits
from ingest.loaders import kind_of, load
from ingest.titles import document_title
from ingest.types import LoadResult

# The usual reason every worker dies at once: spawned workers re-import the caller's script, and a script
# without a main guard then starts an ingest inside each worker, which multiprocessing forbids.
SCRIPT_HINT = ("If this ran from a Python script, call KnowledgeBase.add() under `if __name__ == \"__main__\":` "
               "(workers are spawned processes that import the script again)")


@dataclass(frozen=True)
class ChunkSpec:
    """What a worker needs to chunk like the embedder counts: sizes and the tokenizer file, if any."""

    size: int
    overlap: int
    tokenizer_file: str | None = None


@dataclass
class FileFailure:
    source: str
    message: str


@lru_cache(maxsize=4)
def _counter(tokenizer_file: str | None) -> TokenCounter:
    if not tokenizer_file:
        return estimate_tokens
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(tokenizer_file)
    # Some tokenizer.json files (MiniLM's) pad and truncate to 128, which would make every count 128.
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


def parse_file(source: str, spec: ChunkSpec, limits: Limits = DEFAULT_LIMITS) -> LoadResult:
    """Load and chunk one file. Runs inside a worker; loader warnings are collected, not printed."""
    started = time.monotonic()
    path = Path(source)
    result = LoadResult(source=source, kind=kind_of(path), title=document_title(path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pages, rows, chars = set(), 0, 0
        sections = load(path, limits)

        def tracked():
            nonlocal rows, chars
            for section in sections:
                chars += len(section.text)
                if chars > limits.max_chars:
                    warnings.warn(f"cut after {limits.max_chars:,} characters (max_file_chars = "
                                  f"{limits.max_chars:,}): the rest of the file is not indexed; raise "
                                  f"max_file_chars to read it", LoaderWarning)
                    break
                if section.page is not None:
                    pages.add(section.page)
                if section.rows is not None:
                    rows += 1
                yield section

        try:
            result.chunks = list(chunk_sections(source, tracked(), size=spec.size, overlap=spec.overlap,
                                                count=_counter(spec.tokenizer_file)))
        except MemoryError:
            raise LoaderError(_out_of_memory(limits)) from None
        finally:
            close = getattr(sections, "close", None)
            if close:
                close()  # let the loader close its file now, not when the generator is collected
    result.pages = max(pages) if pages else None
    result.rows = rows or None
    result.warnings = [str(w.message) for w in caught if issubclass(w.category, LoaderWarning)]
    if not result.chunks and not result.warnings:
        result.warnings.append("no text found")
    result.seconds = time.monotonic() - started
    return result


def _out_of_memory(limits: Limits) -> str:
    return f"ran out of memory: the parse worker may use {limits.memory_mb} MB (setting worker_memory_mb)"


def _limit_memory(megabytes: int) -> None:
    """Pool initializer: cap this worker's address space. Python then raises MemoryError, which names the
    file, where the kernel's OOM killer would pick a process on its own."""
    if megabytes <= 0:
        return
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = megabytes * 2**20
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def default_workers() -> int:
    cores = os.cpu_count() or 1
    try:
        available_gb = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    except (ValueError, OSError):
        available_gb = cores
    return max(1, min(cores, int(available_gb)))


def parse_files(sources: Iterable[str], spec: ChunkSpec, *, workers: int = 0, timeout: float = 300.0,
                limits: Limits = DEFAULT_LIMITS) -> Iterator[LoadResult | FileFailure]:
    """Results in completion order, so the caller can embed one file while others are still parsing."""
    from pebble import ProcessExpired, ProcessPool

    sources = list(sources)
    if not sources:
        return
    n = min(workers or default_workers(), len(sources))
    context = multiprocessing.get_context("spawn")
    with ProcessPool(max_workers=n, context=context, initializer=_limit_memory,
                     initargs=(limits.memory_mb,)) as pool:
        futures = {pool.schedule(parse_file, args=(s, spec, limits), timeout=timeout): s for s in sources}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                source = futures[future]
                try:
                    yield future.result()
                except FutureTimeout:
                    yield FileFailure(source, f"gave up reading it after {timeout:.0f} s (setting file_timeout)")
                except ProcessExpired as exc:
                    cap = f", perhaps out of its {limits.memory_mb} MB (setting worker_memory_mb)" if limits.memory_mb else ""
                    yield FileFailure(source, f"the parser crashed (exit code {exc.exitcode}{cap})")
                except MemoryError:  # outside the chunking: reading the title or opening the file
                    yield FileFailure(source, _out_of_memory(limits))
                except LoaderError as exc:
                    yield FileFailure(source, str(exc))
                except BrokenProcessPool as exc:
                    yield FileFailure(source, f"the worker processes died ({exc}). {SCRIPT_HINT}")
                except Exception as exc:  # a loader bug or a library error on one file must not stop the run
                    yield FileFailure(source, f"{type(exc).__name__}: {exc}")
