"""Process-wide resources for the UI: one `KnowledgeBase` per KB directory, and the locks that guard them.

Streamlit runs every browser session in its own thread and re-executes the page script on each interaction,
so anything heavy lives in `st.cache_resource` and is shared by all sessions. A knowledge base is opened
lazily by the facade, so building one here costs nothing until it is used. Generation is serialised with a
single lock for the whole process: two answers at once on a laptop CPU would each take twice as long, and the
other session sees "waiting" instead of a frozen page.

Tests replace `kb_factory` to inject the fake embedder and fake LLM; the rest of the app never builds a
`KnowledgeBase` itself.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from pathlib import Path

import streamlit as st

from rag.api import KnowledgeBase
from rag.settings import Settings
from rag.store import layout

DATA_DIR = Path("data")  # relative to the working directory, like the default KB `data/index`
KBS_DIR = DATA_DIR / "kbs"  # knowledge bases created from the UI


def load_settings() -> Settings:
    """Defaults, then rag.toml, then RAG_* variables (`rag ui --kb DIR` passes RAG_KB)."""
    return Settings.load()


def kb_factory(path: Path, settings: Settings) -> KnowledgeBase:
    """Build the facade for one KB directory. Tests patch this to use fake models."""
    return KnowledgeBase(path, settings)


def get_kb(path: str) -> KnowledgeBase:
    """The shared facade for a KB directory; `data/index` and its absolute path are the same KB."""
    return _cached_kb(str(Path(path).expanduser().resolve()))


@st.cache_resource(show_spinner=False)
def _cached_kb(path: str) -> KnowledgeBase:
    return kb_factory(Path(path), load_settings().replace(kb=path))


@st.cache_resource(show_spinner=False)
def llm_lock() -> threading.Lock:
    """Held while a question is answered, across all sessions and knowledge bases."""
    return threading.Lock()


@st.cache_resource(show_spinner=False)
def write_lock(path: str) -> threading.Lock:
    """Held while one KB ingests or deletes, so two tabs do not race for its write lock."""
    return threading.Lock()


def known_kbs(default: str) -> list[str]:
    """The default KB, every directory under data/ holding a config.json, and every directory in data/kbs/."""
    found = [str(Path(default))]
    if DATA_DIR.is_dir():
        found += [str(d) for d in sorted(DATA_DIR.iterdir()) if layout.has_config(d)]
    if KBS_DIR.is_dir():
        found += [str(d) for d in sorted(KBS_DIR.iterdir()) if d.is_dir() and not d.name.startswith(".")]
    unique: dict[Path, str] = {}  # `data/index` and its absolute path are one KB; the first spelling is shown
    for path in found:
        unique.setdefault(Path(path).expanduser().resolve(), path)
    return list(unique.values())


_UNSAFE = re.compile(r"[^\w\s.()\[\]（）【】+,，、·~-]")


def clean_name(raw: str, *, limit: int = 120) -> str:
    """A safe single path component: the base name only, no control or shell/HTML characters, CJK kept.

    Leading dots go (no hidden files, no `..`); too long a name is cut but keeps its suffix.
    """
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"\s+", " ", _UNSAFE.sub("_", name)).strip(" .")
    name = name.lstrip(".-~ ")
    if len(name) > limit:
        stem, dot, suffix = name.rpartition(".")
        name = stem[: limit - len(suffix) - 1] + dot + suffix if dot and len(suffix) < 10 else name[:limit]
    return name


def new_kb_path(raw_name: str) -> Path:
    """Where a KB created from the UI lives: data/kbs/NAME. ValueError when nothing usable is left."""
    name = clean_name(raw_name, limit=60).replace(" ", "-").replace(".", "-")
    if not name:
        raise ValueError("Give the new knowledge base a name: letters, digits, Chinese characters, '-' or '_'.")
    return KBS_DIR / name
