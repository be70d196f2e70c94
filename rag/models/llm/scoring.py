"""Re-ranking through a server: the question's log-probability after a passage, from `/completions` with
`echo` and `logprobs`, which score the prompt's own tokens (as the OpenAI API defines them, and vLLM serves).

Two things must hold for the score to be the one the in-process model gives, and both are checked once:
- the prompt is rendered with the model's own chat template: the server's (`/apply-template` of llama.cpp's
  server), or that of the local GGUF when llm_model names one (a bundled alias or a .gguf path);
- the server's log-probabilities line up with the prompt's tokens. The check is a prompt whose last third
  repeats the rest: any model copies it, so its tokens score near 0 when aligned, and far below when each
  token is scored by the prediction made after it, as llama-cpp-python's server does (BENCHMARKS §6).
Where either fails, `check` says why, `log_likelihood` raises, and search keeps the fused order.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from rag.errors import ConfigError, ModelNotAvailable, ServerError
from rag.models import Message

CALIBRATION = "Q9 X4 B1 Z8 " * 3
ALIGNED = -3.0  # mean log-probability of the repeated third: about -0.4 aligned, -13 shifted by one token
OFF = "re-ranking is off: "


class ServerScorer:
    def __init__(self, server, cache_dir: Path | None = None) -> None:
        self.server = server
        self.cache_dir = cache_dir
        self.problem: str | None = None  # None until checked; "" when scoring works
        self._render: Callable[[list[Message]], str] | None = None
        self._end = ""  # the end-of-turn text that closes the scored reply
        self._lock = threading.Lock()

    def check(self) -> str:
        with self._lock:
            if self.problem is None:
                self.problem = self._check()
            return self.problem

    def _check(self) -> str:
        url = f"{self.server.base_url}/completions"
        try:
            self.server.check_model()
            found = self._server_template() or self._local_template()
            if found is None:
                return (OFF + f"the server at {self.server.base_url} does not render its chat template "
                        "(llama.cpp's server has /apply-template), and llm_model names no local GGUF to read it from")
            self._render, self._end = found
            scores = self._prompt_logprobs(CALIBRATION)
        except ServerError as exc:
            return OFF + f"the server cannot score a prompt: {exc}"
        tail = [lp for offset, lp in scores if offset >= len(CALIBRATION) * 2 // 3]
        mean = sum(tail) / len(tail) if tail else float("-inf")
        if mean < ALIGNED:
            return (OFF + f"the log-probabilities from {url} do not line up with the prompt's tokens (a copied "
                    f"text scored {mean:.1f} per token, expected near 0); llama-cpp-python's server scores each "
                    "token by the prediction after it")
        return ""

    def _server_template(self) -> tuple[Callable[[list[Message]], str], str] | None:
        try:
            self.server.request("POST", f"{self.server.root}/apply-template", body={"messages": []}, timeout=30.0)
            props = self.server.request("GET", f"{self.server.root}/props", timeout=30.0)
        except ServerError:
            return None
        end = props.get("eos_token", "") if isinstance(props, dict) else ""

        def render(messages: list[Message]) -> str:
            return self.server.request("POST", f"{self.server.root}/apply-template",
                                       body={"messages": messages})["prompt"]
        return render, end

    def _local_template(self) -> tuple[Callable[[list[Message]], str], str] | None:
        """The chat template of the GGUF that llm_model names, read with the vocabulary only: no weights are
        loaded and nothing runs, so this is safe on any CPU."""
        from rag.models.bundled import resolve_llm_model

        if self.cache_dir is None:
            return None
        try:
            path = resolve_llm_model(self.server.name, self.cache_dir, progress=False)
            from llama_cpp import Llama

            from rag.models.llm.llama import chat_format

            with _stderr_silenced():  # llama.cpp warns that a vocabulary has no training context
                vocab = Llama(model_path=str(path), vocab_only=True, verbose=False)
        except (ConfigError, ModelNotAvailable, ImportError, ValueError):
            return None
        end = vocab.detokenize([vocab.token_eos()], special=True).decode("utf-8", "replace")
        return chat_format(vocab), end

    def _prompt_logprobs(self, text: str) -> list[tuple[int, float]]:
        """(character offset, log-probability) of each of the prompt's tokens after the first."""
        reply = self.server.request("POST", "completions", body={
            "model": self.server.name, "prompt": text, "max_tokens": 1, "echo": True, "logprobs": 1,
            "temperature": 0})
        try:
            logprobs = reply["choices"][0]["logprobs"]
            pairs = zip(logprobs["text_offset"], logprobs["token_logprobs"])
            return [(int(offset), float(lp)) for offset, lp in pairs if lp is not None and offset < len(text)]
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ServerError(f"the LLM server at {self.server.base_url}/completions returned no prompt "
                              f"log-probabilities: {str(reply)[:120]}") from exc

    def log_likelihood(self, messages: list[Message], reply: str, *, lead: str = "") -> float | None:
        """Mean log-probability per token of `reply` and the end-of-turn text after `messages` and `lead`,
        as `LlamaGenerator.log_likelihood` computes it in-process."""
        problem = self.check()
        if problem:
            raise ModelNotAvailable(problem)
        context = self._render(messages) + lead
        text = context + reply + self._end
        scored = [lp for offset, lp in self._prompt_logprobs(text) if offset >= len(context)]
        return sum(scored) / len(scored) if scored else None


@contextlib.contextmanager
def _stderr_silenced():
    """Native code writes to file descriptor 2 directly, so redirecting `sys.stderr` would not do."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
