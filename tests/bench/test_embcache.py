import numpy as np

from bench.embcache import EmbeddingCache, export_project_vectors
from rag.api import KnowledgeBase
from rag.settings import Settings


def test_the_vectors_of_a_rebuilt_kb_are_exported_from_its_live_data(tmp_path, fake_embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# 长江\n\n长江全长约六千三百公里，是中国第一长河。", encoding="utf-8")
    settings = Settings(kb=str(tmp_path / "kb"), cache_dir=str(tmp_path / "cache"), workers=1, rerank_depth=0)
    with KnowledgeBase(settings.kb, settings, embedder=fake_embedder) as kb:
        kb.add([docs])
        kb.rebuild()  # the live kb.sqlite now sits in a data-* subdirectory that config.json names
        chunks = kb.search("长江有多长？", k=1)
    export_project_vectors(tmp_path / "kb", tmp_path / "cache.sqlite", "fake")
    cache = EmbeddingCache(tmp_path / "cache.sqlite", "fake|rag")
    try:
        text = f"长江\n{chunks[0].text}"  # what the embedder saw: the heading path, then the chunk
        found = cache.get([text])
        assert found and np.allclose(found[0], fake_embedder.embed([text])[0])
    finally:
        cache.close()
