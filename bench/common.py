"""What every benchmark shares: the machine description, memory measurement, tables, and BENCHMARKS.md updates.

Trade-offs:
- Peak RSS is sampled from /proc (every 0.1 s) over a whole process tree, because ingest parses in worker
  processes: `ru_maxrss` sees one process only. Sampling can miss a spike shorter than the interval, so the
  figure is a lower bound, and the same sampler is used for a project run and its baseline.
- The machine is often shared (CI, other engineers), so each section records the load average before and
  after its run next to the numbers. Absolute times are noisy; ratios measured side by side in one run count.
- BENCHMARKS.md is edited one `<!-- bench:NAME -->` block at a time, under a file lock and with an atomic
  rename, so two benchmarks finishing together cannot lose each other's section.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import os
import platform
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
DEFAULT_WORK = Path(os.environ.get("TMPDIR", "/tmp")) / "rag-bench"

_HEADER = """# Benchmarks

Produced by the scripts in `bench/`: `make bench` runs them all (about an hour on an idle 2-core machine;
`make bench BENCH_ARGS=--quick` is a smoke run), and each also runs alone as `python -m bench.NAME`. Each
section below is rewritten by its own script, with the machine, the date, the commit, the versions and the
exact command that produced it. The machine these ran on is shared with other developers' jobs, so absolute
times are noisy; the ratios are measured side by side in one run (the ingest contenders take turns part by
part, the answer runs alternate), and those are what count.
"""

PACKAGES = ("torch", "sentence-transformers", "transformers", "faiss-cpu", "llama_cpp_python", "numpy", "jieba",
            "pypdf", "langchain-core", "langchain-community", "langchain-text-splitters", "langchain-huggingface")


# -- the machine --------------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def load_average() -> str:
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def versions(names: Iterable[str] = PACKAGES) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10, check=False).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10, check=False).stdout.strip()
        return head + (" (with uncommitted changes)" if dirty else "") if head else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def code_origin() -> str:
    """Empty when `rag` is imported from this checkout; else where from (an editable install elsewhere)."""
    import rag

    path = Path(rag.__file__).resolve()
    return "" if path.is_relative_to(ROOT) else f" (but `rag` was imported from {path.parent})"


def command_line() -> str:
    module = Path(sys.argv[0]).stem if sys.argv and sys.argv[0].endswith(".py") else "?"
    return shlex.join(["python", "-m", f"bench.{module}", *sys.argv[1:]])


class RunInfo:
    """Captured at the start of a benchmark; `markdown()` at the end adds the load average then."""

    def __init__(self) -> None:
        self.started = datetime.now(timezone.utc)
        self.load_before = load_average()
        self.command = command_line()
        self.t0 = time.perf_counter()

    def markdown(self, extra_packages: Sequence[str] = ()) -> str:
        v = versions((*PACKAGES, *extra_packages))
        minutes = (time.perf_counter() - self.t0) / 60
        return "\n".join([
            f"- Command: `{self.command}` ({minutes:.1f} min)",
            f"- Date: {self.started:%Y-%m-%d %H:%M} UTC, commit {git_commit()}{code_origin()}",
            (f"- Machine: {cpu_model()}, {os.cpu_count()} cores, {memory_gb():.0f} GB RAM, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}; run at niceness "
            f"{os.nice(0)}, sharing the machine with other work"),
            f"- Load average (1/5/15 min) before: {self.load_before}; after: {load_average()}",
            "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        ])


# -- time and memory -------------------------------------------------------------------------------------------
class Clock:
    """Wraps functions so the time spent inside them adds up per name."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}

    def _add(self, name: str, seconds: float) -> None:
        self.totals[name] = self.totals.get(name, 0.0) + seconds

    def wrap(self, name: str, fn):
        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self._add(name, time.perf_counter() - t)
        return timed

    def wrap_iter(self, name: str, fn):
        """For a generator: only the time spent waiting for its next item counts."""
        def timed(*args, **kwargs):
            it = iter(fn(*args, **kwargs))
            while True:
                t = time.perf_counter()
                try:
                    item = next(it)
                except StopIteration:
                    return
                finally:
                    self._add(name, time.perf_counter() - t)
                yield item
        return timed


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(pid: int) -> int:
    """RSS of a process and all its descendants, in bytes (shared pages are counted once per process)."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += rss_bytes(p)
        stack.extend(_children(p))
    return total


class PeakRSS:
    """`with PeakRSS(pid) as peak: ...` then `peak.mb`: the highest tree RSS seen while the block ran."""

    def __init__(self, pid: int | None = None, interval: float = 0.1) -> None:
        self.pid, self.interval = pid or os.getpid(), interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss(self.pid))

    @property
    def mb(self) -> float:
        return self.peak / 2**20


def rss_mb() -> float:
    return rss_bytes(os.getpid()) / 2**20


def dir_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 2**20


# -- output -------------------------------------------------------------------------------------------
def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table; it also reads well printed to a terminal."""
    rows = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def ratio(a: float | None, b: float | None, digits: int = 2) -> str:
    if not a or not b:
        return "–"
    return f"{a / b:.{digits}f}×"


def write_section(name: str, markdown: str, path: Path = BENCHMARKS_MD) -> None:
    """Replace the `<!-- bench:NAME -->…<!-- /bench:NAME -->` block of BENCHMARKS.md, or append it.

    Atomic: the new file is written next to the old one, fsynced and renamed over it, under an flock so two
    benchmarks that finish together both keep their sections.
    """
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    # The lock file lives outside the work tree and is never removed: unlinking it would let two writers
    # hold locks on different inodes.
    lock_path = Path(os.environ.get("TMPDIR", "/tmp")) / "rag-bench-benchmarks-md.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = path.read_text(encoding="utf-8") if path.exists() else _HEADER
        start, stop = old.find(begin), old.find(end)
        if start != -1 and stop > start:
            new = old[:start] + block + old[stop + len(end):]
        else:
            new = old.rstrip("\n") + "\n\n" + block + "\n"
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(new)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


def publish(name: str, markdown: str, write: bool) -> None:
    """Print a benchmark's section and, unless told not to, put it into BENCHMARKS.md."""
    print("\n" + markdown)
    if write:
        write_section(name, markdown)


def require_offline_env() -> None:
    """The benchmarks load the bundled models only; make sure nothing tries to reach a model hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
