"""Property-based fuzz of the loaders: any bytes under any supported suffix end in chunks, a `LoaderError` (a
named failure) or a `LoaderWarning` (a named cut) from `parse_file`, never another exception and never a hang.

Inputs are random bytes and mutations of a small valid file of each format (`bench.fuzz_inputs`). The budget is
fixed and the examples derandomized, so CI runs the same inputs in about 10 s; `python -m bench.loader_abuse`
runs a longer fuzz through the real worker pool. Each example runs under a timer that keeps firing until the
loader gives up: a library that swallows the first alarm in an `except Exception` cannot hang the suite.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.fuzz_inputs import OPS, TOKENS, ZIPPED, available_formats, mutate, outcome, seed
from ingest.limits import Limits

LIMITS = Limits(max_rows=2000, max_cells=50_000, max_unzipped_mb=16)
SECONDS = 10  # per example; the seeds parse in milliseconds
MAGIC = {".docx": b"PK\x03\x04", ".xlsx": b"PK\x03\x04", ".xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
         ".pdf": b"%PDF-1.7\n"}
FUZZ = settings(max_examples=80, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

ops = st.lists(st.tuples(st.integers(0, len(OPS) - 1), st.integers(0, 1 << 20),
                         st.one_of(st.sampled_from(TOKENS), st.binary(max_size=12))), min_size=1, max_size=6)


class Hang(Exception):
    """A loader ran past its time on a tiny input."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    fired = []

    def on_alarm(signum, frame):
        fired.append(True)
        raise Hang(f"no result after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.5)  # re-fires every 0.5 s until the loader lets it through
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if fired:
        raise Hang(f"no result after {seconds} s (the alarm was swallowed)")


def check(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    with time_limit(SECONDS):
        assert outcome(path, LIMITS) in ("chunks", "warning", "loader_error")


@pytest.mark.parametrize("suffix", available_formats())
def test_seed_files_parse(suffix: str, tmp_path: Path) -> None:
    path = tmp_path / f"seed{suffix}"
    path.write_bytes(seed(suffix))
    assert outcome(path, LIMITS) == "chunks"


@pytest.mark.parametrize("suffix", available_formats())
@FUZZ
@given(part=st.one_of(st.none(), st.integers(0, 31)), ops=ops)
def test_mutated_files_end_in_chunks_or_a_named_failure(suffix: str, part: int | None, ops, tmp_path: Path) -> None:
    check(tmp_path / f"mutated{suffix}", mutate(seed(suffix), part if suffix in ZIPPED else None, ops))


@pytest.mark.parametrize("suffix", available_formats())
@settings(FUZZ, max_examples=25)
@given(data=st.binary(max_size=2048), magic=st.booleans())
def test_random_bytes_end_in_chunks_or_a_named_failure(suffix: str, data: bytes, magic: bool, tmp_path: Path) -> None:
    check(tmp_path / f"random{suffix}", MAGIC.get(suffix, b"") * magic + data)
