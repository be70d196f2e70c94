"""`rag doctor`: what this machine has, and whether each part can work here, one verdict a part.

Each part is tried for real: the embedding model embeds a sentence, the in-process LLM runs in child
processes (`rag.models.llm.health`, afresh), a server is asked for its models, its tokenizer and a score. Nothing
heavy runs in this process before the child has shown that it survives it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import RagError
from rag.settings import Settings

OK, WARN, FAIL = "ok", "warning", "FAIL"


@dataclass
class Part:
    name: str
    state: str  # OK, WARN or FAIL
    verdict: str  # one line
    details: list[str] = field(default_factory=list)


def examine(settings: Settings, *, kb: str | None = None) -> Iterator[Part]:
    """The parts in order; each is yielded as soon as it has been tried, so the slow ones show progress."""
    from rag.models.llm.health import cpu_description

    cpu, flags = cpu_description()
    yield Part("CPU", OK, cpu, [f"features: {' '.join(flags) or 'none of note'}"])
    yield _embedding(settings)
    yield _llm_server(settings) if settings.llm_backend == "openai" else _llm_in_process(settings)
    yield _knowledge_base(settings, kb)


def _embedding(settings: Settings) -> Part:
    from rag.models.bundled import embedding_model_id, resolve_embedding_model
    from rag.models.embedder import SentenceTransformerEmbedder

    path = None
    try:
        path = resolve_embedding_model(settings.embedding_model, Path(settings.cache_dir))
        embedder = SentenceTransformerEmbedder(path, model_id=embedding_model_id(settings.embedding_model))
        vector = embedder.embed(["温度参数有什么作用？"], query=True)
    except Exception as exc:  # a doctor reports whatever breaks, whatever its type
        return Part("embedding model", FAIL, f"{settings.embedding_model} cannot embed: {exc}",
                    [f"path: {path}"] if path else [])
    return Part("embedding model", OK, f"{settings.embedding_model} embeds ({vector.shape[1]} dimensions)",
                [f"path: {path}"])


def _llm_in_process(settings: Settings) -> Part:
    from rag.api import KnowledgeBase
    from rag.models.llm import health

    name = "LLM (llama_cpp, in this process)"
    with KnowledgeBase(settings.kb, settings) as kb:
        try:
            generator = kb.generator
            verdict = generator.runtime(fresh=True)
        except RagError as exc:
            return Part(name, FAIL, str(exc))
        status = kb.llm_status()  # from the verdict just taken
    path = generator.model_path
    details = [f"model: {path}", f"llama.cpp build: {verdict.system_info or 'unknown (the child died first)'}",
               f"settings: llm_repack = {settings.llm_repack!r}, n_gpu_layers = {settings.n_gpu_layers!r}"]
    for trial in verdict.trials:
        details.append(trial.summary())
        if not trial.ok:
            details += [f"    {line}" for line in trial.log.splitlines()[-5:]]
    if not verdict.ok:
        return Part(name, FAIL, health.failure_message(verdict), details)
    rerank = "re-ranking on" if status.reranking else status.rerank_note
    return Part(name, OK, f"{path.name} answers on {verdict.reason}; {rerank}", details)


def _llm_server(settings: Settings) -> Part:
    from rag.api import KnowledgeBase

    name = "LLM (openai, a server)"
    with KnowledgeBase(settings.kb, settings) as kb:
        status = kb.llm_status(check=True)
        counting = kb.generator.token_counting
    details = [f"server: {settings.llm_base_url}", f"model: {settings.llm_model}", f"token counts: {counting}",
               f"api key: {'set' if settings.llm_api_key else 'none'}"]
    if status.problem:
        return Part(name, FAIL, status.problem, details)
    if not status.reranking:
        return Part(name, WARN, f"{settings.llm_model} answers; {status.rerank_note}", details)
    return Part(name, OK, f"{settings.llm_model} answers; re-ranking on", details)


def _knowledge_base(settings: Settings, kb: str | None) -> Part:
    from rag.api import KnowledgeBase
    from rag.store.store import Store

    path = Path(kb or settings.kb).expanduser()
    if not Store.exists(path):
        return Part("knowledge base", WARN, f"none at {path} yet: create one with `rag ingest PATH --kb {path}`")
    try:
        with KnowledgeBase(path, settings, create=False) as base:
            documents = base.documents()
    except RagError as exc:
        return Part("knowledge base", FAIL, f"{path}: {exc}")
    chunks = sum(d.chunks for d in documents)
    return Part("knowledge base", OK, f"{path}: {len(documents)} documents, {chunks} chunks")
