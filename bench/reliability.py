"""Durability figures for RELIABILITY.md: the real `rag` command killed at 20 spread steps per writing command,
every pair of concurrent writers, and the reproduction of issue 17's data loss, counting documents lost.

    python -m bench.reliability [--quick] [--no-write]

Runs with the tests' crash kit (`tests/crashkit`): a deterministic fake embedder, so a run takes minutes, and
what is measured is the store's behaviour, not the model's. The loader bombs and the fuzz are
`bench/loader_abuse.py`, in another section of the same file.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.common import table, write_section
from tests.rag.store import durability as d

RELIABILITY_MD = Path(__file__).resolve().parents[1] / "RELIABILITY.md"


def reproduction(world: dict, scratch: Path) -> tuple[int, int]:
    """Issue 17 (1): `rag ingest B` running while `rag ingest --rebuild A` starts. (documents lost, expected)"""
    kb = d.fresh_copy(world["old"], scratch / "repro")
    ingest = d.start("ingest", str(world["B"]), "--kb", str(kb), RAG_TEST_HOLD="3")
    d.wait_for_lock(kb, ingest)
    d.rag("ingest", "--rebuild", str(world["A"]), "--kb", str(kb))
    ingest.communicate(timeout=120)
    expected = {str(p) for p in world["a"] + world["b"]}
    assert d.rag("docs", "--kb", str(kb)).returncode == 0
    found = set(d.inspect(kb).state)
    return len(expected - found), len(expected)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 kill points per command instead of 20")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RELIABILITY.md alone")
    args = parser.parse_args()
    kills = 6 if args.quick else 20
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rag-reliability-") as tmp:
        scratch = Path(tmp)
        # More files than the test's world, so that every command has at least 20 steps to be killed at.
        world = d.make_world(scratch / "world", n_a=8, n_b=12) if not args.quick else d.make_world(scratch / "world")
        rows, lost_total = [], 0
        for name in d.SCENARIOS:
            runs = d.crash_scenario(world, name, kills, scratch / name)
            bad = [r.step for r in runs if not (r.killed and r.intact and r.old_or_new and r.finished_by_rerun)]
            rows.append((f"`rag {name}`", runs[0].total, len(runs), sum(r.killed for r in runs),
                         sum(r.intact and r.old_or_new for r in runs), sum(r.finished_by_rerun for r in runs),
                         sum(bool(r.leftovers) for r in runs), ", ".join(map(str, bad)) or "none"))
            print(name, rows[-1], flush=True)
        pairs = []
        for first, second in d.PAIRS:
            run = d.writer_pair(world, first, second, scratch / "pairs")
            lost_total += len(run.lost)
            pairs.append((f"{first} + {second}", "yes" if run.first_ok and run.second_ok else "no",
                          "yes" if run.waited else "no", len(run.lost), len(run.extra)))
            print(pairs[-1], flush=True)
        repro_lost, repro_docs = reproduction(world, scratch)
        lost_total += repro_lost
    minutes = (time.perf_counter() - started) / 60
    markdown = "\n\n".join([
        "## Crashes and concurrent writers",
        f"`python -m bench.reliability{' --quick' if args.quick else ''}`: the real `rag` command, with the "
        f"tests' fake embedder, killed with SIGKILL at {kills} steps spread over each command's run (steps are "
        "write transactions begun and committed, files about to replace others or just replaced, old data about "
        "to be removed). After each kill the KB must open, pass `PRAGMA integrity_check`, hold the same ids in "
        "FAISS as in SQLite, and be the old KB or the new one (exactly for rebuild and import; document by "
        f"document for ingest and remove); then the same command runs again and must reach the new KB. "
        f"{minutes:.1f} minutes in all.",
        table(["command", "steps in a clean run", "kill points", "killed", "old or new KB, intact",
               "finished by running again", "left data behind", "failed at steps"], rows),
        "Two writers at once: the first holds the write lock (its first commit waits 3 s), the second starts "
        "meanwhile, waits for it (with `waiting for pid N, which is …` on stderr) and runs after it.",
        table(["writers", "both exit 0", "second said whom it waited for", "documents lost", "documents extra"],
              pairs),
        f"Issue 17's reproduction (`rag ingest B` running while `rag ingest --rebuild A` starts): "
        f"{repro_lost} of {repro_docs} documents lost (before: all 11 documents lost, 2 of 2 runs).",
        f"**Documents lost in all of the above: {lost_total}.**",
    ])
    print(markdown)
    if not args.no_write:
        if not RELIABILITY_MD.exists():
            RELIABILITY_MD.write_text(HEADER, encoding="utf-8")
        write_section("durability", markdown, RELIABILITY_MD)


HEADER = """# Reliability

What the knowledge base survives, measured by committed scripts. Each section is rewritten by its script.
"""

if __name__ == "__main__":
    main()
