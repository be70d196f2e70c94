"""`rag export` and `rag import`: the commands over `rag.store.backup`, registered on the `rag` group by rag.cli."""

from __future__ import annotations

from pathlib import Path

import click

from rag.cli import errors_to_exit, tell_waiting
from rag.settings import Settings


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
