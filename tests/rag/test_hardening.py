"""Issue 17 in process: large files in parts and resumed, the time budget, what a folder walk skips, a rebuild
that swaps atomically and keeps what only the KB holds, export and import, and names printed on one line."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag.api import KnowledgeBase
from rag.errors import ConfigError
from rag.settings import Settings
from rag.store import kbdb
from rag.store.backup import BadArchive, export_kb, import_kb
from rag.store.store import Store
from tests.conftest import FakeEmbedder


def settings_for(tmp_path: Path, **changes) -> Settings:
    values = dict(kb=str(tmp_path / "kb"), cache_dir=str(tmp_path / "cache"), workers=1, chunk_size=32,
                  chunk_overlap=4, rerank_depth=0, embed_batch_size=2)
    return Settings(**{**values, **changes})


def long_text(path: Path, paragraphs: int = 40) -> Path:
    path.write_text("\n\n".join(f"Paragraph {i} tells of lantern{i} and harbor{i} in plain words, one after "
                                f"another, so the chunker has work." for i in range(paragraphs)), encoding="utf-8")
    return path


class FailingEmbedder(FakeEmbedder):
    """Dies on the n-th call, as a killed process would stop."""

    def __init__(self, fail_on: int) -> None:
        super().__init__()
        self.fail_on = fail_on

    def embed(self, texts, *, query=False):
        if len(self.calls) + 1 == self.fail_on:
            raise KeyboardInterrupt
        return super().embed(texts, query=query)


def test_a_large_file_is_stored_in_parts_and_the_next_ingest_goes_on_from_there(tmp_path):
    big = long_text(tmp_path / "big.txt")
    settings = settings_for(tmp_path)
    with KnowledgeBase(settings.kb, settings, embedder=FailingEmbedder(fail_on=3)) as kb:
        with pytest.raises(KeyboardInterrupt):
            kb.add(big)
    with KnowledgeBase(settings.kb, settings, embedder=FakeEmbedder()) as kb:
        [doc] = kb.documents()
        assert doc.partial and doc.chunks == 2 * 16  # two parts of batch_size * 8 chunks were committed
        report = kb.add(big)
        [doc] = kb.documents()
        assert not doc.partial and report.updated == [str(big)]
        assert report.chunks_embedded == doc.chunks - 32  # only what was missing
        assert kb.add(big).unchanged == [str(big)]


def test_small_files_are_stored_before_a_large_one_and_the_budget_covers_embedding(tmp_path, monkeypatch):
    big = long_text(tmp_path / "a-big.txt", 120)
    small = tmp_path / "z-small.txt"
    small.write_text("A small note about walruses.", encoding="utf-8")
    settings = settings_for(tmp_path, file_timeout=1.0)
    order = []
    original = Store.put_document
    monkeypatch.setattr(Store, "put_document", lambda self, doc, *a: (order.append(Path(doc.source).name),
                                                                       original(self, doc, *a))[1])

    class Slow(FakeEmbedder):
        def embed(self, texts, *, query=False):
            import time

            time.sleep(0.3)
            return super().embed(texts, query=query)

    with KnowledgeBase(settings.kb, settings, embedder=Slow()) as kb:
        report = kb.add([big, small])
        assert order[0] == "z-small.txt"
        [(source, message)] = report.failed
        assert source == str(big) and "file_timeout" in message and "next ingest goes on" in message
        assert {d.source: d.partial for d in kb.documents()} == {str(big): True, str(small): False}
        assert kb.search("lantern0", k=1, mode="keyword")  # what was stored is searchable


def test_a_folder_walk_skips_hidden_files_and_links_out_of_it_and_says_so(tmp_path):
    folder, outside = tmp_path / "docs", tmp_path / "secret"
    folder.mkdir(), outside.mkdir()
    (folder / "note.md").write_text("# Note\n\nwalrus facts", encoding="utf-8")
    (folder / ".hidden.md").write_text("hidden", encoding="utf-8")
    (outside / "key.txt").write_text("the server password", encoding="utf-8")
    os.symlink(outside / "key.txt", folder / "key.txt")
    os.symlink(outside, folder / "linked")
    settings = settings_for(tmp_path)
    with KnowledgeBase(settings.kb, settings, embedder=FakeEmbedder()) as kb:
        report = kb.add(folder)
        assert report.added == [str(folder / "note.md")]
        skipped = dict(report.skipped)
        assert skipped[str(folder / ".hidden.md")] == "hidden file"
        assert "follow_symlinks" in skipped[str(folder / "key.txt")] and str(folder / "linked") in skipped
    followed = settings_for(tmp_path, follow_symlinks=True, kb=str(tmp_path / "kb2"))
    with KnowledgeBase(followed.kb, followed, embedder=FakeEmbedder()) as kb:
        assert str(folder / "key.txt") in kb.add(folder).added


def test_rebuild_swaps_in_one_step_keeps_gone_files_and_an_open_reader_follows(tmp_path):
    kept, gone = long_text(tmp_path / "kept.txt", 6), long_text(tmp_path / "gone.txt", 3)
    settings = settings_for(tmp_path)
    with KnowledgeBase(settings.kb, settings, embedder=FakeEmbedder()) as kb:
        kb.add([kept, gone])
    reader = Store.open(settings.kb)
    before = reader.chunk_count()
    gone.unlink()
    rebuilt = settings.replace(chunk_size=64, chunk_overlap=8)
    with KnowledgeBase(rebuilt.kb, rebuilt, embedder=FakeEmbedder()) as kb:
        report = kb.rebuild()
        assert {d.source for d in kb.documents()} == {str(kept), str(gone)}
        assert any(source == str(gone) and "file is gone" in message for source, message in report.warnings)
    config = kbdb.read_config(Path(settings.kb))
    assert config.chunk_size == 64 and config.data_dir.startswith("data-")
    assert not (Path(settings.kb) / "kb.sqlite").exists()  # the old data went once the new were in place
    assert reader.chunk_count() < before and reader.config.chunk_size == 64  # followed the swap
    reader.close()


def test_create_opens_the_kb_another_writer_created_while_it_waited(tmp_path):
    settings = settings_for(tmp_path)
    first = KnowledgeBase(settings.kb, settings, embedder=FakeEmbedder())
    first.add(long_text(tmp_path / "a.txt", 2))
    config = kbdb.read_config(Path(settings.kb))
    with pytest.raises(ConfigError, match="already exists"):
        Store.create(settings.kb, config)
    first.close()


def test_export_and_import_round_trip_and_refuse_a_tampered_archive(tmp_path):
    settings = settings_for(tmp_path)
    with KnowledgeBase(settings.kb, settings, embedder=FakeEmbedder()) as kb:
        kb.add(long_text(tmp_path / "a.txt", 4))
        uploads = kb.path / "uploads"
        uploads.mkdir()
        (uploads / "up.md").write_text("# Uploaded\n\nquartz meadow", encoding="utf-8")
        kb.add(uploads / "up.md")
        sources = {d.source for d in kb.documents()}
    archive = tmp_path / "kb.tar.gz"
    manifest = export_kb(Path(settings.kb), archive)
    assert manifest.documents == 2 and "uploads/up.md" in manifest.files
    target = tmp_path / "restored"
    import_kb(archive, target)
    with Store.open(target) as store:
        assert {d.source for d in store.documents()} == sources and store.chunk_count() == manifest.chunks
    assert (target / "uploads" / "up.md").read_text(encoding="utf-8").startswith("# Uploaded")
    with pytest.raises(ConfigError, match="--replace"):
        import_kb(archive, target)

    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(tampered, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name == "config.json":
                data = data.replace(b'"chunk_size": 32', b'"chunk_size": 33')
            member.size = len(data)
            import io

            dst.addfile(member, io.BytesIO(data))
    with pytest.raises(BadArchive, match="checksum"):
        import_kb(tampered, target, replace=True)
    with Store.open(target) as store:  # the failed import left the KB as it was
        assert {d.source for d in store.documents()} == sources
    assert [p.name for p in target.iterdir() if p.name.startswith("data-")] == [kbdb.read_config(target).data_dir]


def test_a_newline_in_a_file_name_stays_on_one_line_in_rag_docs(tmp_path, monkeypatch):
    from rag import cli

    odd = tmp_path / "two\nlines.md"
    odd.write_text("# Odd\n\nwalrus", encoding="utf-8")
    settings = settings_for(tmp_path)
    with KnowledgeBase(settings.kb, settings, embedder=FakeEmbedder()) as kb:
        kb.add(odd)
    result = CliRunner().invoke(cli.main, ["docs", "--kb", settings.kb])
    assert result.exit_code == 0, result.output
    assert len(result.output.strip().splitlines()) == 1 and "two\\nlines.md" in result.output
