"""PDF loader: pypdf reads the text layer, pdfminer.six is the second opinion for pages pypdf garbles.

Trade-offs:
- pypdf is fast and keeps a table row on one line, so it reads every page first. Its text gets a cheap garble
  score (U+FFFD, private-use/unassigned/control code points, stray combining marks, "(cid:NN)", letters from
  scripts foreign to the page). Only a page that scores badly or comes back empty is read again with pdfminer,
  whose layout analysis also handles vertical CJK; pdfminer is several times slower, so it does not run on every
  page. Its text replaces pypdf's only when it scores clearly better.
- If pypdf cannot parse the file structure at all (e.g. no startxref), pdfminer reads the whole file.
- One section per page: the page is what a citation names, and the chunker splits further.
- No OCR: a page without a text layer is reported and skipped.
- Pages stream one at a time from open file handles; a 600-page file is never held as one string.
- Whitespace is normalised lightly (`ingest.loaders.pdftext`).
- A page with a stream that inflates past pypdf's limit (75 MB) is skipped with a warning, not handed to
  pdfminer, which has no limit.
- pypdf and pdfminer log what they repair ("Ignoring wrong pointing object 7 0"), which would reach the worker's
  stderr. While a file is read, their loggers stop propagating: repair notes are dropped (the page checks below
  say what the reader needs to know), and errors become one `LoaderWarning` per file.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ingest.errors import LoaderError, LoaderWarning, PasswordRequired
from ingest.limits import DEFAULT_LIMITS, Limits
from ingest.loaders.pdftext import garble_score, normalise
from ingest.types import Section

GARBLED = 0.05  # share of suspicious characters above which pypdf's page text is re-read with pdfminer
UNREADABLE = 0.3  # above this the kept text is probably useless, and the user should know
_INFLATE_CHECK = 75_000_000  # bytes of a content stream checked for damage: pypdf's own decompression limit

_PASSWORD_HELP = (
    "is password-protected; decrypt it first (e.g. `qpdf --decrypt --password=PASSWORD in.pdf out.pdf`) "
    "and ingest the decrypted copy"
)


def load_pdf(path: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[Section]:
    """One section per page with text, `page` 1-based; warns about pages without a text layer."""
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise LoaderError(f"cannot read PDF: {exc}") from exc
    miner = _Miner(path)
    try:
        with pdf_library_logs() as errors:
            yield from _sections(fh, path, miner)
        if errors:
            more = f" and {len(errors) - 1} more" if len(errors) > 1 else ""
            warnings.warn(LoaderWarning(f"the PDF reader reported: {errors[0]}{more}; some text may be missing or "
                                        "wrong, re-saving the file (print to PDF) may help"), stacklevel=2)
    finally:
        fh.close()
        miner.close()


def _sections(fh: Any, path: Path, miner: _Miner) -> Iterator[Section]:
    """Sections of the pages, read with pypdf, or pdfminer where pypdf cannot parse the file."""
    reader, failure = _open_pypdf(fh, path)
    if reader is None:
        pages = _pdfminer_pages(miner, path, failure)
    else:
        pages = ((n, _page_text(page, n, miner)) for n, page in enumerate(reader.pages, 1))
    empty: list[int] | None = []  # pages without text, held back until some page has text; then None
    for n, text in pages:
        if text is None:  # the page failed and was reported already
            continue
        if text and empty is not None:
            for m in empty:
                _warn_no_text(m)
            empty = None
        if text:
            yield Section(text=text, page=n)
        elif empty is None:
            _warn_no_text(n)
        else:
            empty.append(n)
    if empty:  # one summary instead of a warning per page of a scan
        warnings.warn(LoaderWarning(
            f"no text layer on any of the {len(empty)} pages (scanned?); OCR is not supported yet, "
            "so this file adds nothing to the knowledge base"
        ), stacklevel=2)


@contextmanager
def pdf_library_logs() -> Iterator[list[str]]:
    """While the block runs, pypdf's and pdfminer's log records go to a list (errors) or nowhere (the rest).
    Also used by `ingest.titles`, which reads a PDF's title with pypdf."""
    errors: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno < logging.ERROR or len(errors) >= 100:
                return
            try:
                message = record.getMessage()
            except (TypeError, ValueError):  # a library's format string that does not match its arguments
                message = str(record.msg)
            if message not in errors:
                errors.append(message)

    handler, loggers = Collect(), [logging.getLogger(name) for name in ("pypdf", "pdfminer")]
    saved = [logger.propagate for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)  # with a handler of its own, the logger no longer falls back to stderr
        logger.propagate = False  # nor reaches an application's root handler
    try:
        yield errors
    finally:
        for logger, propagate in zip(loggers, saved):
            logger.removeHandler(handler)
            logger.propagate = propagate


