"""`KnowledgeBase`: the one facade that the CLI, the web UI and embedding programs call.

It owns the settings, opens the index directory, and creates the embedder and the LLM lazily, so building
a `KnowledgeBase` costs nothing until it is used. The work itself is delegated: `Indexer` ingests,
`Retriever` searches, `rag.answer` turns the passages into a cited answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

from ingest.limits import Limits
from ingest.workers import ChunkSpec
from rag.answer.pipeline import AnswerStream, answer
from rag.errors import KBNotFound, RagError
from rag.language import Question
from rag.models import Embedder, Generator, Reporting, Scorer
from rag.retrieve.naming import NameIndex
from rag.retrieve.rerank import rerank
from rag.retrieve.retriever import Retriever
from rag.settings import Settings
from rag.store import layout
from rag.store.indexer import Indexer, Progress
from rag.store.lock import Waiting
from rag.store.store import SCHEMA_VERSION, KBConfig, Store
from rag.types import Answer, Document, Hit, IngestReport, LLMStatus


def _describe(paths: list) -> str:
    names = ", ".join(str(p) for p in paths[:2])
    return names + (f" and {len(paths) - 2} more" if len(paths) > 2 else "")


class KnowledgeBase:
    def __init__(self, path: str | Path | None = None, settings: Settings | None = None, *,
                 embedder: Embedder | None = None, generator: Generator | None = None, create: bool = True) -> None:
        self.settings = settings or Settings.load()
        self.path = Path(path or self.settings.kb).expanduser()
        if not create and not Store.exists(self.path):
            raise KBNotFound(f"no knowledge base at {self.path}; create one with `rag ingest PATH --kb {self.path}`")
        self._embedder, self._generator = embedder, generator
        self._store: Store | None = None
        self._names = NameIndex()  # outlives the per-search Retriever; keyed by store and generation
        self._checked = False
        self.on_wait: Waiting | None = None  # told whom a write waits for (the CLI prints it, the UI shows it)
        # The web UI calls one KnowledgeBase from several threads; without this, an ingest and a question
        # starting together could each load their own embedder or open the store twice.
        self._setup = threading.RLock()

    # -- lazy parts -------------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        with self._setup:
            return self._load_embedder()

    def _load_embedder(self):
        if self._embedder is None:
            from rag.models.bundled import embedding_model_id, resolve_embedding_model
            from rag.models.embedder import SentenceTransformerEmbedder

            name = resolve_embedding_model(self.settings.embedding_model, Path(self.settings.cache_dir))
            self._embedder = SentenceTransformerEmbedder(name, batch_size=self.settings.embed_batch_size,
                                                         model_id=embedding_model_id(self.settings.embedding_model))
        return self._embedder

    @property
    def generator(self) -> Generator:
        with self._setup:
            return self._load_generator()

    def _load_generator(self):
        if self._generator is None:
            from rag.models.llm import make_backend

            self._generator = make_backend(self.settings)
        return self._generator

    def llm_status(self, *, check: bool = False) -> LLMStatus:
        """Which backend and model answer, and whether search re-ranks. `check` runs what has not run yet:
        the in-process model's health check, or the server's model, tokenizer and scoring checks."""
        s = self.settings
        try:
            generator = self.generator
        except RagError as exc:
            return LLMStatus(s.llm_backend, s.llm_model, "", reranking=False, problem=str(exc),
                             rerank_note="re-ranking is off: no LLM")
        if isinstance(generator, Reporting):
            status = generator.status(check=check)
        else:  # a generator passed in, such as a test's fake
            scores = isinstance(generator, Scorer)
            status = LLMStatus("custom", generator.name, "passed in",
                               reranking=scores, rerank_note="" if scores else "it cannot score passages")
        if s.rerank_depth < 2 and status.reranking:
            status.reranking, status.rerank_note = False, "re-ranking is off: rerank_depth < 2"
        return status

    def _open(self, *, write: bool = False, embed: bool = True) -> Store | None:
        with self._setup:
            return self._open_store(write=write, embed=embed)

    def _open_store(self, *, write: bool, embed: bool) -> Store | None:
        if self._store is None:
            timeout = self.settings.lock_timeout
            if Store.exists(self.path):
                self._store = Store.open(self.path, lock_timeout=timeout)
            elif write:
                self._store = Store.create(self.path, self._new_config(), lock_timeout=timeout,
                                           on_wait=self.on_wait)
            else:
                return None
            self._store.on_wait = self.on_wait
        if embed and not self._checked:
            self._check_embedding(self._store)
        return self._store

    def _new_config(self) -> KBConfig:
        s = self.settings
        return KBConfig(schema_version=SCHEMA_VERSION, embedding_model=self.embedder.model_id, dim=self.embedder.dim,
                        chunk_size=s.chunk_size, chunk_overlap=s.chunk_overlap,
                        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def _check_embedding(self, store: Store) -> None:
        # The dimension needs the model loaded (seconds); re-ingesting an unchanged folder never loads it.
        embedder = self.embedder
        store.check_embedding(embedder.model_id, embedder.dim if embedder.loaded else None)
        self._checked = True

    def _indexer(self, store: Store) -> Indexer:
        spec = ChunkSpec(store.config.chunk_size, store.config.chunk_overlap,
                         self.embedder.tokenizer_file)
        s = self.settings
        return Indexer(store, self.embedder, spec, workers=s.workers, timeout=s.file_timeout,
                       batch_size=s.embed_batch_size, limits=Limits.from_settings(s),
                       follow_symlinks=s.follow_symlinks)

    # -- documents --------------------------------------------------------------------------------------
    def add(self, paths: Iterable[str | Path] | str | Path, progress: Progress | None = None) -> IngestReport:
        """Ingest files and folders. Unchanged files are skipped; changed ones replace their old chunks.
        Waits up to `lock_timeout` for another write to the KB to finish first."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        paths = list(paths)
        store = self._open(write=True, embed=False)
        with store.writer(doing=f"ingesting {_describe(paths)}"):
            # Checked under the lock: a rebuild we waited for may have changed the KB's embedding model.
            self._check_embedding(store)
            return self._indexer(store).add(paths, progress, skip=self.path.resolve())

    def remove(self, path: str | Path) -> bool:
        """Forget a document: its chunks, vectors and keyword entries. True if it was in the KB."""
        store = self._open(embed=False)
        if store is None:
            return False
        source = str(Path(path).expanduser().resolve())
        with store.writer(doing="removing a document"):
            removed = store.remove_document(source) or store.remove_document(str(path))
        return removed

    def documents(self) -> list[Document]:
        store = self._open(embed=False)
        return store.documents() if store else []

    def rebuild(self, progress: Progress | None = None) -> IngestReport:
        """Re-index every document with the current settings (after changing the embedding model).

        The new KB is built beside the old one, under the write lock, and replaces it in one atomic step
        (`Store.install`): killed at any moment, the KB is the old one or the new one. Documents whose file
        is gone keep their stored passages, embedded again."""
        store = self._open(embed=False)
        if store is None:
            raise KBNotFound(f"no knowledge base at {self.path} to rebuild; create one with "
                             f"`rag ingest PATH --kb {self.path}`")
        with store.writer(doing="rebuilding the knowledge base"):
            documents = store.documents()
            built = Store.create(layout.new_data_dir(self.path), self._new_config())
            try:
                indexer = self._indexer(built)
                present = [d.source for d in documents if Path(d.source).is_file()]
                report = indexer.add(present, progress, skip=self.path.resolve())
                indexer.carry_over(store, [d for d in documents if not Path(d.source).is_file()], report)
            except BaseException:
                built.close()  # its directory is garbage now, removed by the next writer
                raise
            store.install(built)
            self._checked = True
        return report

    # -- questions --------------------------------------------------------------------------------------
    def search(self, query: str, k: int | None = None, *, mode: str = "hybrid") -> list[Hit]:
        return self._search(Question.of(query), k or self.settings.top_k, mode)

    def _search(self, question: Question, k: int, mode: str = "hybrid") -> list[Hit]:
        store = self._open()
        if store is None:
            return []
        depth, likelihood = self.settings.rerank_depth, self._likelihood()
        retriever = Retriever(store, self.embedder, candidates=self.settings.candidates, mode=mode,
                              rerank=partial(rerank, likelihood=likelihood, depth=depth) if likelihood else None,
                              rerank_depth=depth, names=self._names)
        return retriever.search(question, k)

    def _likelihood(self):
        """The LLM's question likelihood for re-ranking, or None for a generator passed in that cannot score
        (a test's fake). The bundled model is resolved only when a search first scores with it; where it is
        not installed, `rerank` keeps the fused order and says why."""
        if self._generator is not None:
            return self._generator.log_likelihood if isinstance(self._generator, Scorer) else None
        return lambda *args, **kwargs: self.generator.log_likelihood(*args, **kwargs)

    def ask(self, question: str, **sampling) -> Answer:
        stream = self.stream_ask(question, **sampling)
        for _ in stream:
            pass
        return stream.answer

    def stream_ask(self, question: str, **sampling) -> AnswerStream:
        """Stream the answer. Sampling overrides: temperature, top_p, max_tokens, seed, top_k."""
        started = time.perf_counter()
        s = self.settings
        top_k = sampling.pop("top_k", None) or s.top_k
        options = {"temperature": s.temperature, "top_p": s.top_p, "max_tokens": s.max_tokens,
                   "seed": None if s.seed < 0 else s.seed, **sampling}
        asked = Question.of(question)
        hits = self._search(asked, top_k)
        return answer(asked, hits, model=lambda: self.generator, index=self._store, floor=s.relevance_floor,
                      n_ctx=s.n_ctx, options=options, started=started)

    # -- lifetime ---------------------------------------------------------------------------------------
    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> "KnowledgeBase":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
