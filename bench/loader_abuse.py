"""Loader abuse (issue 17): the reported oversized files at full size, and a long fuzz, with the default settings.

1. Bombs (`bench.bombs`): a .docx whose document.xml inflates to ~1 GB, an .xlsx of 1,048,576 rows inflating to
   ~781 MB, the same row count in a sheet small enough to pass the zip bounds, a 63 MB CSV of 600,000 rows, and
   a PDF whose page stream inflates to ~1 GB.
   Each goes through the real `parse_files` with `Limits.from_settings(Settings())` in a child process: wall time,
   the worker's exact peak RSS, the sampled peak of the whole tree, and the message it ended with.
2. Fuzz (`bench.fuzz_inputs`): N mutated inputs per format through a pool of capped workers, each with a timeout;
   counts the outcomes, escapes (an exception other than `LoaderError`), hangs and crashes.

The section goes into RELIABILITY.md (`<!-- bench:loader_abuse -->`), beside sections other scripts write.

    python -m bench.loader_abuse [--quick] [--fuzz 3000] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.bombs import csv_rows, docx_bomb, parse_isolated, pdf_bomb, xlsx_sheet
from bench.common import ROOT, RunInfo, table, write_section
from bench.fuzz_inputs import available_formats, mutate, outcome, random_mutation, seed

RELIABILITY_MD = ROOT / "RELIABILITY.md"
_HEADER = """# Reliability

What the knowledge base survives, measured by committed scripts. Each section is rewritten by its script.
"""
FUZZ_TIMEOUT = 30.0  # seconds per fuzz input; seeds parse in milliseconds


def bombs(folder: Path, scale: float) -> list[tuple[str, Path]]:
    """The report's files; `scale` < 1 shrinks them for a smoke run."""
    rows = int(1_048_576 * scale)
    return [
        ("docx, document.xml inflating to ~1 GB", docx_bomb(folder / "bomb.docx", inflated_mb=1024 * scale)),
        (f"xlsx, {rows:,} rows inflating to ~781 MB", xlsx_sheet(folder / "bomb.xlsx", rows=rows)),
        (f"xlsx, {rows:,} rows, within the zip bounds",
         xlsx_sheet(folder / "tall.xlsx", rows=rows, cells_per_row=2, text="v")),
        (f"csv, {int(600_000 * scale):,} rows (~63 MB)", csv_rows(folder / "big.csv", rows=int(600_000 * scale))),
        ("pdf, a page stream inflating to ~1 GB", pdf_bomb(folder / "bomb.pdf", inflated_mb=1024 * scale)),
    ]


def run_bombs(folder: Path, scale: float, limits) -> list[list[str]]:
    out = []
    for name, path in bombs(folder, scale):
        result = parse_isolated([path], limits, timeout=300)
        [file] = result["files"].values()
        ended = file["failure"] or "; ".join(file["warnings"]) or "read in full"
        chunks = "failed" if file["failure"] else f"{file['chunks']:,}"
        out.append([name, f"{path.stat().st_size / 2**20:,.1f}", _inflated_mb(path), chunks, f"{file['seconds']:.1f}",
                    f"{result['worker_peak_mb']:.0f}", f"{result['tree_peak_mb']:.0f}",
                    "yes" if result["stderr"].strip() else "no", ended])
        print(out[-1], flush=True)
    return out


def _inflated_mb(path: Path) -> str:
    import zipfile

    if not zipfile.is_zipfile(path):
        return "–"
    with zipfile.ZipFile(path) as archive:
        return f"{sum(i.file_size for i in archive.infolist()) / 2**20:,.0f}"


def classify(path: str, limits) -> tuple[str, str, float]:
    """Runs in a fuzz worker: the outcome of one input, and the exception when one escaped."""
    started = time.perf_counter()
    try:
        result, detail = outcome(Path(path), limits), ""
    except Exception as exc:  # noqa: BLE001 - the escape is what the fuzz counts
        result, detail = "escape", f"{type(exc).__name__}: {exc}"[:200]
    return result, detail, time.perf_counter() - started


def _cap_memory(megabytes: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (megabytes * 2**20, resource.RLIM_INFINITY))