def _warn_no_text(n: int) -> None:
    warnings.warn(LoaderWarning(f"page {n}: no text layer (scanned?); OCR is not supported yet"), stacklevel=3)


def _open_pypdf(fh: Any, path: Path) -> tuple[Any, Exception | None]:
    """A decrypted `PdfReader`, or None and the reason when pypdf cannot parse the structure."""
    from pypdf import PdfReader
    from pypdf.errors import EmptyFileError

    try:
        reader = PdfReader(fh)
    except EmptyFileError as exc:
        raise LoaderError("cannot read PDF: the file is empty (0 bytes); replace it with a complete copy") from exc
    except Exception as exc:  # noqa: BLE001 - any parse failure gets a second chance with pdfminer
        return None, exc
    if reader.is_encrypted:
        try:
            decrypted = reader.decrypt("")  # an empty user password is common: "protected" against editing only
        except Exception as exc:  # noqa: BLE001 - e.g. AES without the 'cryptography' package; pypdf says so
            raise LoaderError(f"cannot read PDF: decryption failed: {exc}") from exc
        if not decrypted:
            raise PasswordRequired(f"{path.name} {_PASSWORD_HELP}")
    try:
        len(reader.pages)  # a broken page tree shows up here, not in the constructor
    except Exception as exc:  # noqa: BLE001
        return None, exc
    return reader, None


def _page_text(page: Any, n: int, miner: _Miner) -> str | None:
    """Best normalised text of a page: pypdf's, or pdfminer's when pypdf's is empty or garbled; None if both fail."""
    if _damaged_stream(page):
        warnings.warn(LoaderWarning(f"page {n}: a compressed content stream is damaged; "
                                    "the page's text may be incomplete"), stacklevel=2)
    from pypdf.errors import LimitReachedError

    try:
        text = normalise(page.extract_text())
    except LimitReachedError as exc:
        # A stream past pypdf's decompression limit (75 MB) is a bomb; pdfminer has no limit, so it is not asked.
        warnings.warn(LoaderWarning(f"page {n}: skipped, a stream on it inflates past pypdf's limit ({exc})"),
                      stacklevel=2)
        return None
    except Exception as exc:  # noqa: BLE001 - includes RecursionError from circular form XObjects
        warnings.warn(LoaderWarning(f"page {n}: pypdf failed ({exc}); trying pdfminer"), stacklevel=2)
        text = None
    score = garble_score(text or "")
    if text and score <= GARBLED:
        return text
    try:
        alt = normalise(miner.page_text(n) or "")
    except Exception as exc:  # noqa: BLE001 - one bad page must not stop the file
        if text is None:
            warnings.warn(LoaderWarning(f"page {n}: cannot extract text ({exc}); page skipped"), stacklevel=2)
            return None
        alt = ""
    if alt and (not text or garble_score(alt) < score / 2):
        text, score = alt, garble_score(alt)
    if text and score > UNREADABLE:
        warnings.warn(
            LoaderWarning(f"page {n}: extracted text looks garbled (font without a Unicode map?); kept as is"),
            stacklevel=2,
        )
    return text or ""


