"""The CLI through click's CliRunner, with the facade's models swapped for the fakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import rag.api
from rag.cli import main


@pytest.fixture
def runner(monkeypatch, tmp_path, fake_embedder, fake_generator):
    # The CLI builds its own KnowledgeBase; give every one of them the fakes.
    original = rag.api.KnowledgeBase.__init__

    def init(self, path=None, settings=None, *, embedder=None, generator=None, create=True):
        original(self, path, settings, embedder=fake_embedder, generator=fake_generator, create=create)

    monkeypatch.setattr(rag.api.KnowledgeBase, "__init__", init)
    monkeypatch.setenv("RAG_WORKERS", "1")
    monkeypatch.setenv("RAG_RELEVANCE_FLOOR", "0.1")
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return CliRunner()


@pytest.fixture
def docs(tmp_path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "temp.md").write_text("# 温度\n温度越低，输出越确定。\n", encoding="utf-8")
    (folder / "bad.docx").write_bytes(b"not a zip")
    return folder


def test_ingest_reports_failures_by_name_and_exits_1(runner, docs):
    result = runner.invoke(main, ["ingest", str(docs), "--kb", "kb"])
    assert result.exit_code == 1, result.output
    assert "added: 1" in result.output
    assert "bad.docx" in result.output and "FAILED" in result.output


def test_search_ask_docs_remove(runner, docs, fake_generator):
    runner.invoke(main, ["ingest", str(docs), "--kb", "kb"])
    result = runner.invoke(main, ["search", "温度越低", "--kb", "kb", "--json"])
    assert result.exit_code == 0, result.output
    assert Path(json.loads(result.output)[0]["source"]).name == "temp.md"

    fake_generator.replies.append("温度越低，输出越确定 [1]。")
    result = runner.invoke(main, ["ask", "温度越低会怎样？", "--kb", "kb"])
    assert result.exit_code == 0, result.output
    assert "Sources:" in result.output and "temp.md" in result.output

    fake_generator.replies.append("温度越低，输出越确定 [1]。")
    result = runner.invoke(main, ["ask", "温度越低会怎样？", "--kb", "kb", "--json"])
    payload = json.loads(result.output)
    assert payload["citations"][0]["number"] == 1

    assert "temp.md  (温度)" in runner.invoke(main, ["docs", "--kb", "kb"]).output  # with its title
    assert runner.invoke(main, ["remove", str(docs / "temp.md"), "--kb", "kb"]).exit_code == 0
    assert "empty" in runner.invoke(main, ["docs", "--kb", "kb"]).output


@pytest.mark.parametrize("command", [["search", "x"], ["ask", "x"], ["docs"]])
def test_read_commands_on_a_missing_kb_exit_2_and_say_how_to_create_one(runner, command):
    result = runner.invoke(main, [*command, "--kb", "nowhere"])
    assert result.exit_code == 2
    assert "rag ingest" in result.output
    assert not Path("nowhere").exists()


def test_eval_reports_recall(runner, docs, tmp_path):
    runner.invoke(main, ["ingest", str(docs), "--kb", "kb"])
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"question": "温度越低会怎样", "evidence": ["输出越确定"]},
                                    ensure_ascii=False) + "\n", encoding="utf-8")
    result = runner.invoke(main, ["eval", str(questions), "--kb", "kb", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["recall_at_5"] == 1.0


def test_ui_becomes_the_streamlit_server_for_the_chosen_kb(runner, monkeypatch):
    import os
    import sys

    calls = []
    monkeypatch.setattr(os, "execve", lambda path, argv, env: calls.append((path, argv, env)))
    monkeypatch.setenv("RAG_MAX_UPLOAD_MB", "12")
    result = runner.invoke(main, ["ui", "--kb", "my-kb", "--port", "8600"])
    assert result.exit_code == 0, result.output
    assert "http://localhost:8600" in result.output and "my-kb" in result.output
    [(path, argv, env)] = calls
    assert path == sys.executable and argv[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert Path(argv[4]) == Path(__file__).resolve().parents[2] / "app" / "main.py"
    assert {"--server.port=8600", "--server.address=127.0.0.1", "--server.maxUploadSize=12",
            "--server.headless=true"} <= set(argv)
    assert env["RAG_KB"] == "my-kb"
