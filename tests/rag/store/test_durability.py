"""Nothing lost: the real `rag` command SIGKILLed at spread-out durability steps, and writers run two at a time.

After every kill the KB must open, pass `PRAGMA integrity_check`, hold the same ids in FAISS as in SQLite, and
be the old KB or the new one: exactly, for rebuild and import (they commit in one step), and document by
document for ingest and remove (each document commits on its own). Running the command again then reaches
the new KB. Kill points are a handful here to keep CI quick; `bench/reliability.py` runs 20 per command.
"""

from __future__ import annotations

import pytest

from tests.rag.store import durability as d

KILLS = 6  # per command; bench/reliability.py runs 20


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return d.make_world(tmp_path_factory.mktemp("durability"))


@pytest.mark.parametrize("name", list(d.SCENARIOS))
def test_killed_at_any_step_the_kb_is_the_old_one_or_the_new_one(world, tmp_path, name):
    runs = d.crash_scenario(world, name, KILLS, tmp_path)
    assert len(runs) == KILLS and runs[0].total > KILLS
    for run in runs:
        where = f"{name}: step {run.step} of {run.total}"
        assert run.killed, where
        assert run.intact and run.old_or_new, where
        assert run.finished_by_rerun and not run.leftovers, where


@pytest.mark.parametrize("first,second", d.PAIRS[:5])
def test_two_writers_take_turns_and_no_document_is_lost(world, tmp_path, first, second):
    run = d.writer_pair(world, first, second, tmp_path)
    assert run.first_ok and run.second_ok and run.waited
    assert run.lost == [] and run.extra == []


def test_a_writer_that_waits_too_long_says_so_without_pointing_at_a_destructive_command(world, tmp_path):
    kb = d.fresh_copy(world["old"], tmp_path / "kb")
    holder = d.start(*d.WRITERS["ingest"](world, str(kb)), RAG_TEST_HOLD="4")
    try:
        d.wait_for_lock(kb, holder)
        waiter = d.rag(*d.WRITERS["remove"](world, str(kb)), check=False, RAG_LOCK_TIMEOUT="0.5")
    finally:
        holder.communicate(timeout=120)
    assert waiter.returncode == 2
    assert f"busy: pid {holder.pid}, which is ingesting" in waiter.stderr and "lock_timeout" in waiter.stderr
    assert "--rebuild" not in waiter.stderr
