"""The LLM's two backends, behind the `Generator` and `Scorer` interfaces of `rag.models`.

`LlamaGenerator` (`llama.py`) runs a GGUF in this process with llama-cpp-python, after `health` has run it in
a child process on this CPU. `ServerGenerator` (`server.py`) asks an OpenAI-compatible server. Both load or
connect on first use, never in the constructor, and both say why when they cannot score.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rag.models import Backend, Message

if TYPE_CHECKING:
    from rag.settings import Settings

__all__ = ["Backend", "Message", "make_backend"]


def make_backend(settings: "Settings", *, progress: bool = True) -> Backend:
    """The backend the settings name. The bundled GGUF is joined and verified here, on first use."""
    if settings.llm_backend == "openai":
        from rag.models.llm.server import ServerGenerator

        return ServerGenerator(settings.llm_base_url, settings.llm_model, api_key=settings.llm_api_key,
                               timeout=settings.llm_timeout, retries=settings.llm_retries,
                               cache_dir=Path(settings.cache_dir))
    from rag.models.bundled import resolve_llm_model
    from rag.models.llm.llama import LlamaGenerator

    path = resolve_llm_model(settings.llm_model, Path(settings.cache_dir), progress=progress)
    return LlamaGenerator(path, n_ctx=settings.n_ctx, n_threads=settings.n_threads, repack=settings.llm_repack,
                          gpu_layers=settings.n_gpu_layers, cache_dir=Path(settings.cache_dir))
