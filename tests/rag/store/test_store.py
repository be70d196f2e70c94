import json
import logging
import multiprocessing
import threading

import numpy as np
import pytest

from ingest.types import Chunk, chunk_id
from rag.errors import ConfigError, EmbeddingMismatch, KBLocked, KBNotFound
from rag.language import query_tokens, tokenize
from rag.store import vectors
from rag.store.store import SCHEMA_VERSION, KBConfig, Store, fts_query
from rag.types import Document

DIM = 16


def config(model: str = "fake-model", dim: int = DIM) -> KBConfig:
    return KBConfig(schema_version=SCHEMA_VERSION, embedding_model=model, dim=dim, chunk_size=100,
                    chunk_overlap=10, created_at="2024-01-01T00:00:00+00:00")


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def doc_parts(source: str, texts: list[str], seed: int = 0, **locator):
    chunks = [Chunk(id=chunk_id(source, t), source=source, text=t, **locator) for t in texts]
    doc = Document(source=source, kind="txt", pages=None, rows=None, chunks=len(chunks),
                   added_at="2024-01-01T00:00:00+00:00", sha256=f"sha-{source}-{seed}")
    return doc, chunks, unit(np.random.default_rng(seed), len(texts)), [tokenize(t) for t in texts]


def put(store: Store, source: str, texts: list[str], seed: int = 0, **locator):
    doc, chunks, vecs, toks = doc_parts(source, texts, seed, **locator)
    store.put_document(doc, chunks, vecs, toks)
    return chunks, vecs


def ids_of(results):
    return [i for i, _ in results]


@pytest.fixture
def kb(tmp_path):
    path = tmp_path / "kb"
    with Store.create(path, config()) as store:
        yield store


# -- create, open, configuration --------------------------------------------------------------------------

def test_create_writes_the_layout_and_open_reads_it_back(tmp_path):
    path = tmp_path / "kb"
    Store.create(path, config()).close()
    assert Store.exists(path)
    assert {"config.json", "kb.sqlite", "index.faiss", "index.meta.json", "write.lock"} <= {
        p.name for p in path.iterdir()}
    with Store.open(path) as store:
        assert store.config == config()
        assert store.chunk_count() == 0


def test_open_without_kb_says_how_to_create_one(tmp_path):
    assert not Store.exists(tmp_path)
    with pytest.raises(KBNotFound, match=r"no knowledge base at .*rag ingest PATH --kb"):
        Store.open(tmp_path / "nowhere")


def test_create_refuses_to_overwrite(kb):
    with pytest.raises(ConfigError, match="already exists"):
        Store.create(kb.path, config())


