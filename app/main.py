"""Streamlit entry point. Start it with `rag ui [--kb DIR] [--port N]` (or `make demo`).

The knowledge base comes from the settings (`rag ui --kb DIR` passes it as RAG_KB) and can be switched in the
sidebar. Nothing is drawn before `access.sign_in` lets the session through. Each run of this script only
wires the sidebar to one of the two pages; the facade does the work.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run` puts app/ itself on sys.path; the project root must win over any other `app` package.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from app import access, chat, documents, sidebar, state  # noqa: E402
from app.render import error  # noqa: E402
from rag.errors import RagError  # noqa: E402


def main() -> None:
    st.set_page_config(page_title="Knowledge base · 知识库", page_icon=":material/menu_book:", layout="wide")
    try:
        settings = state.load_settings()
        access.sign_in()  # a visitor who has not signed in gets the form, and the script stops there
    except RagError as exc:
        error(exc)
        st.stop()
    choice = sidebar.render(settings)
    try:
        kb = state.get_kb(choice.kb)
    except RagError as exc:
        error(exc)
        st.stop()
    sidebar.models(kb)
    if choice.page == sidebar.DOCUMENTS:
        documents.page(kb)
    else:
        chat.page(kb, choice.sampling)


# Streamlit runs this file as __main__. A parse worker that ingest spawns imports it again as __mp_main__
# (spawn re-imports the parent's main module), and must not render the page, open the KB or check the LLM.
if __name__ == "__main__":
    main()
