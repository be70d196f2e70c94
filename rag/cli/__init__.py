"""The `rag` command: a thin layer over `KnowledgeBase`. Library errors become one-line messages.

Exit codes: 0 all good; 1 some files failed (the rest were ingested); 2 usage or knowledge-base error.

The commands live in modules by subject (documents, questions, admin) as plain click commands over the
helpers in `rag.cli.common`; this module only makes the group and adds them, so none imports it back.
"""

from __future__ import annotations

import os

import click

from rag.cli.admin import doctor, password, setup, ui
from rag.cli.documents import docs, export_kb, import_kb, ingest, remove
from rag.cli.questions import ask, eval_, search


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Offline knowledge base: ingest documents, then search and ask with cited answers."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


for _command in (ingest, search, ask, docs, remove, eval_, setup, doctor, ui, password, export_kb, import_kb):
    main.add_command(_command)
del _command
