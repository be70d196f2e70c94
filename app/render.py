"""Safe rendering of untrusted text, and of answers with their citations.

Document text, file names and model output are untrusted: a document can hold `<script>`, a markdown image
that would make the browser fetch a URL, or a `javascript:` link. Streamlit already refuses raw HTML unless
asked, and we never ask (`unsafe_allow_html` is not used anywhere). On top of that every ASCII punctuation
character is backslash-escaped, which CommonMark allows for all of them, so no markdown, LaTeX (`$`) or
Streamlit directive (`:red[...]`) in the text takes effect either. The only markup in the output is ours.
One exception, on purpose: GFM turns a bare http(s)://, www. or e-mail address into a link after escapes are
undone, so such an address stays clickable. Its text is the address itself, so nothing is disguised, and
javascript: and data: never qualify.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Collection
from pathlib import Path

import streamlit as st

from app.access import downloadable
from app.state import clean_name
from rag.errors import LLMFailed, ModelNotAvailable, RagError
from rag.types import Answer, Citation, Hit

_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character
_LEADING = re.compile(r"^[ \t]+", re.MULTILINE)


def escape_md(text: str) -> str:
    """Text that renders as itself in st.markdown: punctuation escaped, line breaks kept."""
    text = _PUNCT.sub(r"\\\1", text.replace("\r", ""))
    # Leading spaces would start an indented code block; non-breaking spaces keep the indent as plain text.
    text = _LEADING.sub(lambda m: "\u00a0" * len(m.group().expandtabs(4)), text)
    return text.replace("\n", "  \n")


def visible(text: str) -> str:
    """One line of plain text, for a file name or path: control and format characters are made visible
    (a newline becomes ␊, others U+FFFD), so a name cannot break the layout, hide characters or reverse the
    text around it (U+202E). For widgets that show text as it is, such as table cells and select options."""
    return "".join(chr(0x2400 + ord(ch)) if ord(ch) < 0x20 else "\u2421" if ord(ch) == 0x7F
                   else "\ufffd" if unicodedata.category(ch)[0] == "C" else ch for ch in text)


def escape_name(text: str) -> str:
    """A file name, path or other one-line label for markdown: `visible`, then escaped."""
    return escape_md(visible(text))


def code(text: str) -> str:
    """Text as an inline code span. Backslash escapes do not work inside one, but nothing else is parsed
    there either, so only the backticks that would close it early (and line breaks) are taken out."""
    return "`" + " ".join(text.replace("`", "'").split()) + "`"


NO_MODEL = ("The local models are missing or incomplete. In the project folder run `make setup` (or "
            "`pip install -e '.[models]'` and then `rag setup`), then reload this page.")


def error(exc: RagError) -> None:
    """A library error as the user sees it: its message, plus how to install the models when they are missing.
    (A model that is installed but cannot run here, or a server that fails, says what to do itself.)"""
    st.error(escape_md(str(exc)), icon=":material/error:")
    if isinstance(exc, ModelNotAvailable) and not isinstance(exc, LLMFailed):
        st.info(NO_MODEL, icon=":material/download:")


def passages(hits: list[Hit]) -> None:
    """Search results in place of an answer, when no LLM can write one."""
    st.caption("The passages that match best · 最相关的段落：")
    for i, hit in enumerate(hits, 1):
        label = f"[{i}] {Path(hit.source).name}" + (f" · {hit.locator}" if hit.locator else "")
        with st.expander(escape_name(label), expanded=i == 1):
            st.markdown(escape_md(hit.text))


def highlight(text: str, quote: str) -> str:
    """The passage, escaped, with the supporting quote on a coloured background (line by line)."""
    start = text.find(quote) if quote.strip() else -1
    if start < 0:
        return escape_md(text)
    end = start + len(quote)
    marked = "  \n".join(f":orange-background[{escape_md(line)}]" if line.strip() else ""
                         for line in text[start:end].split("\n"))
    return escape_md(text[:start]) + marked + escape_md(text[end:])


_MARKER = re.compile(r"\\\[(\d+)\\\]")  # an escaped [n]


def markers(escaped: str, numbers: set[int]) -> str:
    """Make the [n] of existing citations stand out, so the eye finds the matching source below."""
    return _MARKER.sub(lambda m: f":blue[**{m.group()}**]" if int(m.group(1)) in numbers else m.group(), escaped)


def message(entry: dict, index: int, documents: Collection[str]) -> None:
    """One chat turn from the history: {"role": "user", "text"} or {"role": "assistant", "answer"/"error"},
    the error being the RagError itself, with the passages found ("hits") when only the LLM failed.
    `documents` are the KB's sources now: only those may be downloaded."""
    with st.chat_message(entry["role"]):
        if entry["role"] == "user":
            st.markdown(escape_md(entry["text"]))
        elif "error" in entry:
            error(entry["error"])
            if entry.get("hits"):
                passages(entry["hits"])
        else:
            answer(entry["answer"], index, documents)


def answer(result: Answer, index: int, documents: Collection[str]) -> None:
    if result.refused:
        st.info(escape_md(result.text))
    else:
        st.markdown(markers(escape_md(result.text), {c.number for c in result.citations}))
        for c in sorted(result.citations, key=lambda c: c.number):  # in the order of the [n], not of use
            citation(c, f"{index}-{c.number}", documents)
    timings(result.timings)


def citation(c: Citation, key: str, documents: Collection[str]) -> None:
    label = f"[{c.number}] {Path(c.source).name}" + (f" · {c.locator}" if c.locator else "")
    with st.expander(escape_name(label)):  # one line, whatever the file or sheet is called
        st.markdown(highlight(c.text, c.quote))
        path = downloadable(c.source, documents)
        if path is not None:
            # Read on click, not on every rerun: a history of answers citing a big PDF stays cheap.
            st.download_button(f"Download {escape_name(path.name)}", data=functools.partial(path.read_bytes),
                               file_name=clean_name(path.name) or "document", key=f"download-{key}",
                               on_click="ignore", icon=":material/download:")


def timings(t: dict[str, float]) -> None:
    parts = [f"{label} {t[name]:.2f} s" for name, label in
             (("retrieval", "retrieval"), ("first_token", "first token"), ("total", "total")) if name in t]
    if parts:
        st.caption(" · ".join(parts))
