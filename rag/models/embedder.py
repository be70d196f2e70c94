"""The dense embedder: any sentence-transformers model, loaded on first use, always on the CPU.

`embed()` is the one method the pipeline needs. The others exist because the rest of the pipeline measures text in
this model's tokens: the chunker counts chunk size in them (`count_tokens`, `tokenize_offsets`, `tokenizer_file`
for worker processes), and the retriever weights dense scores by how much of a query the model can read at all
(`unk_rate`: MiniLM maps 77% of Chinese characters to [UNK], e5 almost none).

Prompts: e5 wants "query: " / "passage: " prefixes and declares them in its sentence-transformers config; other
models declare none (or empty ones). We pass a prompt name only when the model defines a non-empty prompt under
it, so one class serves e5, MiniLM, bge and whatever a user with internet configures.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from rag.errors import ConfigError, ModelNotAvailable

_PROMPTS = {True: ("query",), False: ("passage", "document")}  # looked up in this order


class SentenceTransformerEmbedder:
    def __init__(self, model_name_or_path: str, *, batch_size: int = 32, model_id: str | None = None) -> None:
        """Stores the parameters only. `model_id` is what a knowledge base records (default: the name given),
        so a cache path that differs between machines does not look like another model."""
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        self.model_name_or_path = str(model_name_or_path)
        self.batch_size = batch_size
        self._model_id = model_id or self.model_name_or_path
        self._model = None
        self._tokenizer = None  # a `tokenizers.Tokenizer` without truncation or padding, or None for slow ones
        self._lock = threading.Lock()

    # -- loading ----------------------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Load the model now instead of on first use (for example before a progress bar starts)."""
        self._load()

    def _load(self):
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                try:
                    from sentence_transformers import SentenceTransformer
                    from transformers.utils import logging as hf_logging

                    hf_logging.disable_progress_bar()  # a "Loading weights" bar on every start is noise
                    model = SentenceTransformer(self.model_name_or_path, device="cpu")
                except (OSError, ValueError, RuntimeError) as exc:
                    raise ModelNotAvailable(
                        f"cannot load embedding model {self.model_name_or_path!r}: {exc}. Check the name or path; "
                        "without internet only the bundled 'multilingual-e5-small' and 'all-MiniLM-L6-v2' work"
                    ) from exc
                backend = getattr(model.tokenizer, "backend_tokenizer", None)
                if backend is not None:
                    from tokenizers import Tokenizer

                    # A private copy: tokenizer.json files often carry truncation or fixed padding (MiniLM: 128),
                    # which would cap every count and offset list.
                    backend = Tokenizer.from_str(backend.to_str())
                    backend.no_truncation()
                    backend.no_padding()
                self._tokenizer = backend
                self._model = model
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    # -- identity ---------------------------------------------------------------------------------------
    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dim(self) -> int:
        model = self._load()
        get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get())

    @property
    def tokenizer_file(self) -> str | None:
        """tokenizer.json of a local model directory, for chunking in worker processes; None for hub names."""
        path = Path(self.model_name_or_path) / "tokenizer.json"
        return str(path) if path.is_file() else None

    # -- embedding --------------------------------------------------------------------------------------
    def _prompt_name(self, query: bool) -> str | None:
        prompts = getattr(self._load(), "prompts", None) or {}
        return next((name for name in _PROMPTS[query] if prompts.get(name)), None)

    def embed(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        """float32, L2-normalised, shape (len(texts), dim), rows in the order of `texts`."""
        model = self._load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Longest first, so each batch pads to similar lengths; sentence-transformers sorts too, but only
        # within one call, and callers may hand us any order.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors = model.encode([texts[i] for i in order], prompt_name=self._prompt_name(query),
                               batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                               show_progress_bar=False)
        out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
        out[order] = vectors
        return out

    # -- tokens -----------------------------------------------------------------------------------------
    def _encode(self, text: str):
        self._load()
        if self._tokenizer is None:
            raise ModelNotAvailable(f"{self.model_name_or_path!r} has no fast tokenizer, so token offsets are "
                                    "not available; use a model with a tokenizer.json")
        return self._tokenizer.encode(text, add_special_tokens=False)

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for `text`, without special tokens or prompt."""
        self._load()
        if self._tokenizer is None:  # a slow tokenizer: no offsets, but it can still count
            return len(self._model.tokenizer.encode(text, add_special_tokens=False))
        return len(self._encode(text).ids)

    def tokenize_offsets(self, text: str) -> list[tuple[int, int]]:
        """(start, end) character offsets in `text` of each token, without special tokens."""
        return [(int(a), int(b)) for a, b in self._encode(text).offsets]

    def unk_rate(self, text: str) -> float:
        """Share of the non-space characters of `text` that the model can only see as an unknown token."""
        visible = sum(1 for ch in text if not ch.isspace())
        if not visible:
            return 0.0
        enc = self._encode(text)
        unk_id = self._tokenizer.token_to_id(self._model.tokenizer.unk_token or "") if self._tokenizer else None
        if unk_id is None:
            return 0.0
        covered = set()  # fused or overlapping unknown spans must not count a character twice
        for tid, (a, b) in zip(enc.ids, enc.offsets):
            if tid == unk_id:
                covered.update(i for i in range(a, b) if not text[i].isspace())
        return len(covered) / visible
