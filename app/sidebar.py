"""The sidebar: page choice, knowledge-base choice and creation, sampling controls, the loaded models."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from app import access, state
from app.render import escape_md, visible
from rag.api import KnowledgeBase
from rag.settings import Settings

CHAT, DOCUMENTS = "Chat · 问答", "Documents · 文档"


@dataclass
class Choice:
    page: str
    kb: str
    sampling: dict  # keyword arguments for KnowledgeBase.stream_ask


@access.writes("Creating a knowledge base")
def _create_kb() -> None:
    # A callback runs before the script, so it may still set the selectbox's value.
    try:
        path = state.new_kb_path(st.session_state.get("new_kb_name", ""))
        path.mkdir(parents=True, exist_ok=True)
    except (ValueError, OSError) as exc:
        st.session_state["kb_notice"] = ("error", str(exc))
        return
    st.session_state["kb"] = str(path)
    st.session_state["new_kb_name"] = ""
    st.session_state["kb_notice"] = ("success", f"Created {path}. Add documents on the Documents page.")


def render(settings: Settings) -> Choice:
    with st.sidebar:
        page = st.radio("Page", (CHAT, DOCUMENTS), horizontal=True, label_visibility="collapsed", key="page")

        st.subheader("Knowledge base · 知识库")
        options = state.known_kbs(settings.kb)
        if st.session_state.get("kb") not in options:
            st.session_state["kb"] = options[0]
        kb = st.selectbox("Knowledge base", options, key="kb", label_visibility="collapsed", format_func=visible,
                          help="A directory holding one index; the default is data/index.")
        if access.writable():
            with st.popover("New knowledge base", icon=":material/add:"):
                st.text_input("Name", key="new_kb_name", placeholder="e.g. 合同-2024",
                              help="Created as data/kbs/NAME; letters, digits, Chinese, '-' and '_'.")
                st.button("Create", on_click=_create_kb)
        notice = st.session_state.pop("kb_notice", None)
        if notice:
            getattr(st, notice[0])(escape_md(notice[1]))

        st.subheader("Answering · 回答")
        top_k = st.slider("Passages (top-k)", 1, max(20, settings.top_k), settings.top_k,
                          help="How many retrieved passages go into the prompt; more context, slower answers.")
        temperature = st.slider("Temperature", 0.0, 2.0, float(settings.temperature), 0.05,
                                help="Randomness of the wording; keep it low for factual answers.")
        top_p = st.slider("Top-p", 0.05, 1.0, max(0.05, float(settings.top_p)), 0.05,
                          help="Sample only from the most likely tokens that add up to this probability.")
        max_tokens = st.slider("Max answer tokens", 16, max(2048, settings.max_tokens), settings.max_tokens, 16,
                               help="The longest answer; the model stops earlier when it is done.")

    return Choice(page, kb, {"top_k": top_k, "temperature": temperature, "top_p": top_p,
                             "max_tokens": max_tokens})


def models(kb: KnowledgeBase) -> None:
    """Which backend and model answer, and whether search re-ranks. The first look runs the checks that have
    not run yet (the in-process model in a child process, or the server's); the facade keeps the result."""
    with st.sidebar:
        with st.spinner("Checking the LLM…"):
            status = kb.llm_status(check=True)
        where = f"{status.backend} · {status.where}" if status.where else status.backend
        lines = [f"LLM: {status.model} ({where})",
                 "Re-ranking: on" if status.reranking else f"Re-ranking: off — {status.rerank_note}",
                 f"Embeddings: {kb.settings.embedding_model}"]
        st.caption("  \n".join(escape_md(line) for line in lines))
        if status.problem:
            st.warning(escape_md(status.problem), icon=":material/warning:")
