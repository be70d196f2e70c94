"""Nothing lost: the real `rag` command SIGKILLed at spread-out durability steps, and writers run two at a time.

After every kill the KB must open, pass `PRAGMA integrity_check`, hold the same ids in FAISS as in SQLite, and
be the old KB or the new one: exactly, for rebuild and import (they commit in one step), and document by
document for ingest and remove (each document commits on its own). Running the command again then reaches
the new KB. Kill points are a handful here to keep CI quick; `bench/reliability.py` runs 20 per command.
"""

from __future__ import annotations

import pytest

from tests.rag import durability as d

KILLS = 6  # per command; bench/reliability.py runs 20


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("durability")
    a = d.make_texts(base / "A", "alpha", 4, ("walrus", "lantern", "harbor"))
    b = d.make_texts(base / "B", "beta", 3, ("quartz", "meadow", "signal"))
    old = base / "old"
    d.rag("ingest", str(base / "A"), "--kb", str(old))
    both = base / "both"
    d.rag("ingest", str(base / "A"), str(base / "B"), "--kb", str(both))
    other = base / "other"
    d.rag("ingest", str(base / "B"), "--kb", str(other))
    archive = base / "other.tar.gz"
    d.rag("export", str(other), str(archive))
    return {"base": base, "A": base / "A", "B": base / "B", "a": a, "b": b, "old": old, "both": both,
            "other": other, "archive": archive}


def _per_document(check: d.Check, old: d.State, new: d.State) -> None:
    for source in set(old) | set(new) | set(check.state):
        assert check.state.get(source) in (old.get(source), new.get(source)), source


def _whole(check: d.Check, old: d.State, new: d.State) -> None:
    assert check.state in (old, new)


SCENARIOS = {
    # name: (template, command after the KB path is known, expected-new template, per-document or whole)
    "ingest": ("old", lambda w, kb: ("ingest", str(w["B"]), "--kb", kb), "both", _per_document),
    "remove": ("both", lambda w, kb: ("remove", *map(str, w["b"]), "--kb", kb), "old", _per_document),
    "rebuild": ("both", lambda w, kb: ("ingest", "--rebuild", str(w["A"]), "--kb", kb), None, _whole),
    "import": ("old", lambda w, kb: ("import", str(w["archive"]), kb, "--replace"), "other", _whole),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_killed_at_any_step_the_kb_is_the_old_one_or_the_new_one(world, tmp_path, name):
    template, command, expected, judge = SCENARIOS[name]
    old = d.inspect(world[template]).state
    extra = {"RAG_CHUNK_SIZE": "48", "RAG_CHUNK_OVERLAP": "8"} if name == "rebuild" else {}
    clean = d.fresh_copy(world[template], tmp_path / "clean")
    total = d.steps(*command(world, str(clean)), **extra)
    new = d.inspect(clean).state if expected is None else d.inspect(world[expected]).state
    assert total > 2 and new != old
    for point in d.kill_points(total, KILLS):
        kb = d.fresh_copy(world[template], tmp_path / f"kill-{point}")
        run = d.rag(*command(world, str(kb)), check=False, RAG_TEST_KILL_AT=str(point), **extra)
        assert run.returncode == -9, f"step {point} of {total}: not killed ({run.returncode}) {run.stderr}"
        check = d.inspect(kb)
        assert check.integrity == "ok" and check.faiss_matches, f"step {point} of {total}"
        judge(check, old, new)
        again = d.rag(*command(world, str(kb)), check=False, **extra)
        if name == "remove" and again.returncode == 1:  # the documents removed before the kill are gone
            assert "not in the knowledge base" in again.stderr
        else:
            assert again.returncode == 0, again.stderr
        assert d.inspect(kb).state == new, f"step {point} of {total}: running it again did not finish the job"
        assert not [p for p in kb.iterdir() if p.name.startswith("data-") and p.name != _data_dir(kb)]


def _data_dir(kb) -> str:
    from rag import kbdb

    return kbdb.read_config(kb).data_dir


WRITERS = {
    "ingest": lambda w, kb: ("ingest", str(w["B"]), "--kb", kb),
    "rebuild": lambda w, kb: ("ingest", "--rebuild", str(w["A"]), "--kb", kb),
    "remove": lambda w, kb: ("remove", str(w["a"][0]), "--kb", kb),
}


@pytest.mark.parametrize("first,second", [("rebuild", "ingest"), ("ingest", "rebuild"), ("ingest", "remove"),
                                          ("remove", "rebuild"), ("rebuild", "rebuild")])
def test_two_writers_take_turns_and_no_document_is_lost(world, tmp_path, first, second):
    kb = d.fresh_copy(world["old"], tmp_path / "kb")
    holder = d.start(*WRITERS[first](world, str(kb)), RAG_TEST_HOLD="3")
    try:
        d.wait_for_lock(kb, holder)
        waiter = d.rag(*WRITERS[second](world, str(kb)), check=False)
    finally:
        out, err = holder.communicate(timeout=120)
    assert holder.returncode == 0, err
    assert waiter.returncode == 0, waiter.stderr
    assert f"waiting for pid {holder.pid}, which is" in waiter.stderr
    expected = {str(p) for p in world["a"]}
    for op in (first, second):  # the first to take the lock goes first
        if op == "ingest":
            expected |= {str(p) for p in world["b"]}
        elif op == "rebuild":
            expected |= {str(p) for p in world["a"]}  # `ingest --rebuild A` adds A after the rebuild
        else:
            expected.discard(str(world["a"][0]))
    check = d.inspect(kb)
    assert set(check.state) == expected and check.integrity == "ok" and check.faiss_matches


def test_a_writer_that_waits_too_long_says_so_without_pointing_at_a_destructive_command(world, tmp_path):
    kb = d.fresh_copy(world["old"], tmp_path / "kb")
    holder = d.start(*WRITERS["ingest"](world, str(kb)), RAG_TEST_HOLD="4")
    try:
        d.wait_for_lock(kb, holder)
        waiter = d.rag(*WRITERS["remove"](world, str(kb)), check=False, RAG_LOCK_TIMEOUT="0.5")
    finally:
        holder.communicate(timeout=120)
    assert waiter.returncode == 2
    assert f"busy: pid {holder.pid}, which is ingesting" in waiter.stderr and "lock_timeout" in waiter.stderr
    assert "--rebuild" not in waiter.stderr
