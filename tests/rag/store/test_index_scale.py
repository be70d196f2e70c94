"""What changes with KB size: the vector index turns approximate, and keyword queries drop very common tokens."""

import json
from dataclasses import replace

import numpy as np
import pytest

from ingest.types import Chunk
from rag.store import fts, vectors
from rag.store.store import SCHEMA_VERSION, KBConfig, Store
from rag.types import Document

DIM = 16


def config(ann_min_chunks: int) -> KBConfig:
    return KBConfig(schema_version=SCHEMA_VERSION, embedding_model="fake", dim=DIM, chunk_size=100,
                    chunk_overlap=10, created_at="2024-01-01T00:00:00+00:00", ann_min_chunks=ann_min_chunks)


def put(store: Store, source: str, texts: list[str], first_id: int, seed: int = 0) -> np.ndarray:
    vecs = np.random.default_rng(seed).standard_normal((len(texts), DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    chunks = [Chunk(id=first_id + i, source=source, text=t) for i, t in enumerate(texts)]
    doc = Document(source=source, kind="txt", pages=None, rows=None, chunks=len(chunks),
                   added_at="2024-01-01T00:00:00+00:00", sha256=source)
    store.put_document(doc, chunks, vecs, [t.split() for t in texts])
    return vecs


def test_the_index_turns_approximate_at_the_threshold_and_back_below_half(tmp_path):
    path = tmp_path / "kb"
    with Store.create(path, config(ann_min_chunks=600)) as store, store.writer():
        vecs = {s: put(store, s, [f"t{i}" for i in range(250)], first_id=1000 * n, seed=n)
                for n, s in enumerate(("a", "b"), start=1)}
    with Store.open(path) as store:
        assert not vectors.is_approximate(store._index)  # 500 < 600
        with store.writer():
            vecs["c"] = put(store, "c", [f"t{i}" for i in range(250)], first_id=3000, seed=3)
        assert vectors.is_approximate(store._index)  # 750: rebuilt as IVF when the block flushed
        # The nearest neighbour of a stored vector is itself, with about its cosine of 1.
        (top, cosine), *_ = store.dense_search(vecs["b"][7], 5)
        assert top == 2007 and cosine == pytest.approx(1.0, abs=0.02)
    with Store.open(path) as store:  # index.faiss holds the IVF index and is read back as one
        assert vectors.is_approximate(store._index) and store.chunk_count() == 750
        with store.writer():
            store.remove_document("c")
        assert vectors.is_approximate(store._index)  # 500 is not below half the threshold
        with store.writer():
            store.remove_document("b")
        assert not vectors.is_approximate(store._index) and store.chunk_count() == 250
        assert store.dense_search(vecs["a"][3], 1)[0][0] == 1003


def test_a_config_written_before_the_setting_existed_gets_the_default(tmp_path):
    path = tmp_path / "kb"
    Store.create(path, config(ann_min_chunks=5)).close()
    raw = json.loads((path / "config.json").read_text())
    del raw["ann_min_chunks"]
    (path / "config.json").write_text(json.dumps(raw))
    with Store.open(path) as store:
        assert store.config == replace(config(0), ann_min_chunks=KBConfig.ann_min_chunks)


@pytest.fixture
def common_and_rare(tmp_path, monkeypatch):
    monkeypatch.setattr(fts, "ROW_BUDGET", 5)
    with Store.create(tmp_path / "kb", config(ann_min_chunks=0)) as store:
        put(store, "a", [f"common filler{i}" for i in range(10)] + ["common rare", "rare common common"], 1)
        yield store


def test_a_token_over_the_row_budget_is_dropped_and_only_fills_a_short_result(common_and_rare):
    hits = common_and_rare.keyword_search(["common", "rare"], 5)
    assert {cid for cid, _ in hits[:2]} == {11, 12}  # the chunks with "rare", ranked by BM25
    assert all(score > 0 for _, score in hits[:2])
    assert len(hits) == 5 and all(score == 0.0 for _, score in hits[2:])  # filled with "common"-only rows


def test_the_rarest_token_is_kept_even_over_the_budget(common_and_rare):
    hits = common_and_rare.keyword_search(["common"], 3)
    assert len(hits) == 3 and all(score > 0 for _, score in hits)


def test_any_token_that_occurs_still_finds_a_row(common_and_rare):
    # The unknown-name refusal asks whether any of a name's tokens occurs at all (k=1).
    assert common_and_rare.keyword_search(["absent", "common"], 1) != []
    assert common_and_rare.keyword_search(["absent"], 1) == []


def test_under_the_budget_nothing_is_dropped(common_and_rare, monkeypatch):
    monkeypatch.setattr(fts, "ROW_BUDGET", 1000)
    hits = common_and_rare.keyword_search(["common", "rare"], 12)
    assert len(hits) == 12 and all(score > 0 for _, score in hits)
    assert hits[0][0] in (11, 12)
