"""What the crash and concurrency tests share: run the real `rag` command with the crash kit, and read a KB's
state from outside (documents and chunk ids from SQLite, the ids FAISS holds, SQLite's integrity check).

The crash kit (`tests/crashkit/sitecustomize.py`) gives the command a deterministic fake embedder and kills
it at a chosen durability step. `bench/reliability.py` runs the same scenarios with more kill points.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CRASHKIT = ROOT / "tests" / "crashkit"
RAG = [sys.executable, "-c", "from rag.cli import main; main()"]

State = dict[str, frozenset[int]]  # source -> chunk ids


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    out.update(PYTHONPATH=os.pathsep.join([str(CRASHKIT), str(ROOT)]), RAG_TEST_FAKE_EMBEDDER="1",
               RAG_WORKERS="1", HF_HUB_OFFLINE="1", RAG_CACHE_DIR=str(Path(tempfile.gettempdir()) / "rag-crash"))
    out.update(extra)
    return out


def rag(*args: str, check: bool = True, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess:
    done = subprocess.run([*RAG, *args], env=env(**extra), capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"rag {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def start(*args: str, **extra: str) -> subprocess.Popen:
    return subprocess.Popen([*RAG, *args], env=env(**extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def steps(*args: str, **extra: str) -> int:
    """How many durability steps a clean run of the command takes."""
    with tempfile.NamedTemporaryFile(suffix=".steps") as f:
        rag(*args, RAG_TEST_STEPS=f.name, **extra)
        return int(Path(f.name).read_text() or 0)


def kill_points(total: int, n: int = 20) -> list[int]:
    """`n` steps spread evenly over a run of `total`, first and last included; every step if fewer."""
    if total <= n:
        return list(range(1, total + 1))
    return sorted({round(1 + i * (total - 1) / (n - 1)) for i in range(n)})


def make_texts(folder: Path, prefix: str, count: int, words: tuple[str, ...], paragraphs: int = 6) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        body = "\n\n".join(" ".join(f"{words[(i + j + k) % len(words)]}{(i * 7 + j * 3 + k) % 11}"
                                    for k in range(60)) for j in range(paragraphs))
        path = folder / f"{prefix}{i}.txt"
        path.write_text(f"{prefix} {i}\n\n{body}\n", encoding="utf-8")
        out.append(path)
    return out


@dataclass
class Check:
    state: State
    integrity: str
    faiss_matches: bool


def inspect(kb: Path) -> Check:
    """The KB as a new reader finds it: opened by the store (which repairs index.faiss from SQLite)."""
    from rag import kbdb
    from rag.store import Store

    with Store.open(kb) as store:
        db_path = store.data / kbdb.DB_FILE
        ids = set(int(i) for i in _faiss_ids(store))
    db = sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True)
    try:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        rows = db.execute("SELECT source, id FROM chunks").fetchall()
        docs = [r[0] for r in db.execute("SELECT source FROM documents")]
    finally:
        db.close()
    state: dict[str, set[int]] = {d: set() for d in docs}
    for source, cid in rows:
        state.setdefault(source, set()).add(cid)
    return Check({k: frozenset(v) for k, v in state.items()}, integrity, ids == {cid for _, cid in rows})


def _faiss_ids(store) -> list[int]:
    import faiss

    store.chunk_count()  # syncs
    index = store._index
    return list(faiss.vector_to_array(index.id_map)) if hasattr(index, "id_map") else []


def fresh_copy(template: Path, target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(template, target)
    return target


def wait_for_lock(kb: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Until `proc` holds the KB's write lock (its pid is in write.lock); fail at once if it dies."""
    deadline = time.monotonic() + timeout
    lock = kb / "write.lock"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the first writer exited {proc.returncode} before taking the lock:\n{out}\n{err}")
        if lock.exists() and lock.read_text().startswith(f"{proc.pid}\t"):
            return
        time.sleep(0.02)
    raise AssertionError("the first writer never took the lock")