def test_schema_version_mismatch_says_rebuild(kb):
    raw = json.loads((kb.path / "config.json").read_text())
    (kb.path / "config.json").write_text(json.dumps({**raw, "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(ConfigError, match=r"schema version .*rag ingest --rebuild PATH --kb"):
        Store.open(kb.path)


def test_damaged_config_says_rebuild(kb):
    (kb.path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="rebuild"):
        Store.open(kb.path)


def test_embedding_mismatch_names_both_models_and_the_fix(kb):
    kb.check_embedding("fake-model", DIM)  # the configured model passes
    with pytest.raises(EmbeddingMismatch) as err:
        kb.check_embedding("other-model", 384)
    text = str(err.value)
    assert "fake-model (dim 16)" in text and "other-model" in text
    assert "embedding_model = fake-model" in text and "rag ingest --rebuild PATH --kb" in text
    with pytest.raises(EmbeddingMismatch):
        kb.check_embedding("fake-model", DIM + 1)


# -- writing and searching --------------------------------------------------------------------------------

def test_put_document_is_searchable_and_keeps_locators(kb):
    chunks, vecs = put(kb, "/docs/a.xlsx", ["alpha temperature", "beta sampling"], page=3, sheet="S1",
                       rows=(2, 9), heading="Intro > Setup", start=5, end=20)
    assert kb.chunk_count() == 2
    hits = kb.dense_search(vecs[1], 2)
    assert hits[0][0] == chunks[1].id and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert ids_of(kb.keyword_search(["temperature"], 5)) == [chunks[0].id]
    got = kb.chunks([chunks[0].id, 12345])
    assert list(got) == [chunks[0].id] and got[chunks[0].id] == chunks[0]
    [doc] = kb.documents()
    assert (doc.source, doc.chunks, doc.sha256) == ("/docs/a.xlsx", 2, "sha-/docs/a.xlsx-0")
    assert kb.document_hash("/docs/a.xlsx") == "sha-/docs/a.xlsx-0"
    assert kb.document_hash("/docs/other") is None


def test_replacing_a_document_removes_its_old_chunks_everywhere(kb):
    old, old_vecs = put(kb, "a", ["obsolete zebra text", "shared words"], seed=1)
    put(kb, "b", ["another document"], seed=2)
    new, _ = put(kb, "a", ["fresh giraffe text"], seed=3)
    assert kb.chunk_count() == 2
    assert kb.keyword_search(["zebra"], 5) == []
    assert ids_of(kb.keyword_search(["giraffe"], 5)) == [new[0].id]
    assert not {c.id for c in old} & set(ids_of(kb.dense_search(old_vecs[0], 10)))
    assert kb.chunks([c.id for c in old]) == {}
    assert {d.source: d.chunks for d in kb.documents()} == {"a": 1, "b": 1}


def test_remove_document(kb):
    gone, vecs = put(kb, "a", ["doomed walrus"], seed=1)
    kept, _ = put(kb, "b", ["surviving walrus"], seed=2)
    assert kb.remove_document("a") is True
    assert kb.remove_document("a") is False
    assert ids_of(kb.keyword_search(["walrus"], 5)) == [kept[0].id]
    assert gone[0].id not in ids_of(kb.dense_search(vecs[0], 5))
    assert [d.source for d in kb.documents()] == ["b"] and kb.chunk_count() == 1


def test_known_vectors_returns_stored_vectors_only(kb):
    chunks, vecs = put(kb, "a", ["one", "two"])
    known = kb.known_vectors([chunks[1].id, 999, chunks[0].id])
    assert set(known) == {chunks[0].id, chunks[1].id}
    np.testing.assert_allclose(known[chunks[1].id], vecs[1], atol=1e-6)
    assert known[chunks[0].id].dtype == np.float32


def test_vectors_are_normalised_and_inputs_checked(kb):
    doc, chunks, vecs, toks = doc_parts("a", ["x", "y"])
    kb.put_document(doc, chunks, vecs * 7, toks)
    assert kb.dense_search(vecs[0], 1)[0][1] == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError, match="shape"):
        kb.put_document(doc, chunks, vecs[:, :4], toks)
    with pytest.raises(ValueError, match="token lists"):
        kb.put_document(doc, chunks, vecs, toks[:1])
    with pytest.raises(ValueError, match="zero"):
        kb.put_document(doc, chunks, np.zeros_like(vecs), toks)
    other = doc_parts("b", ["z"])[1]
    with pytest.raises(ValueError, match="source"):
        kb.put_document(doc, chunks[:1] + other, vecs, toks)
    assert kb.chunk_count() == 2  # the rejected writes changed nothing


def test_repeated_passage_is_stored_once(kb):
    doc, chunks, vecs, toks = doc_parts("a", ["same text", "same text", "other"])
    kb.put_document(doc, chunks, vecs, toks)
    assert kb.chunk_count() == 2 and kb.documents()[0].chunks == 2
    assert len(kb.dense_search(vecs[0], 10)) == 2


def test_empty_document_is_recorded(kb):
    doc = Document("empty.pdf", "pdf", 1, None, 0, "2024-01-01", "h")
    kb.put_document(doc, [], np.zeros((0, DIM), np.float32), [])
    assert kb.document_hash("empty.pdf") == "h" and kb.chunk_count() == 0


# -- keyword index ----------------------------------------------------------------------------------------

def test_chinese_keyword_search_finds_the_chunk(kb):
    zh, _ = put(kb, "zh", ["温度参数控制生成的随机性，值越高回答越发散。", "检索增强生成把文档片段放进提示词。"])
    put(kb, "en", ["temperature controls randomness"], seed=1)
    hits = kb.keyword_search(query_tokens("温度参数是什么？"), 5)
    assert hits[0][0] == zh[0].id


def test_fts_keeps_our_tokens_whole(kb):
    doc, chunks, vecs, _ = doc_parts("a", ["温度参数 top-p"])
    kb.put_document(doc, chunks, vecs, [["温度参数", "top-p"]])
    assert ids_of(kb.keyword_search(["温度参数"], 5)) == [chunks[0].id]
    assert ids_of(kb.keyword_search(["top-p"], 5)) == [chunks[0].id]
    assert kb.keyword_search(["温度"], 5) == [] and kb.keyword_search(["top"], 5) == []


def test_chunk_counts_titles_and_generation_serve_the_retrieval_heuristics(kb):
    before = kb.generation
    doc, chunks, vecs, _ = doc_parts("/d/a.md", ["温度参数 top-p", "温度参数"])
    doc.title = "运维手册"
    kb.put_document(doc, chunks, vecs, [["温度参数", "top-p"], ["温度参数"]])
    assert kb.chunk_counts(["温度参数", "top-p", "absent"]) == {"温度参数": 2, "top-p": 1}
    assert kb.titles() == [("/d/a.md", "运维手册")]
    assert kb.generation > before
    with Store.open(kb.path) as reader:
        put(kb, "b", ["other"], seed=1)
        assert reader.generation == kb.generation  # a reader syncs before it answers


def test_bm25_scores_are_positive_and_best_first(kb):
    one, _ = put(kb, "a", ["llama once among many other words here"], seed=1)
    two, _ = put(kb, "b", ["llama llama llama"], seed=2)
    put(kb, "c", ["nothing relevant"], seed=3)
    hits = kb.keyword_search(["llama"], 5)
    assert ids_of(hits) == [two[0].id, one[0].id]
    assert hits[0][1] > hits[1][1] > 0


@pytest.mark.parametrize("nasty", ['"', 'OR', '*', 'NEAR(', 'AND', 'NOT', '^', 'tokens:', '(', ')', '-', '""',
                                   'a" OR "b', 'x*', '{tokens}: y', "\x00"])
def test_fts_syntax_in_query_tokens_is_harmless(kb, nasty):
    fox, _ = put(kb, "a", ["the quick brown fox"])
    kb.keyword_search([nasty], 5)  # must not raise
    assert ids_of(kb.keyword_search([nasty, "fox"], 5)) == [fox[0].id]


def test_fts_query_quotes_every_token():
    assert fts_query(['a"b', "OR", "c"]) == '"a""b" OR "OR" OR "c"'
    assert fts_query(["(", "*", ""]) == ""


# -- persistence and crash recovery -----------------------------------------------------------------------

def test_writer_block_flushes_the_index(kb, caplog):
    with kb.writer():
        chunks, vecs = put(kb, "a", ["persisted"])
    meta = vectors.read_meta(kb.path)
    assert meta is not None and meta.count == 1
    kb.close()
    with caplog.at_level(logging.WARNING), Store.open(kb.path) as again:
        assert ids_of(again.dense_search(vecs[0], 1)) == [chunks[0].id]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_unflushed_writes_are_replayed_on_open(kb, caplog):
    with kb.writer():
        put(kb, "a", ["first"], seed=1)
    flushed = vectors.read_meta(kb.path).generation
    second, vecs = put(kb, "b", ["second"], seed=2)  # outside writer(): no flush
    kb.remove_document("a")
    assert vectors.read_meta(kb.path).generation == flushed
    kb.close()
    with caplog.at_level(logging.WARNING), Store.open(kb.path) as again:
        assert again.chunk_count() == 1
        assert ids_of(again.dense_search(vecs[0], 5)) == [second[0].id]
        assert vectors.read_meta(kb.path).generation > flushed  # open saved the caught-up index
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("damage", ["delete sidecar", "garbage sidecar", "garbage index", "delete index",
                                    "sidecar from the future"])
def test_untrustworthy_index_file_is_rebuilt_from_sqlite(kb, caplog, damage):
    with kb.writer():
        chunks, vecs = put(kb, "a", ["one", "two", "three"])
    kb.close()
    meta, index = kb.path / "index.meta.json", kb.path / "index.faiss"
    if damage == "delete sidecar":
        meta.unlink()
    elif damage == "garbage sidecar":
        meta.write_text("{ nope")
    elif damage == "garbage index":
        index.write_bytes(b"\x00garbage" * 100)
    elif damage == "delete index":
        index.unlink()
    else:
        meta.write_text(json.dumps({**json.loads(meta.read_text()), "generation": 999}))
    with caplog.at_level(logging.WARNING), Store.open(kb.path) as again:
        assert again.chunk_count() == 3
        assert ids_of(again.dense_search(vecs[2], 1)) == [chunks[2].id]
    assert any("rebuild" in r.getMessage() for r in caplog.records)
    assert vectors.read_meta(kb.path).count == 3  # the rebuilt index was saved


def test_reader_sees_another_stores_writes(kb):
    with Store.open(kb.path) as reader:
        assert reader.chunk_count() == 0
        first, v1 = put(kb, "a", ["first narwhal"], seed=1)
        assert ids_of(reader.dense_search(v1[0], 1)) == [first[0].id]
        kb.flush()  # prunes the tombstones the reader's generation would need; it must reload the file
        put(kb, "a", ["second narwhal"], seed=2)
        second, v2 = put(kb, "b", ["other"], seed=3)
        assert reader.chunk_count() == 2
        assert first[0].id not in ids_of(reader.dense_search(v1[0], 5))
        assert ids_of(reader.dense_search(v2[0], 1)) == [second[0].id]
        kb.remove_document("b")
        assert second[0].id not in ids_of(reader.dense_search(v2[0], 5))


def test_concurrent_threads_share_one_store(kb):
    put(kb, "seed", ["warm"])
    errors = []

    def search():
        rng = np.random.default_rng()
        try:
            for _ in range(50):
                kb.dense_search(unit(rng, 1)[0], 3)
                kb.keyword_search(["doc"], 3)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=search) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(20):
        put(kb, f"s{i % 5}", [f"doc {i}"], seed=i)
    for t in threads:
        t.join()
    assert errors == [] and kb.chunk_count() == 6


# -- the cross-process write lock -------------------------------------------------------------------------

def hold_writer(path, locked, release):
    with Store.open(path) as store, store.writer():
        locked.set()
        release.wait(30)


def test_second_writer_gets_kblocked_naming_the_holder_and_readers_go_on(kb):
    chunks, vecs = put(kb, "a", ["readable walrus"])
    ctx = multiprocessing.get_context("spawn")
    locked, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=hold_writer, args=(str(kb.path), locked, release))
    holder.start()
    try:
        assert locked.wait(60)
        with pytest.raises(KBLocked, match=f"pid {holder.pid}"):
            with kb.writer(timeout=0.5):
                pass
        with Store.open(kb.path) as reader:  # opening and reading never wait for the writer
            assert ids_of(reader.keyword_search(["walrus"], 5)) == [chunks[0].id]
            assert ids_of(reader.dense_search(vecs[0], 1)) == [chunks[0].id]
    finally:
        release.set()
        holder.join(30)
    with kb.writer(timeout=5):
        put(kb, "b", ["after release"], seed=1)
    assert kb.chunk_count() == 2


def test_lock_dies_with_its_holder(kb):
    ctx = multiprocessing.get_context("spawn")
    locked, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=hold_writer, args=(str(kb.path), locked, release))
    holder.start()
    assert locked.wait(60)
    holder.kill()
    holder.join(30)
    with kb.writer(timeout=2):
        put(kb, "a", ["after a crash"])
    assert kb.chunk_count() == 1


def test_index_file_newer_than_its_sidecar_is_caught_by_the_count(kb, caplog):
    # The race a reader can lose: it reads the sidecar for generation g, then an index.faiss that a writer
    # replaced with generation g+1 meanwhile. Replaying from g would add g+1's chunks twice.
    with kb.writer():
        put(kb, "a", ["one"], seed=1)
    generation = vectors.read_meta(kb.path).generation
    chunks, vecs = put(kb, "b", ["two"], seed=2)
    vectors.save(kb.path, kb._index, generation)  # the file holds "b", the sidecar says it does not
    kb.close()
    with caplog.at_level(logging.WARNING), Store.open(kb.path) as again:
        assert again.chunk_count() == 2
        assert ids_of(again.dense_search(vecs[0], 5)).count(chunks[0].id) == 1
    assert any("rebuilding" in r.getMessage() for r in caplog.records)
