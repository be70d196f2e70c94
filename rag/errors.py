"""One small exception tree. Every message says what the user can do about it."""

# The root and the loaders' errors live in ingest, below rag in the import graph; re-exported so that
# `from rag.errors import LoaderError` names the very same class.
from ingest.errors import FileTooLarge, LoaderError, LoaderWarning, PasswordRequired, RagError, UnsupportedFormat

__all__ = [
    "ConfigError", "EmbeddingMismatch", "FileTooLarge", "KBLocked", "KBNotFound", "LLMCannotRun", "LLMFailed",
    "LoaderError", "LoaderWarning", "ModelNotAvailable", "PasswordRequired", "PromptTooLong", "RagError",
    "ServerError", "UnsupportedFormat",
]


class ConfigError(RagError):
    """Settings or a configured model path are wrong."""


class ModelNotAvailable(RagError):
    """A model is not installed or cannot be loaded."""


class LLMFailed(ModelNotAvailable):
    """The LLM is installed but cannot answer: it crashes on this machine, or its server fails. The message
    says what to do, and search still works."""


class LLMCannotRun(LLMFailed):
    """The in-process LLM crashed on this machine in its health check, whatever layout was tried."""


class KBNotFound(RagError):
    """The directory holds no knowledge base."""


class KBLocked(RagError):
    """Another process is writing to the knowledge base."""


class EmbeddingMismatch(RagError):
    """The knowledge base was built with another embedding model."""


class PromptTooLong(RagError):
    """The prompt does not fit the model's context window."""


class ServerError(LLMFailed):
    """The LLM server is unreachable, too slow, or answered with something other than an OpenAI completion.
    A `ModelNotAvailable`, so search goes on without re-ranking while the server is down."""
