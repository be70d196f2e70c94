"""What the `rag` commands share: the --kb option, opening a KB, and library errors as exit code 2."""

from __future__ import annotations

import functools

import click

from rag.errors import RagError
from rag.settings import Settings


class UsageError(click.ClickException):
    exit_code = 2


def kb_option(fn):
    @click.option("--kb", "kb_dir", metavar="DIR", default=None,
                  help="Knowledge-base directory (default: $RAG_KB or data/index).")
    @functools.wraps(fn)
    def wrapper(*args, kb_dir, **kwargs):
        return fn(*args, kb_dir=kb_dir, **kwargs)
    return wrapper


def open_kb(kb_dir: str | None, *, create: bool = False, **overrides):
    from rag.api import KnowledgeBase

    try:
        settings = Settings.load(kb=kb_dir, **overrides)
        kb = KnowledgeBase(settings.kb, settings, create=create)
    except RagError as exc:
        raise UsageError(str(exc)) from exc
    kb.on_wait = tell_waiting
    return kb


def tell_waiting(holder, waited: float) -> None:
    """While a write waits for another one to finish (`lock_timeout` bounds the wait)."""
    click.echo(f"waiting for {holder.describe()}; waited {waited:.0f} s so far", err=True)


def printable(text: str) -> str:
    """A file name on one line: control characters (a newline in a name) shown escaped, as Python would."""
    return text if text.isprintable() else repr(text)[1:-1]


def errors_to_exit(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except RagError as exc:
            raise UsageError(str(exc)) from exc
    return wrapper
