"""Drive the Streamlit app headless with `AppTest`, the KB built in tmp with the fake embedder and fake LLM.

`app.state.kb_factory` is the one seam: it is patched so every KB the app opens gets the fakes. The script
runs in this process, so `st.cache_resource` is cleared around each test. The app believes it listens on
127.0.0.1 (as `rag ui` does by default) unless a test says otherwise with `listening_on`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.util import patch_config_options

from app import state
from rag.api import KnowledgeBase
from rag.settings import Settings

APP = Path(__file__).resolve().parents[2] / "app" / "main.py"

DOCS = {
    "temperature.md": "# 采样\n## 温度\n温度参数控制输出的随机程度。温度越低，回答越确定；温度越高，回答越多样。\n",
    "quant.md": "# 量化\n量化把 16 位浮点权重压缩成 4 位整数，Q4_K_M 格式的 1.5B 模型约 1.1 GB。\n",
}


@pytest.fixture
def kb_dir(tmp_path, monkeypatch, fake_embedder, fake_generator) -> Path:
    """An empty KB directory that the app opens by default, with the fakes injected."""
    monkeypatch.chdir(tmp_path)
    kb = tmp_path / "data" / "index"
    for name, value in {"KB": str(kb), "WORKERS": "1", "RELEVANCE_FLOOR": "0.2", "CHUNK_SIZE": "64",
                        "CHUNK_OVERLAP": "8", "CACHE_DIR": str(tmp_path / "cache")}.items():
        monkeypatch.setenv(f"RAG_{name}", value)
    for name in ("RAG_CONFIG", "RAG_UI_TOKEN", "RAG_UI_PASSWORD_HASH", "RAG_UI_READ_ONLY"):
        monkeypatch.delenv(name, raising=False)
    opened: list[KnowledgeBase] = []

    def factory(path, settings):
        opened.append(KnowledgeBase(path, settings, embedder=fake_embedder, generator=fake_generator))
        return opened[-1]

    monkeypatch.setattr(state, "kb_factory", factory)
    st.cache_resource.clear()
    with listening_on("127.0.0.1"):
        yield kb
    st.cache_resource.clear()
    for k in opened:
        k.close()


@pytest.fixture
def docs(tmp_path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def fill(kb_dir: Path, embedder, paths: list[Path]) -> None:
    """Ingest the way `rag ingest` would, before the app opens the KB."""
    with KnowledgeBase(kb_dir, Settings.load(), embedder=embedder) as kb:
        report = kb.add(paths)
        assert not report.failed, report.failed


@pytest.fixture
def filled(kb_dir, docs, fake_embedder) -> Path:
    fill(kb_dir, fake_embedder, [docs])
    return kb_dir


def listening_on(address: str | None):
    """The address the app believes Streamlit listens on (`rag ui --host`); None means every interface."""
    return patch_config_options({"server.address": address})


def start() -> AppTest:
    """The app after its first run. Generous timeout: ingest spawns a parser process on a busy machine."""
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def go_to(at: AppTest, page: str) -> AppTest:
    from app.sidebar import CHAT, DOCUMENTS

    at.sidebar.radio(key="page").set_value({"documents": DOCUMENTS, "chat": CHAT}[page]).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def markdown_texts(at: AppTest) -> list[str]:
    """Every piece of markdown the app sent: markdown, captions, alerts, expander labels."""
    texts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    texts += [e.value for kind in (at.info, at.success, at.error, at.warning) for e in kind]
    texts += [e.label for e in at.expander]
    return texts
