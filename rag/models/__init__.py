"""The models, behind three narrow interfaces. Real classes wrap sentence-transformers (`embedder`) and
llama.cpp or an OpenAI-compatible server (`llm`); tests pass in fakes that satisfy the same Protocols.

- `Embedder.embed(texts, query=...) -> ndarray` turns passages and questions into unit vectors.
- `Generator.stream(messages, **sampling)` writes an answer piece by piece; `count_tokens` fits the prompt.
- `Scorer.log_likelihood(messages, reply, lead=...)` scores a reply, which re-ranking uses.
"""

from __future__ import annotations

from collections.abc import Generator as _Generator
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from rag.types import LLMStatus

Message = dict[str, str]  # the chat-completion wire format: {"role": ..., "content": ...}
Pieces = _Generator[str, None, None]  # a generator, so a reader who stops early can close it and free the model


class Embedder(Protocol):
    model_id: str  # what a knowledge base records, to refuse mixing vectors of two models
    tokenizer_file: str | None  # the tokenizer chunking counts with; None: estimate from the characters

    @property
    def dim(self) -> int: ...

    @property
    def loaded(self) -> bool: ...  # False until the weights are in memory: `dim` would load them

    def embed(self, texts: list[str], *, query: bool = False) -> "np.ndarray": ...

    def unk_rate(self, text: str) -> float: ...  # share of the text the model cannot read ([UNK] tokens)


class Generator(Protocol):
    name: str

    def stream(self, messages: list[Message], *, temperature: float = 0.1, top_p: float = 0.9,
               max_tokens: int = 512, seed: int | None = None) -> Pieces: ...

    def count_tokens(self, text: str) -> int: ...


@runtime_checkable
class Scorer(Protocol):
    def log_likelihood(self, messages: list[Message], reply: str, *, lead: str = "") -> float | None: ...


@runtime_checkable
class Reporting(Protocol):
    """A model that can say which backend and model it runs, and what stops it (the sidebar, `rag doctor`)."""

    def status(self, *, check: bool = False) -> "LLMStatus": ...


@runtime_checkable
class Backend(Generator, Scorer, Reporting, Protocol):
    """What the facade builds from the settings: a generator that can also score, and say how it runs."""
