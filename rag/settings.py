"""One typed settings object: defaults, then a TOML file, then `RAG_*` environment variables, then arguments.

The TOML file is `rag.toml` in the working directory, or the path in `RAG_CONFIG`. Keys are the field names
below, at the top level. Environment variables are the upper-cased field names with a `RAG_` prefix
(`RAG_TOP_K=8`). Nothing is read at import time: call `Settings.load()`.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tomllib

from rag.errors import ConfigError


def _default_cache() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "rag-kb")


@dataclass
class Settings:
    kb: str = field(default="data/index", metadata={"help": "Knowledge-base directory."})
    cache_dir: str = field(default_factory=_default_cache, metadata={"help": "Where converted models are kept."})

    embedding_model: str = field(
        default="multilingual-e5-small",
        metadata={"help": "'multilingual-e5-small' (bundled, reads Chinese), 'all-MiniLM-L6-v2' (bundled, "
                          "English only), or any sentence-transformers name or path."},
    )
    embed_batch_size: int = field(default=32, metadata={"help": "Texts per embedding batch.", "min": 1})

    chunk_size: int = field(default=160, metadata={"help": "Chunk size in embedding-model tokens.", "min": 16})
    chunk_overlap: int = field(default=32, metadata={"help": "Overlap between chunks, in tokens.", "min": 0})

    llm_model: str = field(
        default="qwen2.5-coder-1.5b",
        metadata={"help": "'qwen2.5-coder-1.5b' (bundled default), 'qwen2.5-coder-0.5b', 'smollm2-135m', "
                          "or a path to any .gguf file; with llm_backend = 'openai', the server's name for "
                          "its model."},
    )
    llm_backend: str = field(
        default="llama_cpp",
        metadata={"help": "'llama_cpp' runs the GGUF in this process; 'openai' asks an OpenAI-compatible server "
                          "(llama.cpp's server, vLLM, Ollama, LM Studio) at llm_base_url, for the model named "
                          "llm_model.", "choices": ("llama_cpp", "openai")},
    )
    llm_base_url: str = field(
        default="", metadata={"help": "The server's API root when llm_backend is 'openai', for example "
                                      "http://127.0.0.1:8000/v1 (Ollama: http://127.0.0.1:11434/v1)."})
    llm_api_key: str = field(
        default="", repr=False,
        metadata={"help": "API key for the server; read from RAG_LLM_API_KEY, else OPENAI_API_KEY. Local "
                          "servers need none."})
    llm_timeout: float = field(
        default=120.0, metadata={"help": "Seconds to wait for the server's next piece of an answer before "
                                         "giving up.", "min": 1.0})
    llm_retries: int = field(
        default=2, metadata={"help": "Retries when the server cannot be reached, before any text arrives.",
                             "min": 0, "max": 10})
    llm_repack: str = field(
        default="auto",
        metadata={"help": "llama.cpp's repacked weight layouts (AMX, AVX2/AVX-512 repack): 'auto' runs the model "
                          "in a child process first and keeps the faster layout that does not crash; 'on' or "
                          "'off' forces it.", "choices": ("auto", "on", "off")},
    )
    n_gpu_layers: str = field(
        default="auto",
        metadata={"help": "Layers offloaded to the GPU by a GPU build of llama-cpp-python (CUDA, Metal, Vulkan): "
                          "'auto' offloads all of them when the build has a GPU and the health check passes, "
                          "otherwise none; a number sets it; -1 means all."},
    )
    n_ctx: int = field(default=4096, metadata={"help": "LLM context window in tokens.", "min": 512})
    n_threads: int = field(default=0, metadata={"help": "LLM threads; 0 means one per core.", "min": 0})
    temperature: float = field(default=0.1, metadata={"help": "Sampling temperature.", "min": 0.0, "max": 2.0})
    top_p: float = field(default=0.9, metadata={"help": "Nucleus sampling mass.", "min": 0.0, "max": 1.0})
    max_tokens: int = field(default=512, metadata={"help": "Longest answer, in tokens.", "min": 16})
    seed: int = field(default=0, metadata={"help": "Sampling seed, so the same question over the same passages "
                                                   "gets the same answer; -1 draws a new one each time.",
                                           "min": -1})

    top_k: int = field(default=5, metadata={"help": "Passages put into the prompt.", "min": 1})
    candidates: int = field(default=50, metadata={"help": "Candidates each ranker returns before fusion.", "min": 1})
    rerank_depth: int = field(
        default=2,
        metadata={"help": "Top hits re-ordered by how likely the LLM finds the question after each (about 2 s "
                          "a hit on 2 cores); 0 or 1 turns re-ranking off.", "min": 0},
    )
    relevance_floor: float = field(
        default=0.75,
        metadata={"help": "Below this dense similarity, and with no keyword match, a passage counts as not "
                          "relevant; when no passage clears it the KB says it has no answer.", "min": -1.0,
                  "max": 1.0},
    )

    workers: int = field(default=0, metadata={"help": "Parse workers; 0 means one per core.", "min": 0})
    file_timeout: float = field(
        default=600.0,
        metadata={"help": "Seconds one file may take, parsing and embedding together. A file that runs out keeps "
                          "the chunks it committed, and the next ingest goes on from there.", "min": 1.0})
    lock_timeout: float = field(
        default=600.0,
        metadata={"help": "Seconds a write (ingest, delete, rebuild, import) waits for another one to finish "
                          "before giving up.", "min": 0.0})
    follow_symlinks: bool = field(
        default=False, metadata={"help": "Ingest files that symlinks inside an ingested folder point to outside "
                                         "it (by default they are skipped with a warning)."})

    # Bounds on what one file may cost. A file over a bound fails by name, or is cut with a warning where the
    # format allows (rows of a table, characters of a text).
    max_file_chars: int = field(
        default=5_000_000, metadata={"help": "Characters read from one file; the rest is cut with a warning.",
                                     "min": 1000})
    max_rows: int = field(
        default=100_000, metadata={"help": "Rows read from one sheet or CSV file; the rest are cut with a warning.",
                                   "min": 1})
    max_cells: int = field(
        default=2_000_000, metadata={"help": "Cells read from one sheet or CSV file; the rest are cut with a "
                                             "warning.", "min": 1})
    max_unzipped_mb: int = field(
        default=256, metadata={"help": "Largest part of a .docx or .xlsx (a zip archive) once decompressed, in "
                                       "MB.", "min": 1})
    max_zip_ratio: int = field(
        default=100, metadata={"help": "Largest decompressed-to-compressed size ratio of a part of a .docx or "
                                       ".xlsx; zip bombs go far beyond it.", "min": 2})
    worker_memory_mb: int = field(
        default=4096, metadata={"help": "Address space one parse worker may use, in MB; 0 means no limit.",
                                "min": 0})

    max_upload_mb: int = field(default=200, metadata={"help": "Largest upload the UI accepts, in MB.", "min": 1})
    max_session_uploads: int = field(
        default=50, metadata={"help": "Files one browser session may upload.", "min": 0})
    max_session_upload_mb: int = field(
        default=1000, metadata={"help": "MB one browser session may upload in all.", "min": 0})
    ui_password_hash: str = field(
        default="", repr=False,
        metadata={"help": "Argon2 hash of the web UI's password (`rag password` prints one). Empty: no password; "
                          "then a UI bound to anything but localhost asks for a token printed at start."})
    ui_read_only: bool = field(
        default=False, metadata={"help": "The web UI only answers: no uploads, deletes, rebuilds or new KBs."})

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            lo, hi = f.metadata.get("min"), f.metadata.get("max")
            if lo is not None and value < lo or hi is not None and value > hi:
                raise ConfigError(f"setting {f.name}={value!r} is out of range [{lo}, {hi}]")
            choices = f.metadata.get("choices")
            if choices and value not in choices:
                raise ConfigError(f"setting {f.name}={value!r} must be one of: {', '.join(choices)}")
        if self.n_gpu_layers != "auto" and not re.fullmatch(r"-?\d+", self.n_gpu_layers.strip()):
            raise ConfigError(f"setting n_gpu_layers={self.n_gpu_layers!r} must be 'auto' or a number of layers "
                              "(-1 for all)")
        if self.llm_backend == "openai" and not self.llm_base_url:
            raise ConfigError("llm_backend = 'openai' needs llm_base_url, the server's API root, for example "
                              "http://127.0.0.1:8000/v1")
        if self.chunk_overlap >= self.chunk_size:
            raise ConfigError("chunk_overlap must be less than chunk_size")

    @classmethod
    def load(cls, config_file: str | os.PathLike[str] | None = None, **overrides: Any) -> "Settings":
        values: dict[str, Any] = {}
        path = config_file or os.environ.get("RAG_CONFIG") or ("rag.toml" if Path("rag.toml").is_file() else None)
        if path:
            try:
                values.update(tomllib.loads(Path(path).read_text(encoding="utf-8")))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"cannot read settings file {path}: {exc}") from exc
        types = {f.name: f.type for f in fields(cls)}
        for name in types:
            env = os.environ.get(f"RAG_{name.upper()}")
            if env is not None:
                values[name] = env
        # The key other OpenAI clients read is the fallback, so an existing setup works unchanged.
        if "llm_api_key" not in values and os.environ.get("OPENAI_API_KEY"):
            values["llm_api_key"] = os.environ["OPENAI_API_KEY"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - set(types)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}; known: {', '.join(types)}")
        converters = {"int": int, "float": float, "str": str, "bool": _boolean}
        try:
            typed = {k: converters[types[k]](v) for k, v in values.items()}
        except ValueError as exc:
            raise ConfigError(f"bad setting value: {exc}") from exc
        return cls(**typed)

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{value!r} is not a boolean (true or false)")
