"""The local LLM behind one narrow interface: `stream(messages, **sampling) -> Iterator[str]`.

`LlamaGenerator` wraps llama-cpp-python. The model loads on first use, never in the constructor, and one lock
serialises generation, because a `Llama` object is not safe to drive from two threads (two browser tabs).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from rag.errors import ModelNotAvailable

Message = dict[str, str]  # the chat-completion wire format: {"role": ..., "content": ...}


SCORE_CTX = 1024  # the scorer's window: a passage of up to 700 characters, the instruction and the question


class LlamaGenerator:
    def __init__(self, model_path: str | Path, *, n_ctx: int = 4096, n_threads: int = 0) -> None:
        self.model_path = Path(model_path)
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self._llama = None
        self._scorer = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.model_path.name

    def _load(self, n_ctx: int, **options):
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ModelNotAvailable("llama-cpp-python is not installed: run `make setup`") from exc
        if not self.model_path.is_file():
            raise ModelNotAvailable(f"GGUF model not found at {self.model_path}")
        # llama.cpp's own default is half the cores, which halves prompt speed on a 2-core laptop.
        threads = self.n_threads or os.cpu_count() or 1
        return Llama(model_path=str(self.model_path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                     verbose=False, **options)

    def _model(self):
        if self._llama is None:
            self._llama = self._load(self.n_ctx)
        return self._llama

    def log_likelihood(self, messages: list[Message], reply: str, *, lead: str = "") -> float | None:
        """Mean log-probability per token of `reply`, ended by the end-of-turn token, as the assistant's turn
        after `messages` (and `lead`, which is not scored). None when it does not fit the scorer's window.
        A second model instance computes it: one that keeps every position's logits, which generation need
        not pay for. The weights are memory-mapped, so both share them."""
        import numpy as np

        with self._lock:
            if self._scorer is None:
                llama = self._load(SCORE_CTX, logits_all=True)
                self._scorer = llama, _chat_format(llama)
            llama, chat_format = self._scorer
            context = llama.tokenize((chat_format(messages) + lead).encode("utf-8"), add_bos=False, special=True)
            scored = llama.tokenize(reply.encode("utf-8"), add_bos=False, special=False)
            scored += [llama.token_eos()] if llama.token_eos() >= 0 else []
            if len(context) + len(scored) > SCORE_CTX:
                return None
            llama.reset()
            llama.eval(context + scored)
            logits = np.asarray(llama.scores[len(context) - 1:len(context) + len(scored) - 1], dtype=np.float64)
            top = logits.max(axis=1, keepdims=True)
            log_norm = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
            return float((logits[np.arange(len(scored)), scored] - log_norm).mean())

    def count_tokens(self, text: str) -> int:
        return len(self._model().tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream(self, messages: list[Message], *, temperature: float = 0.1, top_p: float = 0.9,
               max_tokens: int = 512, seed: int | None = None) -> Iterator[str]:
        with self._lock:
            llama = self._model()
            for part in llama.create_chat_completion(messages=messages, stream=True, temperature=temperature,
                                                     top_p=top_p, max_tokens=max_tokens, seed=seed):
                piece = part["choices"][0]["delta"].get("content")
                if piece:
                    yield piece


def _chat_format(llama) -> Callable[[list[Message]], str]:
    """The model's own chat template, rendered up to the assistant's turn and compiled once."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        return lambda messages: "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "
    eos, bos = (llama.detokenize([t], special=True).decode("utf-8", "replace") if t >= 0 else ""
                for t in (llama.token_eos(), llama.token_bos()))
    formatter = Jinja2ChatFormatter(template, eos, bos)
    return lambda messages: formatter(messages=messages).prompt
