import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.types import LoadResult
from ingest.workers import ChunkSpec, FileFailure, parse_file, parse_files

SPEC = ChunkSpec(size=64, overlap=8)


def test_parse_file_collects_loader_warnings_and_counts(tmp_path):
    (tmp_path / "t.csv").write_text("名称,数值\n温度,0.7\n\n\ntop_p,0.9\n", encoding="gb18030")
    result = parse_file(str(tmp_path / "t.csv"), SPEC)
    assert result.kind == "csv" and result.rows == 2
    assert "温度 | 0.7" in result.chunks[0].text


def test_empty_file_is_a_warning_not_a_failure(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    result = parse_file(str(tmp_path / "empty.txt"), SPEC)
    assert result.chunks == [] and result.warnings


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a FIFO")
def test_a_hanging_file_is_reported_by_name_and_the_rest_still_parse(tmp_path):
    # Reading a FIFO with no writer blocks forever: a real hang inside the real loader.
    hang = tmp_path / "hang.pdf"
    os.mkfifo(hang)
    good = tmp_path / "good.md"
    good.write_text("# 标题\n正文内容。\n", encoding="utf-8")
    started = time.perf_counter()
    results = {r.source: r for r in parse_files([str(hang), str(good)], SPEC, workers=2, timeout=3)}
    assert time.perf_counter() - started < 30
    assert isinstance(results[str(hang)], FileFailure) and "gave up" in results[str(hang)].message
    assert isinstance(results[str(good)], LoadResult) and results[str(good)].chunks


def test_a_loader_error_is_a_failure_with_its_message(tmp_path):
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"PK\x03\x04 not a workbook")
    [result] = list(parse_files([str(bad)], SPEC, workers=1, timeout=30))
    assert isinstance(result, FileFailure) and result.message


def test_a_script_without_a_main_guard_is_told_how_to_fix_it(tmp_path):
    # Spawned workers import the script again; without `if __name__ == "__main__":` each one starts an
    # ingest of its own and dies. The failure must say so, not just "All workers expired".
    (tmp_path / "a.md").write_text("# 标题\n正文内容。\n", encoding="utf-8")
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from ingest.workers import ChunkSpec, parse_files\n"
        f"for r in parse_files([{str(tmp_path / 'a.md')!r}], ChunkSpec(size=64, overlap=8), workers=1, timeout=60):\n"
        "    print(getattr(r, 'message', 'parsed'))\n", encoding="utf-8")
    repo = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, str(script)], check=False, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(repo)}, cwd=tmp_path)
    assert 'if __name__ == "__main__":' in run.stdout, run.stdout + run.stderr
