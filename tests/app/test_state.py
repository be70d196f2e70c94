"""Shared resources: one KnowledgeBase per KB directory, whatever spelling of its path."""

from __future__ import annotations

from pathlib import Path

from app import state


def test_one_knowledge_base_per_directory(kb_dir):
    first = state.get_kb("data/index")
    assert state.get_kb(str(kb_dir)) is first
    assert state.get_kb("data/kbs/other") is not first
    assert first.path == kb_dir.resolve()


def test_known_kbs_lists_the_default_then_kbs_under_data(kb_dir):
    (Path("data/kbs/b")).mkdir(parents=True)
    (Path("data/kbs/a")).mkdir()
    (Path("data/kbs/.tmp")).mkdir()
    assert state.known_kbs("data/index") == ["data/index", "data/kbs/a", "data/kbs/b"]
