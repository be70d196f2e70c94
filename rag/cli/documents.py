"""The commands about what is in a knowledge base: ingest, docs, remove, and export/import of a whole KB."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from rag.cli.common import errors_to_exit, kb_option, open_kb, printable, tell_waiting
from rag.settings import Settings


@click.command()
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


@click.command()
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


@click.command()
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


@click.command(name="export")
@click.argument("kb", type=click.Path(file_okay=False))
@click.argument("file", type=click.Path(dir_okay=False))
@errors_to_exit
def export_kb(kb, file):
    """Write the whole knowledge base KB into one archive FILE (.tar.gz, with checksums).

    Example: rag export data/index backup.tar.gz
    """
    from rag.store.backup import export_kb as export

    manifest = export(Path(kb), Path(file))
    click.echo(f"exported {manifest.documents} documents, {manifest.chunks} chunks to {file}")


@click.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.argument("kb", type=click.Path(file_okay=False))
@click.option("--replace", is_flag=True, help="Replace the knowledge base that is already at KB.")
@errors_to_exit
def import_kb(file, kb, replace):
    """Restore an archive written by `rag export` into KB, checked in full first, then swapped in atomically.

    Example: rag import backup.tar.gz data/index --replace
    """
    from rag.store.backup import import_kb as restore

    settings = Settings.load(kb=kb)
    manifest = restore(Path(file), Path(kb), replace=replace, lock_timeout=settings.lock_timeout,
                       on_wait=tell_waiting)
    click.echo(f"imported {manifest.documents} documents, {manifest.chunks} chunks into {kb}")
