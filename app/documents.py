"""The documents page: upload and ingest with progress, the document table, delete and re-index (confirmed).

Ingest runs in the script thread, so the facade's progress callback can drive `st.progress` directly. After
an ingest the page reruns with a fresh uploader (its key changes) and shows the report kept in session state,
so the files are not ingested again on the next interaction.

In a read-only UI only the table is drawn; the functions that write are marked `access.writes` and refuse
even if reached some other way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from app import access, state
from app.render import code, error, escape_md, escape_name, visible
from app.uploads import ALLOWED_TYPES, UPLOADS, Quota, Upload, save_uploads
from rag.api import KnowledgeBase
from rag.errors import RagError
from rag.types import Document, IngestReport

PER_FILE_BARS = 30  # beyond this many files one overall bar says more than a wall of bars


def page(kb: KnowledgeBase) -> None:
    st.title("Documents · 文档")
    try:
        documents = kb.documents()
    except RagError as exc:
        error(exc)
        return
    writable = access.writable()
    if writable:
        _upload(kb)
    else:
        st.info("This UI is read-only: it lists the documents; they are added and removed with `rag` on the "
                "server.", icon=":material/lock:")
    report = st.session_state.get("report")
    if report:
        summary(report)
    notice = st.session_state.pop("doc_notice", None)
    if notice:
        getattr(st, notice[0])(escape_md(notice[1]))

    st.subheader(f"In this knowledge base ({len(documents)})")
    if not documents:
        st.info("No documents yet. Upload files above, or from a terminal: "
                + code(f"rag ingest PATH --kb {kb.path}"), icon=":material/upload_file:")
        return
    st.dataframe([_row(d) for d in documents], hide_index=True, width="stretch")
    if writable:
        _delete(kb, documents)
        _reindex(kb, documents)


def _row(d: Document) -> dict:
    size = f"{d.pages} pages" if d.pages else f"{d.rows} rows" if d.rows else ""
    return {"name": visible(Path(d.source).name), "type": d.kind, "pages / rows": size, "chunks": d.chunks,
            "added (UTC)": d.added_at.replace("T", " ")[:19], "folder": visible(str(Path(d.source).parent))}


def _upload(kb: KnowledgeBase) -> None:
    max_mb = kb.settings.max_upload_mb
    round_ = st.session_state.setdefault("upload_round", 0)
    files = st.file_uploader("Add files", type=list(ALLOWED_TYPES), accept_multiple_files=True,
                             key=f"upload-{round_}",
                             help=f"Word, PDF, Excel, CSV, Markdown or text; up to {max_mb} MB each.")
    if st.button("Add to knowledge base", type="primary", disabled=not files, icon=":material/upload:"):
        _add_uploads(kb, files)


@access.writes("Uploading")
def _add_uploads(kb: KnowledgeBase, files: list[Upload]) -> None:
    s = kb.settings
    quota = st.session_state.setdefault("upload_quota", Quota(s.max_session_uploads, s.max_session_upload_mb))
    try:
        saved, rejected = save_uploads(files, kb.path / UPLOADS, s.max_upload_mb, quota)
    except OSError as exc:  # a full disk or an unwritable KB folder
        st.error(escape_md(f"Cannot store the uploads in {kb.path / UPLOADS}: {exc}"))
        return
    report = ingest(kb, lambda progress: kb.add(saved, progress), [p.name for p in saved]) if saved \
        else IngestReport()
    if report is not None:
        report.failed[:0] = rejected
        st.session_state["report"] = report
        st.session_state["upload_round"] = st.session_state.get("upload_round", 0) + 1
        st.rerun()


def ingest(kb: KnowledgeBase, work: Callable, names: list[str], *, exclusive: bool = False) -> IngestReport | None:
    """Run an ingest with an overall bar and one bar per file; None (and the error shown) if the facade raised.

    `exclusive` also holds the answer lock, for work that takes the index away from readers (a rebuild)."""
    overall = st.progress(0.0, text="Starting…")
    bars: dict[str, list] = {}
    if len(names) <= PER_FILE_BARS:
        for name in names:
            bars.setdefault(name, []).append(st.progress(0.0, text=escape_name(f"{name} · waiting")))

    def progress(done: int, total: int, name: str) -> None:
        overall.progress(done / total if total else 1.0, text=escape_md(f"{done} / {total} files read"))
        if bars.get(name):  # the facade reports each file by its base name once it is parsed
            bars[name].pop(0).progress(1.0, text=escape_name(f"{name} · read"))

    try:
        with state.write_lock(str(kb.path)):
            if not exclusive:
                return work(progress)
            with state.llm_lock():
                return work(progress)
    except RagError as exc:
        error(exc)
        return None
    finally:
        overall.empty()
        for pending in bars.values():
            for bar in pending:
                bar.empty()


def summary(report: IngestReport) -> None:
    def names(items) -> str:
        return ", ".join(escape_name(Path(s).name) for s in items)

    done = [f"{label} {len(items)}: {names(items)}" for label, items in
            (("Added", report.added), ("Updated", report.updated), ("Removed", report.removed)) if items]
    if done:
        st.success("  \n".join(done) + f"  \n{report.chunks_embedded} passages embedded in {report.seconds:.1f} s")
    if report.unchanged:
        st.info(f"Unchanged {len(report.unchanged)}: {names(report.unchanged)}")
    if report.failed:
        st.error(f"Failed {len(report.failed)}; the other files were ingested.  \n"
                 + "  \n".join(f"**{escape_name(Path(s).name)}**: {escape_md(msg)}" for s, msg in report.failed))
    if report.warnings:
        st.warning("  \n".join(f"{escape_name(Path(s).name)}: {escape_md(msg)}" for s, msg in report.warnings))
    if not (done or report.unchanged or report.failed):
        st.info("Nothing to ingest.")


def _label(kb: KnowledgeBase) -> Callable[[str], str]:
    def label(source: str) -> str:
        path = Path(source)
        return visible(path.name if path.parent == kb.path.resolve() / UPLOADS else source)
    return label


def _confirm(key: str, question: str, yes: str, action: Callable[[], None]) -> bool:
    """A two-step button: the first click asks `question` (markdown), `yes` runs `action`. True while asking."""
    if not st.session_state.get(key):
        return False
    st.warning(question, icon=":material/help:")
    left, right, _ = st.columns([1, 1, 3])
    left.button(yes, type="primary", key=f"{key}-yes", on_click=action, width="stretch")
    right.button("Cancel", key=f"{key}-no", on_click=lambda: st.session_state.pop(key, None), width="stretch")
    return True


def _delete(kb: KnowledgeBase, documents: list[Document]) -> None:
    st.subheader("Delete")
    sources = [d.source for d in documents]
    if any(s not in sources for s in st.session_state.get("delete_selection", [])):
        st.session_state["delete_selection"] = [s for s in st.session_state["delete_selection"] if s in sources]
    chosen = st.multiselect("Documents to delete", sources, format_func=_label(kb), key="delete_selection",
                            placeholder="Choose documents")
    pending = st.session_state.get("delete_pending")
    names = ", ".join(escape_name(Path(s).name) for s in pending or [])
    question = (f"Delete {len(pending or [])} document(s): **{names}**? Their passages and vectors leave the "
                "index, and uploaded copies are deleted. Original files elsewhere are not touched.")
    if not _confirm("delete_pending", question, "Delete", lambda: _confirmed_delete(kb)):
        st.button("Delete…", disabled=not chosen, icon=":material/delete:",
                  on_click=lambda: st.session_state.update(delete_pending=list(chosen)))


@access.writes("Deleting documents")
def _confirmed_delete(kb: KnowledgeBase) -> None:
    # A callback: it runs before the next script run, so the table that run draws is already up to date.
    pending = st.session_state.pop("delete_pending", [])
    uploads = kb.path.resolve() / UPLOADS
    removed = []
    try:
        with state.write_lock(str(kb.path)):
            for source in pending:
                if kb.remove(source):
                    removed.append(visible(Path(source).name))
                if Path(source).parent == uploads:
                    Path(source).unlink(missing_ok=True)
    except (RagError, OSError) as exc:
        st.session_state["doc_notice"] = ("error", str(exc))
        return
    st.session_state["delete_selection"] = []
    st.session_state["report"] = None
    st.session_state["doc_notice"] = ("success", f"Deleted {len(removed)}: {', '.join(removed)}")


def _reindex(kb: KnowledgeBase, documents: list[Document]) -> None:
    st.subheader("Re-index")
    rebuild = st.checkbox("Rebuild from scratch", key="rebuild",
                          help="Re-embed everything; needed after changing the embedding model. Otherwise "
                               "only files that changed on disk are read again.")
    question = (f"Re-index all {len(documents)} documents? "
                + ("Every passage is embedded again, which takes a while; questions wait until it is done."
                   if rebuild else "Files that changed on disk are read again; the rest are skipped."))
    def go() -> None:
        st.session_state.pop("reindex_pending", None)
        st.session_state["reindex_go"] = True

    if _confirm("reindex_pending", question, "Re-index", go):
        return
    st.button("Re-index…", icon=":material/refresh:",
              on_click=lambda: st.session_state.update(reindex_pending=True))
    if st.session_state.pop("reindex_go", False):
        _run_reindex(kb, documents, rebuild)


@access.writes("Re-indexing")
def _run_reindex(kb: KnowledgeBase, documents: list[Document], rebuild: bool) -> None:
    sources = [d.source for d in documents]
    names = [Path(s).name for s in sources]
    report = (ingest(kb, kb.rebuild, names, exclusive=True) if rebuild
              else ingest(kb, lambda p: kb.add(sources, p), names))
    if report is not None:
        st.session_state["report"] = report
        st.rerun()
