"""Imports flow one way, `rag` -> `ingest`: parse workers import ingest alone, and a cycle would let either
half's import order break the other."""

from __future__ import annotations

import ast
from pathlib import Path

import ingest
import ingest.errors
import rag.errors

INGEST = Path(ingest.__file__).parent


def imported_modules(tree: ast.AST) -> list[str]:
    """Every absolute module an `import` or `from ... import` names, at any depth (lazy imports too)."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_no_ingest_module_imports_rag() -> None:
    offenders = [
        f"{path.relative_to(INGEST.parent)}: {name}"
        for path in sorted(INGEST.rglob("*.py"))
        for name in imported_modules(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        if name == "rag" or name.startswith("rag.")
    ]
    assert not offenders, f"ingest must not import rag: {offenders}"


def test_rag_errors_reexports_the_ingest_classes() -> None:
    for name in ("RagError", "LoaderError", "UnsupportedFormat", "PasswordRequired", "FileTooLarge",
                 "LoaderWarning"):
        assert getattr(rag.errors, name) is getattr(ingest.errors, name), name
    assert issubclass(ingest.errors.LoaderError, rag.errors.RagError)
    assert issubclass(rag.errors.KBNotFound, ingest.errors.RagError)
