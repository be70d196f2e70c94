"""The chat page: history per knowledge base, a streamed answer, then the checked answer with its citations.

While the model writes, its raw pieces are shown (escaped) as they arrive. When it is done the facade checks
the citations, which can renumber or drop [n] markers or turn an unsupported draft into a refusal, so the
streamed text is then replaced by `answer.text` and rendered exactly as a history entry is.
"""

from __future__ import annotations

import streamlit as st

from app import render, state
from rag.api import KnowledgeBase
from rag.errors import LLMFailed, RagError
from rag.types import Answer

EMPTY_KB = ("This knowledge base has no documents yet. Add Word, PDF, Excel, CSV, Markdown or text files on the "
            "**Documents** page (sidebar), or from a terminal: {command}")


def page(kb: KnowledgeBase, sampling: dict) -> None:
    st.title("Ask your documents · 知识库问答")
    try:
        documents = kb.documents()
    except RagError as exc:
        render.error(exc)
        return
    st.caption(render.escape_name(f"{kb.path} · {len(documents)} documents"))

    sources = {d.source for d in documents}  # what the download buttons may serve, as of this run
    history = st.session_state.setdefault("history", {}).setdefault(str(kb.path), [])
    for index, entry in enumerate(history):
        render.message(entry, index, sources)
    if not documents:
        st.info(EMPTY_KB.format(command=render.code(f"rag ingest PATH --kb {kb.path}")),
                icon=":material/upload_file:")

    question = st.chat_input("Ask a question · 请输入问题", disabled=not documents)
    if question and question.strip():
        ask(kb, question.strip(), sampling, history, sources)


def ask(kb: KnowledgeBase, question: str, sampling: dict, history: list[dict], sources: set[str]) -> None:
    history.append({"role": "user", "text": question})
    render.message(history[-1], len(history) - 1, sources)
    with st.chat_message("assistant"):
        placeholder = st.empty()
        try:
            result = _stream(kb, question, sampling, placeholder)
        except RagError as exc:
            placeholder.empty()
            # Only the LLM failed (it cannot run here, or its server is down): search still works, so the
            # passages it finds are the answer this time.
            hits = _search(kb, question, sampling) if isinstance(exc, LLMFailed) else []
            history.append({"role": "assistant", "error": exc, "hits": hits})
            render.error(exc)
            if hits:
                render.passages(hits)
            return
        history.append({"role": "assistant", "answer": result})
        with placeholder.container():
            render.answer(result, len(history) - 1, sources)


def _search(kb: KnowledgeBase, question: str, sampling: dict):
    try:
        return kb.search(question, sampling.get("top_k"))
    except RagError:
        return []


def _stream(kb: KnowledgeBase, question: str, sampling: dict, placeholder) -> Answer:
    # One answer at a time across all tabs: llama.cpp has one context, and two generations sharing two cores
    # would each take twice as long. The waiting tab says so instead of looking frozen.
    lock = state.llm_lock()
    if not lock.acquire(blocking=False):
        placeholder.caption("Waiting for another question to finish…")
        lock.acquire()
    try:
        placeholder.caption("Searching the documents…")
        stream = kb.stream_ask(question, **sampling)
        placeholder.caption("Reading the passages…")  # the prompt is evaluated before the first token
        shown = ""
        try:
            for piece in stream:
                shown += piece
                placeholder.markdown(render.escape_md(shown) + " ▌")
        finally:
            stream.close()  # a rerun or a closed tab interrupts the loop; stop generating right away
        return stream.answer
    finally:
        lock.release()
