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

ROOT = Path(__file__).resolve().parents[3]
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
    from rag.store import kbdb
    from rag.store.store import Store

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


def make_world(base: Path, n_a: int = 4, n_b: int = 3) -> dict:
    """Two folders of text files, and the KBs and archive the scenarios start from or should end as."""
    a = make_texts(base / "A", "alpha", n_a, ("walrus", "lantern", "harbor"))
    b = make_texts(base / "B", "beta", n_b, ("quartz", "meadow", "signal"))
    for name, folders in (("old", ["A"]), ("both", ["A", "B"]), ("other", ["B"])):
        rag("ingest", *(str(base / f) for f in folders), "--kb", str(base / name))
    rag("export", str(base / "other"), str(base / "other.tar.gz"))
    return {"base": base, "A": base / "A", "B": base / "B", "a": a, "b": b, "old": base / "old",
            "both": base / "both", "other": base / "other", "archive": base / "other.tar.gz"}


def per_document(check: Check, old: State, new: State) -> bool:
    return all(check.state.get(s) in (old.get(s), new.get(s)) for s in set(old) | set(new) | set(check.state))


def whole(check: Check, old: State, new: State) -> bool:
    return check.state in (old, new)


# name: (KB it starts from, the command, the KB it should end as (None: the command's clean run), judge)
SCENARIOS = {
    "ingest": ("old", lambda w, kb: ("ingest", str(w["B"]), "--kb", kb), "both", per_document),
    "remove": ("both", lambda w, kb: ("remove", *map(str, w["b"]), "--kb", kb), "old", per_document),
    "rebuild": ("both", lambda w, kb: ("ingest", "--rebuild", str(w["A"]), "--kb", kb), None, whole),
    "import": ("old", lambda w, kb: ("import", str(w["archive"]), kb, "--replace"), "other", whole),
}
REBUILD_SETTINGS = {"RAG_CHUNK_SIZE": "48", "RAG_CHUNK_OVERLAP": "8"}  # so the rebuilt KB differs

WRITERS = {
    "ingest": lambda w, kb: ("ingest", str(w["B"]), "--kb", kb),
    "rebuild": lambda w, kb: ("ingest", "--rebuild", str(w["A"]), "--kb", kb),
    "remove": lambda w, kb: ("remove", str(w["a"][0]), "--kb", kb),
}


@dataclass
class KillRun:
    step: int
    total: int
    killed: bool
    intact: bool  # opens, integrity ok, FAISS ids == SQLite ids
    old_or_new: bool
    finished_by_rerun: bool
    leftovers: list[str]


def crash_scenario(world: dict, name: str, kills: int, scratch: Path) -> list[KillRun]:
    """Kill the command at `kills` spread steps; after each, judge the KB, run it again, judge again."""
    template, command, expected, judge = SCENARIOS[name]
    extra = REBUILD_SETTINGS if name == "rebuild" else {}
    old = inspect(world[template]).state
    clean = fresh_copy(world[template], scratch / "clean")
    total = steps(*command(world, str(clean)), **extra)
    new = inspect(clean).state if expected is None else inspect(world[expected]).state
    runs = []
    for point in kill_points(total, kills):
        kb = fresh_copy(world[template], scratch / f"kill-{point}")
        done = rag(*command(world, str(kb)), check=False, RAG_TEST_KILL_AT=str(point), **extra)
        check = inspect(kb)
        intact = check.integrity == "ok" and check.faiss_matches
        again = rag(*command(world, str(kb)), check=False, **extra)
        gone_already = name == "remove" and again.returncode == 1 and "not in the knowledge base" in again.stderr
        finished = (again.returncode == 0 or gone_already) and inspect(kb).state == new
        live = read_data_dir(kb)
        leftovers = [p.name for p in kb.iterdir() if p.name.startswith("data-") and p.name != live]
        runs.append(KillRun(point, total, done.returncode == -9, intact, judge(check, old, new), finished, leftovers))
    return runs


def read_data_dir(kb: Path) -> str:
    from rag.store import kbdb

    return kbdb.read_config(kb).data_dir


@dataclass
class PairRun:
    first_ok: bool
    second_ok: bool
    waited: bool  # the second said whom it waited for
    lost: list[str]  # documents that should be there and are not
    extra: list[str]


def writer_pair(world: dict, first: str, second: str, scratch: Path) -> PairRun:
    kb = fresh_copy(world["old"], scratch / f"{first}-{second}")
    holder = start(*WRITERS[first](world, str(kb)), RAG_TEST_HOLD="3")
    try:
        wait_for_lock(kb, holder)
        waiter = rag(*WRITERS[second](world, str(kb)), check=False)
    finally:
        holder.communicate(timeout=120)
    expected = {str(p) for p in world["a"]}
    for op in (first, second):  # the first to take the lock goes first
        if op == "ingest":
            expected |= {str(p) for p in world["b"]}
        elif op == "rebuild":
            expected |= {str(p) for p in world["a"]}  # `ingest --rebuild A` adds A after the rebuild
        else:
            expected.discard(str(world["a"][0]))
    check = inspect(kb)
    found = set(check.state) if check.integrity == "ok" and check.faiss_matches else set()
    return PairRun(holder.returncode == 0, waiter.returncode == 0,
                   f"waiting for pid {holder.pid}, which is" in waiter.stderr,
                   sorted(expected - found), sorted(found - expected))


PAIRS = [("rebuild", "ingest"), ("ingest", "rebuild"), ("ingest", "remove"), ("remove", "rebuild"),
         ("rebuild", "rebuild"), ("ingest", "ingest")]
