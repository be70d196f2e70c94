"""The in-process backend: a GGUF run by llama-cpp-python, on the CPU path `health` found to work here.

The model loads on first use, never in the constructor, and only after the health check has run it in a
child process: a CPU path that faults would otherwise take the whole program (the web UI with it) down.
One lock serialises generation and scoring, because a `Llama` object is not safe to drive from two threads
(two browser tabs).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

from rag.errors import LLMCannotRun, ModelNotAvailable
from rag.models import Message, Pieces
from rag.models.llm import health
from rag.types import LLMStatus

SCORE_CTX = 1024  # the scorer's window: a passage of up to 700 characters, the instruction and the question
_PARAMS_LOCK = threading.Lock()


@contextlib.contextmanager
def extra_buffer_types(enabled: bool):
    """Load models with llama.cpp's extra buffer types (its repacked weight layouts: AMX, AVX2/AVX-512
    repack) on or off. llama-cpp-python's `Llama` has no argument for `use_extra_bufts`; it fills its model
    parameters from `llama_model_default_params()` inside the constructor, so while `enabled` is False that
    function returns the defaults with the flag cleared. On is llama.cpp's default and changes nothing."""
    if enabled:
        yield
        return
    import llama_cpp.llama_cpp as lib

    with _PARAMS_LOCK:
        original = lib.llama_model_default_params

        def defaults():
            params = original()
            params.use_extra_bufts = False
            return params

        lib.llama_model_default_params = defaults
        try:
            yield
        finally:
            lib.llama_model_default_params = original


class LlamaGenerator:
    def __init__(self, model_path: str | Path, *, n_ctx: int = 4096, n_threads: int = 0, repack: str = "auto",
                 gpu_layers: str = "auto", cache_dir: str | Path | None = None) -> None:
        self.model_path = Path(model_path)
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.repack, self.gpu_layers = repack, gpu_layers
        self.cache_dir = Path(cache_dir) if cache_dir else self.model_path.parent
        self._verdict: health.Verdict | None = None
        self._llama = None
        self._scorer = None
        self._lock = threading.Lock()
        self._load_lock = threading.RLock()  # the health check and the first load, once

    @property
    def name(self) -> str:
        return self.model_path.name

    def runtime(self, *, fresh: bool = False) -> health.Verdict:
        """How this machine runs the model, checked in a child process once and then read from the cache;
        `fresh` checks again (`rag setup`, `rag doctor`)."""
        with self._load_lock:
            if self._verdict is None or fresh:
                if not self.model_path.is_file():
                    raise ModelNotAvailable(f"GGUF model not found at {self.model_path}")
                if not _llama_cpp_installed():
                    raise ModelNotAvailable("llama-cpp-python is not installed: run `make setup`")
                self._verdict = health.check(self.model_path, self.cache_dir, repack=self.repack,
                                             gpu_layers=self.gpu_layers, threads=self.n_threads, fresh=fresh)
            return self._verdict

    def status(self, *, check: bool = False) -> LLMStatus:
        verdict = self.runtime() if check else self._verdict or health.recorded(
            self.model_path, self.cache_dir, repack=self.repack, gpu_layers=self.gpu_layers, threads=self.n_threads)
        if verdict is None:
            return LLMStatus("llama_cpp", self.name, "in this process (not checked yet)", reranking=True)
        if not verdict.ok:
            return LLMStatus("llama_cpp", self.name, "in this process", reranking=False,
                             problem=health.failure_message(verdict), rerank_note="re-ranking is off: no LLM runs")
        return LLMStatus("llama_cpp", self.name, f"in this process: {verdict.trial.label}", reranking=True)

    def _load(self, n_ctx: int, **options):
        verdict = self.runtime()
        if not verdict.ok:
            raise LLMCannotRun(health.failure_message(verdict))
        from llama_cpp import Llama

        # llama.cpp's own default is half the cores, which halves prompt speed on a 2-core laptop.
        threads = self.n_threads or os.cpu_count() or 1
        with extra_buffer_types(verdict.trial.repack):
            return Llama(model_path=str(self.model_path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                         n_gpu_layers=verdict.trial.gpu_layers, verbose=False, **options)

    def _model(self):
        with self._load_lock:
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
                self._scorer = llama, chat_format(llama)
            llama, render = self._scorer
            context = llama.tokenize((render(messages) + lead).encode("utf-8"), add_bos=False, special=True)
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
               max_tokens: int = 512, seed: int | None = None) -> Pieces:
        with self._lock:
            llama = self._model()
            for part in llama.create_chat_completion(messages=messages, stream=True, temperature=temperature,
                                                     top_p=top_p, max_tokens=max_tokens, seed=seed):
                piece = part["choices"][0]["delta"].get("content")
                if piece:
                    yield piece


def _llama_cpp_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None


def chat_format(llama) -> Callable[[list[Message]], str]:
    """The model's own chat template, rendered up to the assistant's turn and compiled once."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        return lambda messages: "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "
    eos, bos = (llama.detokenize([t], special=True).decode("utf-8", "replace") if t >= 0 else ""
                for t in (llama.token_eos(), llama.token_bos()))
    formatter = Jinja2ChatFormatter(template, eos, bos)
    return lambda messages: formatter(messages=messages).prompt