def _damaged_stream(page: Any) -> bool:
    """pypdf repairs a corrupt Flate stream silently by cutting bytes off; check strictly so we can say so."""
    import zlib

    try:
        contents = page.get("/Contents")
        streams = contents.get_object() if contents is not None else None
        streams = list(streams) if isinstance(streams, list) else [streams] if streams is not None else []
        for ref in streams:
            stream = ref.get_object()
            filters = stream.get("/Filter")
            names = [str(f) for f in filters] if isinstance(filters, list) else [str(filters)]
            if names == ["/FlateDecode"]:
                # The raw bytes, before pypdf's repairs, inflated 1 MiB at a time and only as far as pypdf goes.
                inflater, data, total = zlib.decompressobj(), stream._data, 0  # noqa: SLF001
                while data and not inflater.eof and total < _INFLATE_CHECK:
                    total += len(inflater.decompress(data, 1 << 20))
                    data = inflater.unconsumed_tail
    except zlib.error:
        return True
    except Exception:  # noqa: BLE001 - anything else is extract_text's business
        return False
    return False


def _pdfminer_pages(miner: _Miner, path: Path, failure: Exception | None) -> Iterator[tuple[int, str | None]]:
    from pdfminer.pdfdocument import PDFPasswordIncorrect

    try:
        miner.open()
    except PDFPasswordIncorrect as exc:
        raise PasswordRequired(f"{path.name} {_PASSWORD_HELP}") from exc
    except Exception as exc:  # noqa: BLE001 - both libraries gave up: pypdf's reason is usually the clearer one
        raise LoaderError(f"cannot read PDF: {failure}; the file may be damaged") from exc
    warnings.warn(LoaderWarning(f"pypdf cannot parse the file ({failure}); read with pdfminer instead"), stacklevel=3)
    n = 0
    while True:
        n += 1
        try:
            raw = miner.page_text(n)
        except Exception as exc:  # noqa: BLE001 - one bad page must not stop the file
            warnings.warn(LoaderWarning(f"page {n}: cannot extract text ({exc}); page skipped"), stacklevel=3)
            continue
        if raw is None:
            break
        yield n, normalise(raw)
    if n == 1:
        raise LoaderError(f"cannot read PDF: {failure}; no pages found, the file may be damaged")


class _Miner:
    """pdfminer.six pages in document order, opened on first use; pages are asked for in order, so it streams."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fh: Any = None
        self._pages: Iterator[Any] | None = None
        self._next = 1  # number of the page the iterator yields next
        self._broken = False  # pdfminer cannot open the file: do not retry for every page

    def open(self) -> None:
        from pdfminer.converter import PDFPageAggregator
        from pdfminer.layout import LAParams
        from pdfminer.pdfdocument import PDFDocument
        from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
        from pdfminer.pdfpage import PDFPage
        from pdfminer.pdfparser import PDFParser

        self.close()
        self._broken = True
        self._fh = open(self._path, "rb")  # its own handle: pdfminer's parser assumes nobody else moves it
        doc = PDFDocument(PDFParser(self._fh), password="")
        resources = PDFResourceManager(caching=True)
        # detect_vertical: vertical Japanese/Chinese comes out one character per line without it.
        # all_texts: text inside form XObjects (figures) gets layout analysis too instead of raw characters.
        self._device = PDFPageAggregator(resources, laparams=LAParams(detect_vertical=True, all_texts=True))
        self._interpreter = PDFPageInterpreter(resources, self._device)
        self._pages, self._next, self._broken = PDFPage.create_pages(doc), 1, False

    def page_text(self, n: int) -> str | None:
        """Text of page `n` (1-based); None past the last page or when pdfminer cannot open the file."""
        if self._pages is None or n < self._next:
            if self._broken:
                return None
            self.open()
        assert self._pages is not None
        for page in self._pages:
            current, self._next = self._next, self._next + 1
            if current == n:
                return self._render(page)
        return None

    def _render(self, page: Any) -> str:
        from pdfminer.layout import LTContainer, LTTextContainer

        self._interpreter.process_page(page)
        boxes: list[str] = []

        def walk(node: Any) -> None:
            for child in node:
                if isinstance(child, LTTextContainer):
                    boxes.append(child.get_text())
                elif isinstance(child, LTContainer):
                    walk(child)

        walk(self._device.get_result())
        return "\n\n".join(boxes)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


# --- text quality and normalisation -------------------------------------------------------------------------
