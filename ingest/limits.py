"""Bounds on what one file may cost a parse worker, each from a named setting.

A file over a bound either fails by name (`FileTooLarge`, whose message names the bound and the setting that
raises it) or, where the format allows, is cut with a `LoaderWarning` that says so: the rows of a table and
the characters of a text can be cut; a zip bomb cannot be read at all.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_chars: int = 5_000_000  # characters kept from one file (setting max_file_chars)
    max_rows: int = 100_000  # rows kept from one sheet or CSV file
    max_cells: int = 2_000_000  # cells kept from one sheet or CSV file
    max_unzipped_mb: int = 256  # largest decompressed member of a .docx/.xlsx
    max_zip_ratio: int = 100  # largest decompressed/compressed ratio of such a member
    memory_mb: int = 4096  # address space of a parse worker (setting worker_memory_mb); 0: unlimited

    @classmethod
    def from_settings(cls, settings) -> "Limits":
        s = settings
        return cls(max_chars=s.max_file_chars, max_rows=s.max_rows, max_cells=s.max_cells,
                   max_unzipped_mb=s.max_unzipped_mb, max_zip_ratio=s.max_zip_ratio, memory_mb=s.worker_memory_mb)


DEFAULT_LIMITS = Limits()
