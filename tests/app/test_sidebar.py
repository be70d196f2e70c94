"""The sidebar: knowledge-base choice and creation, the loaded models."""

from __future__ import annotations

from pathlib import Path

from rag.types import LLMStatus
from tests.app.conftest import ask, start
from tests.app.test_chat import plain


def create(at, name: str):
    at.text_input(key="new_kb_name").input(name)
    next(b for b in at.button if b.label == "Create").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_create_a_kb_select_it_and_switch_back_with_history_kept(filled, fake_generator):
    fake_generator.replies.append("温度越低，回答越确定 [1]。")
    at = ask(start(), "温度越低回答会怎样？")
    assert "2 documents" in at.caption[0].value

    create(at, "合同 2024")
    assert at.selectbox(key="kb").value == str(Path("data/kbs/合同-2024"))
    assert Path("data/kbs/合同-2024").is_dir()
    assert "Created" in at.sidebar.success[0].value
    assert "0 documents" in at.caption[0].value and not at.chat_message  # its own, empty history
    assert any("rag ingest PATH --kb" in i.value for i in at.info)

    at.selectbox(key="kb").select(str(filled)).run()
    assert "2 documents" in at.caption[0].value
    assert len(at.chat_message) == 2  # the first KB's conversation is still there


def test_kbs_under_data_are_listed(filled, tmp_path):
    (tmp_path / "data" / "kbs" / "old").mkdir(parents=True)
    (tmp_path / "data" / "notes").mkdir()  # no config.json: not a KB
    options = start().selectbox(key="kb").options
    assert options == [str(filled), str(Path("data/kbs/old"))]  # the default (absolute here) only once


def test_unusable_name_is_refused(kb_dir):
    at = create(start(), "../..")
    assert "Give the new knowledge base a name" in at.sidebar.error[0].value
    assert not Path("data/kbs").exists() or not any(Path("data/kbs").iterdir())


def test_models_and_re_ranking_are_named(kb_dir):
    caption = plain(" ".join(c.value for c in start().sidebar.caption))
    assert "LLM: fake-llm (custom · passed in)" in caption and "Embeddings: multilingual-e5-small" in caption
    assert "Re-ranking: off — it cannot score passages" in caption


def test_an_llm_that_cannot_run_is_named_in_the_sidebar(kb_dir, fake_generator, monkeypatch):
    problem = "the LLM cannot run on this machine: CPU, repacked weights on: killed by SIGSEGV"
    monkeypatch.setattr(fake_generator, "status", lambda check=False: LLMStatus(
        "llama_cpp", "qwen.gguf", "in this process", reranking=False, problem=problem,
        rerank_note="re-ranking is off: no LLM runs"), raising=False)
    at = start()
    caption = plain(" ".join(c.value for c in at.sidebar.caption))
    assert "LLM: qwen.gguf (llama_cpp · in this process)" in caption and "no LLM runs" in caption
    assert "killed by SIGSEGV" in plain(at.sidebar.warning[0].value)
