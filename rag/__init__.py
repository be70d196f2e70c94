"""Offline knowledge base: `KnowledgeBase` is the one entry point.

Attributes are resolved lazily so that `import rag` loads no model and no heavy library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["KnowledgeBase", "Settings", "Answer", "Citation", "Hit", "Document", "IngestReport", "RagError"]

if TYPE_CHECKING:
    from rag.api import KnowledgeBase
    from rag.errors import RagError
    from rag.settings import Settings
    from rag.types import Answer, Citation, Document, Hit, IngestReport


def __getattr__(name: str) -> Any:
    if name == "KnowledgeBase":
        from rag.api import KnowledgeBase
        return KnowledgeBase
    if name == "Settings":
        from rag.settings import Settings
        return Settings
    if name == "RagError":
        from rag.errors import RagError
        return RagError
    if name in {"Answer", "Citation", "Hit", "Document", "IngestReport"}:
        from rag import types
        return getattr(types, name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
