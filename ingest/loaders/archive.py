"""The zip packages behind .docx and .xlsx/.xlsm, opened only after every part passes the zip bounds.

Two checks, before any reader (ours or openpyxl) sees the package:
1. Declared sizes: a part that inflates past `max_unzipped_mb`, or more than `max_zip_ratio` times its compressed
   size, fails the file with `FileTooLarge`. This needs no inflating.
2. Honest sizes: each deflated part is inflated in 1 MiB steps, and must end where its declared size says. The
   declared size alone does not bound memory: zipfile truncates a part's output at that size, but its `read()`
   of a whole part first inflates the entire compressed stream in one call (`ZipExtFile.read` passes
   `MAX_N` = 2 GiB to zlib), and openpyxl reads most parts that way. A part declared at 1 kB that inflates to
   1 GB would take 1 GB there (tests/ingest/test_limits.py shows it). After this check, every read of the
   package is bounded by the declared sizes of check 1.
Only stored and deflated parts are accepted: Office writes nothing else, and zipfile's bzip2 and LZMA readers
inflate without any bound per step.

Trade-offs:
- Every part is checked, not just the ones a loader reads: openpyxl finds worksheets through relationships, and a
  worksheet may be stored under any name (even "media/image1.png"), so a list of "parts that matter" would have
  holes. The price: a package holding a part over the bound that nobody reads (a huge embedded video) is refused
  too, with a message that names the part and the setting to raise.
- Check 2 inflates the whole package once more; next to parsing its XML that costs a few per cent.
- The ratio is checked only for parts over 1 MiB inflated: small XML parts of ordinary files reach 100x, and
  inflating them costs nothing.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ingest.errors import FileTooLarge, LoaderError
from ingest.limits import Limits

RATIO_FLOOR = 1 << 20  # parts smaller than this inflated are not ratio-checked
MB = 1 << 20
_STEP = 1 << 20  # bytes inflated at a time while checking a part
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, then the name and extra-field lengths at offset 26

# What zipfile raises while inflating a damaged part: BadZipFile (CRC, truncated), zlib.error, EOFError (stream ends
# early), NotImplementedError (unknown method), RuntimeError (encrypted part), and OSError/ValueError from the file.
READ_ERRORS: tuple[type[BaseException], ...] = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError,
                                                RuntimeError, OSError, ValueError)


@contextmanager
def open_package(path: Path, limits: Limits, not_a_zip: str) -> Iterator[zipfile.ZipFile]:
    """The open archive at `path`, after both checks. `not_a_zip` is the message when it is no zip at all;
    "{error}" in it becomes zipfile's reason."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        # ValueError, EOFError: a central directory whose counts or offsets point outside the file.
        raise LoaderError(not_a_zip.replace("{error}", str(exc))) from exc
    with archive, path.open("rb") as raw:
        check_parts(archive, limits)
        for info in archive.infolist():
            _check_stream(raw, info)
        yield archive


def check_parts(archive: zipfile.ZipFile, limits: Limits) -> None:
    """`FileTooLarge` naming the first part that inflates past `max_unzipped_mb` or `max_zip_ratio`."""
    for info in archive.infolist():
        size, packed = info.file_size, max(info.compress_size, 1)
        if size > limits.max_unzipped_mb * MB:
            raise FileTooLarge(
                f"zip part {info.filename} inflates to {size / MB:,.0f} MB, over max_unzipped_mb = "
                f"{limits.max_unzipped_mb}; raise that setting to read this file")
        if size > RATIO_FLOOR and size > limits.max_zip_ratio * packed:
            raise FileTooLarge(
                f"zip part {info.filename} inflates {size / packed:,.0f} times (from {packed / MB:,.2f} MB to "
                f"{size / MB:,.0f} MB), over max_zip_ratio = {limits.max_zip_ratio}: a zip bomb, or an unusual "
                "file; raise that setting only for a file you trust")


def _check_stream(raw: BinaryIO, info: zipfile.ZipInfo) -> None:
    """Inflate one part in bounded steps: it must end at its declared size."""
    if info.flag_bits & 0x1:
        raise LoaderError(f"zip part {info.filename} is encrypted; remove the file's password and add it again")
    if info.compress_type == zipfile.ZIP_STORED:
        return  # read as it is stored: zipfile never reads more than its declared compressed size
    if info.compress_type != zipfile.ZIP_DEFLATED:
        raise LoaderError(f"zip part {info.filename} uses compression method {info.compress_type}, which Office "
                          "never writes; open the file in the application that made it and save it again")
    try:
        raw.seek(info.header_offset)
        signature, name_length, extra_length = _LOCAL_HEADER.unpack(raw.read(_LOCAL_HEADER.size))
        if signature != b"PK\x03\x04":
            raise zipfile.BadZipFile("bad local header")
        raw.seek(info.header_offset + _LOCAL_HEADER.size + name_length + extra_length)
        inflater, inflated, left = zlib.decompressobj(-zlib.MAX_WBITS), 0, info.compress_size
        while left > 0 and not inflater.eof:
            data = raw.read(min(left, _STEP))
            if not data:
                raise EOFError("the archive ends inside this part")
            left -= len(data)
            while data and not inflater.eof:
                inflated += len(inflater.decompress(data, _STEP))
                data = inflater.unconsumed_tail
                if inflated > info.file_size:
                    raise FileTooLarge(
                        f"zip part {info.filename} declares {info.file_size:,} bytes inflated but holds more: the "
                        "archive is damaged or built to exhaust memory; save the file again from its application")
    except (struct.error, zlib.error, EOFError, OSError, zipfile.BadZipFile) as exc:
        raise damaged(info.filename, exc) from exc


def read_part(archive: zipfile.ZipFile, name: str) -> bytes:
    """The inflated bytes of part `name` (bounded by `open_package`), or a `LoaderError` naming it."""
    try:
        return archive.read(name)
    except READ_ERRORS as exc:
        raise damaged(name, exc) from exc


def damaged(name: str | None, exc: BaseException) -> LoaderError:
    part = f"zip part {name}" if name else "a zip part"
    return LoaderError(f"{part} is damaged ({exc}); the file may be truncated: copy it again, or save it again "
                       "from the application that made it")
