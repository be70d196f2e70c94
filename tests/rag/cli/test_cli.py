"""The CLI through click's CliRunner, with the facade's models swapped for the fakes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import rag.api
from rag.cli import main
from rag.settings import Settings


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
    assert Path(argv[4]) == Path(__file__).resolve().parents[3] / "app" / "main.py"
    assert {"--server.port=8600", "--server.address=127.0.0.1", "--server.maxUploadSize=12",
            "--server.headless=true"} <= set(argv)
    assert env["RAG_KB"] == "my-kb"


def test_password_asks_twice_and_prints_a_line_for_rag_toml(runner):
    from rag.access import verify_password

    result = runner.invoke(main, ["password"], input="correct horse\nwrong horse\ncorrect horse\ncorrect horse\n")
    assert result.exit_code == 0, result.output
    assert "correct horse" not in result.output  # the input is hidden
    assert result.output.count("New password for the web UI") == 2  # a mismatch asks again
    line = next(x for x in result.output.splitlines() if x.startswith("ui_password_hash = "))
    Path("rag.toml").write_text(line + "\n", encoding="utf-8")
    assert verify_password(Settings.load().ui_password_hash, "correct horse")
    assert "rag.toml" in result.output and "RAG_UI_PASSWORD_HASH" in result.output


def test_password_too_short_is_refused(runner):
    result = runner.invoke(main, ["password"], input="short\nshort\n")
    assert result.exit_code == 2 and "at least 8 characters" in result.output


@pytest.fixture
def served(runner, monkeypatch):
    """`rag ui` up to the point where it would become Streamlit: the command line and environment it passes."""
    import os

    calls = []
    monkeypatch.setattr(os, "execve", lambda path, argv, env: calls.append((argv, env)))
    monkeypatch.setenv("RAG_UI_TOKEN", "inherited-token")  # only a token `rag ui` makes may be used
    for name in ("RAG_UI_PASSWORD_HASH", "RAG_UI_READ_ONLY", "RAG_CONFIG"):
        monkeypatch.delenv(name, raising=False)

    def serve(*args: str):
        calls.clear()
        result = runner.invoke(main, ["ui", *args])
        return result, calls[0] if calls else (None, None)
    return serve


def test_a_shared_ui_prints_a_sign_in_link_and_passes_its_token(served):
    result, (argv, env) = served("--host", "0.0.0.0", "--port", "8600")
    assert result.exit_code == 0, result.output
    token = re.search(r"http://localhost:8600/\?token=([\w-]+) ", result.output)[1]
    assert len(token) >= 40 and env["RAG_UI_TOKEN"] == token and "--server.address=0.0.0.0" in argv
    assert "From other machines: http://" in result.output and "rag password" in result.output
    assert served("--host", "0.0.0.0")[1][1]["RAG_UI_TOKEN"] != token  # a new one each start


def test_read_only_a_password_or_localhost_need_no_token(served, monkeypatch):
    result, (_, env) = served("--host", "0.0.0.0", "--read-only")
    assert "token" not in result.output and "RAG_UI_TOKEN" not in env and env["RAG_UI_READ_ONLY"] == "true"
    assert "anyone who reaches port 8501 can ask questions" in result.output

    result, (_, env) = served()
    assert "?token" not in result.output and "RAG_UI_TOKEN" not in env and "RAG_UI_READ_ONLY" not in env

    monkeypatch.setenv("RAG_UI_PASSWORD_HASH", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$"
                                               "c2tzZ2tzZ2tzZ2tzZ2tzZ2tzZ2tzZ2tzZ2tzZ2tzZ2s")
    result, (_, env) = served("--host", "0.0.0.0")
    assert result.exit_code == 0, result.output
    assert "?token" not in result.output and "RAG_UI_TOKEN" not in env and "password" in result.output


def test_an_unusable_password_hash_stops_the_ui_before_it_serves(served, monkeypatch):
    monkeypatch.setenv("RAG_UI_PASSWORD_HASH", "correct horse")
    result, (argv, _) = served("--host", "0.0.0.0")
    assert result.exit_code == 2 and "rag password" in result.output and argv is None
