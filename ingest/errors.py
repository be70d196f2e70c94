"""The errors a file can raise while it is read, and the root of the project's exception tree.

Imports flow one way, `rag` -> `ingest`, so these live here and `rag.errors` re-exports them: a loader's
error is a `RagError` to the CLI and the UI without `ingest` importing `rag`.
"""


class RagError(Exception):
    """Base class: the CLI and the UI show `str(error)` to the user, never a traceback.

    It lives at the bottom of the import graph, in `ingest`, so that a loader's error is a `RagError`
    without `ingest` importing `rag`; `rag.errors` re-exports it with the rest of the tree.
    """


class LoaderError(RagError):
    """A file could not be read. Ingest reports it by name and goes on with the rest."""


class UnsupportedFormat(LoaderError):
    """No loader handles this file type."""


class PasswordRequired(LoaderError):
    """An encrypted PDF needs a password that we do not have."""


class FileTooLarge(LoaderError):
    """The file is over a bound that reading part of it cannot respect (a zip member that inflates too far)."""


class LoaderWarning(UserWarning):
    """A recoverable problem with one file; its message is shown in the ingest report."""
