"""The server backend: any OpenAI-compatible server (llama.cpp's server, llama-cpp-python's, vLLM, Ollama,
LM Studio) writes the answers, through the same narrow interface as the in-process model.

- Answers stream from `/chat/completions` as server-sent events. The server applies the model's own chat
  template, so the same GGUF gives the same greedy answer here and in-process.
- Token counts for the prompt budget come from the server's tokenizer where it has one (`/tokenize` of
  llama.cpp's server and vLLM, `/extras/tokenize` of llama-cpp-python's); elsewhere from `estimate_tokens`.
- Re-ranking needs the server to score a prompt (`scoring.py`); where it cannot, search keeps the fused
  order and `status` says why.
- Every failure is a `ServerError` that names the URL: unreachable (after `retries` connection retries,
  never once text has arrived), too slow (`timeout` between two pieces), dropped mid-answer, or a reply that
  is not an OpenAI completion. Never a traceback, never a hang.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.errors import ServerError
from rag.models import Message, Pieces
from rag.types import LLMStatus

CONNECT_TIMEOUT_S = 5.0
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


def estimate_tokens(text: str) -> int:
    """An upper estimate where the server cannot count: one token per CJK character (Qwen, Llama and Mistral
    tokenizers spend 0.6–1 on each) and one per three other characters (English runs about four)."""
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 3)


class ServerGenerator:
    def __init__(self, base_url: str, model: str, *, api_key: str = "", timeout: float = 120.0,
                 retries: int = 2, cache_dir: Path | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.cache_dir = cache_dir  # where a bundled GGUF named by `model` lies, for its chat template
        self.name = model
        self.api_key, self.timeout, self.retries = api_key, timeout, retries
        self._client = None
        self._lock = threading.Lock()
        self._model_checked = False
        self._counter: Callable[[str], int] | None = None
        self.token_counting = "not checked yet"  # which tokenizer counts the prompt, for `rag doctor`
        self._scorer = None

    # -- HTTP ----------------------------------------------------------------------------------------------
    @property
    def root(self) -> str:
        """The server's root, where llama.cpp's and vLLM's extra endpoints live (base_url without /v1)."""
        return re.sub(r"/v1$", "", self.base_url)

    def _http(self):
        with self._lock:
            if self._client is None:
                import httpx2

                headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
                # The transport's retries are for connections that fail to open, and only those: a request
                # that reached the server is never sent twice.
                self._client = httpx2.Client(
                    headers=headers, transport=httpx2.HTTPTransport(retries=self.retries),
                    timeout=httpx2.Timeout(connect=CONNECT_TIMEOUT_S, read=self.timeout, write=30.0, pool=30.0))
            return self._client

    def _fail(self, url: str, exc: Exception) -> ServerError:
        import httpx2

        if isinstance(exc, httpx2.TimeoutException):
            what = f"did not answer within {self.timeout:.0f} s (raise llm_timeout for a slow server)"
            if isinstance(exc, httpx2.ConnectTimeout):
                what = f"could not be reached within {CONNECT_TIMEOUT_S:.0f} s"
        elif isinstance(exc, httpx2.ConnectError):
            what = (f"could not be reached ({exc}); is the server running, and is llm_base_url right? "
                    f"Tried {self.retries + 1} time(s)")
        elif isinstance(exc, httpx2.TransportError):
            what = f"dropped the connection mid-reply ({type(exc).__name__}: {exc})"
        else:
            what = str(exc)
        return ServerError(f"the LLM server at {url} {what}")

    def request(self, method: str, path: str, *, body: dict | None = None, timeout: float | None = None) -> Any:
        """One JSON request to `base_url/path` (or an absolute URL); the decoded reply, or a ServerError."""
        import httpx2

        url = path if path.startswith("http") else f"{self.base_url}/{path}"
        try:
            response = self._http().request(method, url, json=body, timeout=timeout or httpx2.USE_CLIENT_DEFAULT)
        except httpx2.HTTPError as exc:
            raise self._fail(url, exc) from exc
        if response.status_code >= 400:
            raise ServerError(f"the LLM server at {url} answered {response.status_code}: {_detail(response.text)}")
        try:
            return response.json()
        except ValueError as exc:
            raise ServerError(f"the LLM server at {url} did not answer with JSON: {response.text[:120]!r}") from exc

    # -- the model ----------------------------------------------------------------------------------------
    def served_models(self) -> list[str]:
        reply = self.request("GET", "models", timeout=30.0)
        try:
            return [str(m["id"]) for m in reply["data"]]
        except (KeyError, TypeError) as exc:
            raise ServerError(f"the LLM server at {self.base_url}/models did not list models the OpenAI way: "
                              f"{str(reply)[:120]}") from exc

    def check_model(self) -> None:
        """Fail early, and usefully, when the server does not serve `llm_model`: some servers (llama-cpp-
        python's) would silently answer with another model instead."""
        if self._model_checked:
            return
        served = self.served_models()
        if self.name not in served:
            raise ServerError(f"the LLM server at {self.base_url} serves {', '.join(served) or 'no model'}, not "
                              f"{self.name!r}: set llm_model to one of those names")
        self._model_checked = True

    # -- Generator ------------------------------------------------------------------------------------------
    def stream(self, messages: list[Message], *, temperature: float = 0.1, top_p: float = 0.9,
               max_tokens: int = 512, seed: int | None = None) -> Pieces:
        import httpx2

        self.check_model()
        # repeat_penalty is not OpenAI's, but llama.cpp's and llama-cpp-python's servers read it, and the
        # latter's default (1.1) would make greedy answers differ from in-process ones (1.0). Other servers
        # ignore it.
        body = {"model": self.name, "messages": messages, "stream": True, "temperature": temperature,
                "top_p": top_p, "max_tokens": max_tokens, "repeat_penalty": 1.0}
        if seed is not None:
            body["seed"] = seed
        url = f"{self.base_url}/chat/completions"
        finished = False
        try:
            with self._http().sse(url, method="POST", json=body) as events:
                if events.response.status_code >= 400:
                    events.response.read()
                    raise ServerError(f"the LLM server at {url} answered {events.response.status_code}: "
                                      f"{_detail(events.response.text)}")
                for event in events:
                    if event.data.strip() == "[DONE]":
                        finished = True
                        break
                    piece, finished = _chat_delta(url, event.data)
                    if piece:
                        yield piece
        except httpx2.SSEError as exc:
            raise ServerError(f"the LLM server at {url} did not stream server-sent events: {exc}") from exc
        except httpx2.HTTPError as exc:
            raise self._fail(url, exc) from exc
        if not finished:
            raise ServerError(f"the LLM server at {url} closed the connection before the answer was complete")

    def count_tokens(self, text: str) -> int:
        if self._counter is None:
            self._counter = self._find_tokenizer()
        return self._counter(text)

    def _find_tokenizer(self) -> Callable[[str], int]:
        """The server's own tokenizer where it has an endpoint for it, else the estimate."""
        self.check_model()  # an unreachable server is an error, not a reason to settle for the estimate
        candidates = [
            ("llama.cpp server /tokenize", f"{self.root}/tokenize", lambda t: {"content": t}),
            ("vLLM /tokenize", f"{self.root}/tokenize", lambda t: {"model": self.name, "prompt": t}),
            ("llama-cpp-python /extras/tokenize", f"{self.root}/extras/tokenize",
             lambda t: {"model": self.name, "input": t}),
        ]
        for label, url, body in candidates:
            try:
                tokens = self.request("POST", url, body=body("资料 ok"), timeout=30.0).get("tokens")
            except (ServerError, AttributeError):
                continue
            if isinstance(tokens, list) and tokens:
                self.token_counting = f"the server's tokenizer ({label})"
                return lambda t, url=url, body=body: len(self.request("POST", url, body=body(t))["tokens"])
        self.token_counting = "estimated (the server has no tokenizer endpoint): 1 per CJK character, 1 per 3 others"
        return estimate_tokens

    # -- Scorer ---------------------------------------------------------------------------------------------
    def _scoring(self):
        if self._scorer is None:
            from rag.models.llm.scoring import ServerScorer

            self._scorer = ServerScorer(self, self.cache_dir)
        return self._scorer

    def log_likelihood(self, messages: list[Message], reply: str, *, lead: str = "") -> float | None:
        return self._scoring().log_likelihood(messages, reply, lead=lead)

    def status(self, *, check: bool = False) -> LLMStatus:
        status = LLMStatus("openai", self.name, self.base_url, reranking=False)
        if check:
            try:
                self.check_model()
                self.count_tokens("ok")
            except ServerError as exc:
                status.problem = str(exc)
                status.rerank_note = "re-ranking is off while the server cannot be used"
                return status
            self._scoring().check()
        problem = self._scorer.problem if self._scorer else None  # None: not checked yet
        status.reranking = problem == ""
        status.rerank_note = "re-ranking: not checked yet" if problem is None else problem
        return status


def _chat_delta(url: str, data: str) -> tuple[str, bool]:
    """The text of one streamed chunk, and whether it was the last."""
    try:
        chunk = json.loads(data)
        if "error" in chunk:
            raise ServerError(f"the LLM server at {url} reported an error mid-answer: {_detail(json.dumps(chunk))}")
        choice = chunk["choices"][0] if chunk["choices"] else {}
        return (choice.get("delta") or {}).get("content") or "", bool(choice.get("finish_reason"))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ServerError(f"the LLM server at {url} sent something that is not an OpenAI chat completion chunk: "
                          f"{data[:120]!r}") from exc


def _detail(text: str) -> str:
    """The server's own error message, short."""
    try:
        data = json.loads(text)
        error = data.get("error", data.get("detail", data)) if isinstance(data, dict) else data
        message = error.get("message", error) if isinstance(error, dict) else error
        return str(message)[:300]
    except ValueError:
        return text.strip()[:300] or "(no body)"
