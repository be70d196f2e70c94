"""The server backend against real servers on 127.0.0.1, started by the tests themselves.

- llama-cpp-python's OpenAI server (`python -m rag.models.llm.serve`, the `server` extra) with the bundled GGUF:
  a streamed, cited answer through `KnowledgeBase`, the same greedy answer as in-process, the server's
  tokenizer, a wrong model name, the server killed mid-answer. It cannot score prompts correctly, and the
  backend must notice that and say so.
- Small servers of the standard library's, for what a real LLM server does only when broken: a wrong URL,
  replies that are not JSON or not OpenAI completions, and a server too slow to answer.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from rag.errors import ServerError
from rag.models.llm.server import ServerGenerator, estimate_tokens

ROOT = Path(__file__).resolve().parents[4]
MODEL = "qwen2.5-coder-1.5b"
HI = [{"role": "user", "content": "用一句话介绍你自己。"}]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LLMServer:
    """`python -m rag.models.llm.serve` on a free port; a test that waits on it fails at once, with its log, when
    it dies."""

    def __init__(self, tmp: Path, *extra: str) -> None:
        from tests.conftest import require_bundled_models

        require_bundled_models()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log = tmp / f"server-{self.port}.log"
        threads = str(os.cpu_count() or 1)
        command = [sys.executable, "-m", "rag.models.llm.serve", "--host", "127.0.0.1", "--port", str(self.port),
                   "--n_ctx", "4096", "--n_threads", threads, "--n_threads_batch", threads, *extra]
        self.proc = subprocess.Popen(command, cwd=ROOT, stdout=open(self.log, "wb"), stderr=subprocess.STDOUT,
                                     env={**os.environ, "HF_HUB_OFFLINE": "1"})
        deadline = time.monotonic() + 300
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"the LLM server exited with {self.proc.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(f"{self.url}/models", timeout=5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"the LLM server did not come up in 300 s:\n{self.output()}")
                time.sleep(0.3)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # llama-cpp-python's own default (logits_all on), so that its completions endpoint returns log-probabilities.
    running = LLMServer(tmp_path_factory.mktemp("llm-server"))
    yield running
    running.stop()


def server_kb(kb_dir: Path, url: str, **settings):
    from rag.api import KnowledgeBase
    from rag.settings import Settings

    config = Settings.load(kb=str(kb_dir), llm_backend="openai", llm_base_url=url, llm_model=MODEL, **settings)
    return KnowledgeBase(config.kb, config, create=False)


# --------------------------------------------------------------------------- the real server

@pytest.mark.slow
def test_a_question_through_the_server_streams_a_cited_answer(server, samples_kb_dir):
    with server_kb(samples_kb_dir, server.url, rerank_depth=2, temperature=0.0, max_tokens=150) as kb:
        stream = kb.stream_ask("温度参数有什么作用？")
        pieces = list(stream)
        answer = stream.answer
        assert len(pieces) > 3, pieces  # streamed, not delivered whole
        assert not answer.refused and answer.citations, answer.draft
        assert "温度" in answer.text and "[" in answer.text
        assert any(Path(c.source).name in {"faq.md", "llm-handbook.docx", "glossary.xlsx"} for c in answer.citations)
        # Its completions endpoint scores each token by the prediction after it: re-ranking must be off,
        # and the backend says why instead of ranking by numbers that mean nothing.
        status = kb.llm_status()
        assert (status.backend, status.model, status.where) == ("openai", MODEL, server.url)
        assert not status.reranking and "do not line up with the prompt's tokens" in status.rerank_note
        assert kb.search("温度参数有什么作用？")  # search goes on, in the fused order


@pytest.mark.slow
def test_the_same_greedy_answer_in_process_and_through_the_server(server, samples_kb_dir):
    from rag.api import KnowledgeBase
    from rag.settings import Settings

    question = "Top-p 核采样是谁在哪一年提出的？"
    local_settings = Settings.load(kb=str(samples_kb_dir), rerank_depth=0, temperature=0.0, max_tokens=80)
    with KnowledgeBase(local_settings.kb, local_settings) as local:
        in_process = local.ask(question)
        with server_kb(samples_kb_dir, server.url, rerank_depth=0, temperature=0.0, max_tokens=80) as remote:
            remote._embedder = local.embedder  # one e5 in memory is enough
            through_server = remote.ask(question)
            assert through_server.draft == in_process.draft
            assert [h.chunk_id for h in through_server.hits] == [h.chunk_id for h in in_process.hits]
            text = "检索增强生成（RAG）先检索资料，再让模型回答。Top-p sampling was proposed in 2019."
            assert remote.generator.count_tokens(text) == local.generator.count_tokens(text)
            assert "llama-cpp-python /extras/tokenize" in remote.generator.token_counting


@pytest.mark.slow
def test_a_model_the_server_does_not_serve_is_named(server):
    with pytest.raises(ServerError, match=f"serves {MODEL}, not 'qwen-72b': set llm_model"):
        list(ServerGenerator(server.url, "qwen-72b").stream(HI))


@pytest.mark.slow
def test_a_server_killed_mid_answer_is_a_named_error_not_a_hang(tmp_path):
    doomed = LLMServer(tmp_path, "--logits_all", "false")
    try:
        pieces = []
        started = time.monotonic()
        with pytest.raises(ServerError) as raised:
            for piece in ServerGenerator(doomed.url, MODEL, timeout=30).stream(
                    [{"role": "user", "content": "Write a long story about a cat, in English."}], max_tokens=400):
                pieces.append(piece)
                if len(pieces) == 3:
                    doomed.proc.send_signal(signal.SIGKILL)
        assert doomed.url in str(raised.value) and "mid-reply" in str(raised.value)
        assert time.monotonic() - started < 60 and len(pieces) >= 3
    finally:
        doomed.stop()


# --------------------------------------------------------------------------- broken servers of our own

class Broken(http.server.BaseHTTPRequestHandler):
    """Serves one model, then answers chat completions the way `self.server.mode` says."""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self._send(200, "application/json", json.dumps({"object": "list", "data": [{"id": "m"}]}))

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        mode = self.server.mode
        if mode == "html":
            self._send(200, "text/html", "<html>Welcome to nginx!</html>")
        elif mode == "garbage-events":
            self._send(200, "text/event-stream", 'data: {"unexpected": true}\n\n')
        elif mode == "error":
            self._send(500, "application/json", json.dumps({"error": {"message": "CUDA out of memory"}}))
        elif mode == "slow":
            time.sleep(3)
            self._send(200, "text/event-stream", "data: [DONE]\n\n")

    def _send(self, status: int, kind: str, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def broken():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()

    def serve(mode: str) -> str:
        httpd.mode = mode
        return f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    yield serve
    httpd.shutdown()


@pytest.mark.parametrize("mode, message", [
    ("html", "did not stream server-sent events"),
    ("garbage-events", "not an OpenAI chat completion chunk"),
    ("error", "answered 500: CUDA out of memory"),
])
def test_a_server_that_answers_garbage_is_a_named_error(broken, mode, message):
    url = broken(mode)
    with pytest.raises(ServerError, match=message) as raised:
        list(ServerGenerator(url, "m").stream(HI))
    assert url in str(raised.value)


def test_a_server_too_slow_is_a_named_error_after_the_timeout(broken):
    url = broken("slow")
    started = time.monotonic()
    with pytest.raises(ServerError, match=r"did not answer within 1 s \(raise llm_timeout"):
        list(ServerGenerator(url, "m", timeout=1).stream(HI))
    assert time.monotonic() - started < 3


def test_a_wrong_url_fails_fast_after_bounded_retries():
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    started = time.monotonic()
    with pytest.raises(ServerError, match="could not be reached.*is the server running.*Tried 3 time"):
        list(ServerGenerator(url, "m", retries=2).stream(HI))
    assert time.monotonic() - started < 10


def test_without_a_tokenizer_endpoint_the_prompt_is_estimated_from_above(broken):
    generator = ServerGenerator(broken("error"), "m")
    assert generator.count_tokens("温度参数 top-p") == estimate_tokens("温度参数 top-p") == 4 + 2
    assert generator.token_counting.startswith("estimated")


def test_a_server_that_cannot_score_turns_re_ranking_off_and_says_why(broken):
    generator = ServerGenerator(broken("error"), "m")
    status = generator.status(check=True)
    assert not status.problem and not status.reranking
    assert status.rerank_note.startswith("re-ranking is off: the server at") and "chat template" in status.rerank_note


# --------------------------------------------------------------------------- scoring through a server

class Scoring(http.server.BaseHTTPRequestHandler):
    """What vLLM's completions endpoint does with `echo` and `logprobs`: each prompt token scored by the
    prediction made before it. No vLLM runs here, so these lines over the same GGUF stand in for it."""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self._json({"object": "list", "data": [{"id": MODEL}]})

    def do_POST(self) -> None:
        import numpy as np

        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if not self.path.endswith("/v1/completions"):
            return self._json({"error": {"message": "not found"}}, 404)
        llama = self.server.llama
        with self.server.lock:
            tokens = llama.tokenize(body["prompt"].encode(), add_bos=False, special=True)
            llama.reset()
            llama.eval(tokens)
            logits = np.asarray(llama.scores[:len(tokens)], dtype=np.float64)
        top = logits.max(axis=1, keepdims=True)
        logprobs = logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))
        offsets = [len(llama.detokenize(tokens[:i], special=True).decode("utf-8", "ignore"))
                   for i in range(len(tokens))]
        scored = [None] + [float(logprobs[i - 1, tokens[i]]) for i in range(1, len(tokens))]
        self._json({"choices": [{"text": body["prompt"], "logprobs": {"text_offset": offsets,
                                                                       "token_logprobs": scored}}]})

    def _json(self, data: dict, status: int = 200) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.mark.slow
def test_through_a_server_that_scores_prompts_the_score_is_the_in_process_one(tmp_path):
    from llama_cpp import Llama

    from rag.models.bundled import resolve_llm_model
    from rag.models.llm.llama import LlamaGenerator, extra_buffer_types
    from rag.retrieve.rerank import question_prompt
    from rag.settings import Settings
    from rag.types import Hit
    from tests.conftest import require_bundled_models

    require_bundled_models()
    cache = Path(Settings.load().cache_dir)
    local = LlamaGenerator(resolve_llm_model(MODEL, cache, progress=False), cache_dir=cache)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Scoring)
    httpd.lock = threading.Lock()
    with extra_buffer_types(local.runtime().trial.repack):
        httpd.llama = Llama(model_path=str(local.model_path), n_ctx=1024, logits_all=True, verbose=False)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        remote = ServerGenerator(f"http://127.0.0.1:{httpd.server_address[1]}/v1", MODEL, cache_dir=cache)
        assert remote.status(check=True).reranking, remote.status().rerank_note
        hit = Hit(text="LoRA 冻结原模型权重，只训练旁路的两个低秩矩阵，秩 r 常取 8 或 16。", source="x.md", page=None,
                  sheet=None, rows=None, heading=None, score=0.0, chunk_id=0)
        question = "LoRA 微调时旁路矩阵的秩一般取多少？"
        expected = local.log_likelihood(question_prompt(hit), question, lead="问题：")
        assert remote.log_likelihood(question_prompt(hit), question, lead="问题：") == pytest.approx(expected,
                                                                                                   abs=0.01)
    finally:
        httpd.shutdown()
