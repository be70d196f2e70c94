"""The local LLM behind one narrow interface: `stream(messages, **sampling) -> Iterator[str]`.

`LlamaGenerator` wraps llama-cpp-python. The model loads on first use, never in the constructor, and one lock
serialises generation, because a `Llama` object is not safe to drive from two threads (two browser tabs).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

from rag.errors import ModelNotAvailable

Message = dict[str, str]  # the chat-completion wire format: {"role": ..., "content": ...}


class LlamaGenerator:
    def __init__(self, model_path: str | Path, *, n_ctx: int = 4096, n_threads: int = 0) -> None:
        self.model_path = Path(model_path)
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self._llama = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.model_path.name

    def _model(self):
        if self._llama is None:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise ModelNotAvailable("llama-cpp-python is not installed: run `make setup`") from exc
            if not self.model_path.is_file():
                raise ModelNotAvailable(f"GGUF model not found at {self.model_path}")
            # llama.cpp's own default is half the cores, which halves prompt speed on a 2-core laptop.
            threads = self.n_threads or os.cpu_count() or 1
            self._llama = Llama(model_path=str(self.model_path), n_ctx=self.n_ctx, n_threads=threads,
                                n_threads_batch=threads, verbose=False)
        return self._llama

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