def run_fuzz(folder: Path, per_format: int, limits, seed_value: int = 17) -> tuple[list[list[str]], list[str]]:
    import multiprocessing

    from pebble import ProcessExpired, ProcessPool

    rng = random.Random(seed_value)
    rows, escapes = [], []
    context = multiprocessing.get_context("spawn")
    with ProcessPool(max_workers=2, context=context, initializer=_cap_memory, initargs=(limits.memory_mb,)) as pool:
        for suffix in available_formats():
            paths = []
            for i in range(per_format):
                part, ops = random_mutation(rng, suffix)
                path = folder / f"fuzz-{i:05d}{suffix}"
                path.write_bytes(mutate(seed(suffix), part, ops))
                paths.append(path)
            started = time.perf_counter()
            futures = [(p, pool.schedule(classify, args=(str(p), limits), timeout=FUZZ_TIMEOUT)) for p in paths]
            counts: Counter[str] = Counter()
            slowest = 0.0
            for path, future in futures:
                try:
                    result, detail, seconds = future.result()
                    slowest = max(slowest, seconds)
                except TimeoutError:
                    result, detail = "hang", f"no result after {FUZZ_TIMEOUT:.0f} s"
                except ProcessExpired as exc:
                    result, detail = "crash", f"worker died, exit code {exc.exitcode}"
                counts[result] += 1
                if detail:
                    escapes.append(f"{suffix} {path.name}: {result}: {detail}")
            rows.append([suffix[1:], f"{per_format:,}", *(f"{counts[k]:,}" for k in
                         ("chunks", "warning", "loader_error", "escape", "hang", "crash")),
                         f"{slowest:.2f}", f"{time.perf_counter() - started:.0f}"])
            print(rows[-1], flush=True)
            for path in paths:
                path.unlink()
    return rows, escapes


def report(bomb_rows: list[list[str]], fuzz_rows: list[list[str]], escapes: list[str], limits, info: RunInfo,
           quick: bool) -> str:
    lines = ["## Loader abuse (issue 17)", ""]
    if quick:
        lines += ["*Smoke run (`--quick`): bombs at 1/16 of the reported size, a short fuzz.*", ""]
    lines += [
        f"Default settings: max_unzipped_mb = {limits.max_unzipped_mb}, max_zip_ratio = {limits.max_zip_ratio}, "
        f"max_rows = {limits.max_rows:,}, max_cells = {limits.max_cells:,}, max_file_chars = {limits.max_chars:,}, "
        f"worker_memory_mb = {limits.memory_mb:,}. Reported before the bounds: the .docx took a worker to 6.8 GB "
        "for 300 s, the .xlsx ran 300 s, the CSV became 200,464 chunks.", "",
        "**Oversized files** through `parse_files` (one worker). Worker peak: `ru_maxrss` of the parse worker, "
        "exact; tree peak: sampled every 0.1 s over the parent that calls `parse_files` and its worker.", "",
        table(["file", "on disk, MB", "inflated, MB", "chunks", "wall, s", "worker peak RSS, MB",
               "tree peak RSS, MB", "stderr output", "ended with"], bomb_rows), "",
        f"**Fuzz**: mutations of a small valid file per format (`bench.fuzz_inputs`, seed 17), each through "
        f"`parse_file` in a worker capped at worker_memory_mb, {FUZZ_TIMEOUT:.0f} s per input. Every input must end "
        "in chunks, a `LoaderWarning` or a `LoaderError`; an escape is any other exception.", "",
        table(["format", "inputs", "chunks", "warning only", "LoaderError", "escapes", "hangs", "crashes",
               "slowest input, s", "wall, s"], fuzz_rows), "",
    ]
    if escapes:
        lines += ["Escapes, hangs and crashes:", "", *(f"- {e}" for e in escapes[:30]), ""]
    lines += [info.markdown(("openpyxl", "xlrd", "python-docx", "pdfminer.six", "hypothesis"))]
    return "\n".join(lines)


def _ensure_file(path: Path) -> None:
    try:  # O_EXCL: another script creating the file at the same moment keeps its header
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(_HEADER)


def main() -> None:
    from ingest.limits import Limits
    from rag.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: bombs at 1/16 size, 30 fuzz inputs a format")
    parser.add_argument("--fuzz", type=int, default=None, help="fuzz inputs per format (default 3000; quick: 30)")
    parser.add_argument("--no-write", action="store_true", help="print the section, leave RELIABILITY.md alone")
    args = parser.parse_args()
    info = RunInfo()
    limits = Limits.from_settings(Settings())
    per_format = args.fuzz or (30 if args.quick else 3000)
    with tempfile.TemporaryDirectory(prefix="loader-abuse-") as tmp:
        bomb_rows = run_bombs(Path(tmp), 1 / 16 if args.quick else 1.0, limits)
        fuzz_rows, escapes = run_fuzz(Path(tmp), per_format, limits)
    markdown = report(bomb_rows, fuzz_rows, escapes, limits, info, args.quick)
    print("\n" + markdown)
    if not args.no_write:
        _ensure_file(RELIABILITY_MD)
        write_section("loader_abuse", markdown, path=RELIABILITY_MD)


if __name__ == "__main__":
    main()
