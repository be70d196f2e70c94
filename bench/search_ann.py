"""The cost of approximate vector search in `bench.search`: latency, recall and memory against exact search.

Two views, both on the KB's own vectors (read back from SQLite, the store's source of truth):
- dense search alone, top 10: the exact flat index against IVF-SQ8 (what the store builds from
  `KBConfig.ann_min_chunks` on) at nprobe 8 and 32, and HNSW up to 100k chunks, where building it stays
  reasonable on 2 cores. Recall@10 is against the exact result.
- hybrid search end to end, where the KB ships IVF: the same queries with an exact flat index swapped in,
  and how many of the 5 fused results agree.
"""

from __future__ import annotations

import os
import time

import numpy as np

from bench.search_data import DIM, percentiles


def _timed(search, queries: np.ndarray) -> tuple[float, float]:
    times = []
    for q in queries:
        t = time.perf_counter()
        search(q.reshape(1, -1))
        times.append((time.perf_counter() - t) * 1000)
    return percentiles(times)


def stored_vectors(store) -> tuple[np.ndarray, np.ndarray]:
    from rag.store import kbdb

    parts = list(kbdb.vectors_since(store._db, -1, DIM))  # the benchmark reads the store's own SQLite
    return np.concatenate([i for i, _ in parts]), np.concatenate([m for _, m in parts])


def exact_index(ids: np.ndarray, xb: np.ndarray):
    import faiss

    index = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))
    index.add_with_ids(xb, ids)
    return index


def ann_compare(store, queries: np.ndarray, n: int) -> list[dict]:
    import faiss

    from rag.store import vectors

    ids, xb = stored_vectors(store)
    faiss.omp_set_num_threads(1)  # as `rag.store.vectors.search` does: one query, one thread
    t = time.perf_counter()
    flat = exact_index(ids, xb)
    flat_build = time.perf_counter() - t
    exact = flat.search(queries, 10)[1]
    rows = []

    def measure(name: str, index, build_s: float, size_mb: float) -> None:
        found = index.search(queries, 10)[1]
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact)])
        p50, p95 = _timed(lambda q: index.search(q, 10), queries)
        rows.append({"index": name, "build_s": build_s, "p50": p50, "p95": p95, "recall": float(recall),
                     "mb": size_mb})

    measure("Flat, exact" + (" (shipped)" if not vectors.is_approximate(store._index) else ""), flat, flat_build,
            xb.nbytes / 2**20)
    faiss.omp_set_num_threads(os.cpu_count() or 1)  # building may use every core
    t = time.perf_counter()
    ivf = store._index if vectors.is_approximate(store._index) else vectors.build(DIM, ids, xb, ann_min=1)
    ivf_build = time.perf_counter() - t if ivf is not store._index else None
    faiss.omp_set_num_threads(1)
    ivf_mb = ivf.invlists.compute_ntotal() * (DIM + 8) / 2**20  # 1 byte a dimension plus the 8-byte id
    shipped = vectors.is_approximate(store._index)
    for nprobe in (8, vectors.NPROBE):
        ivf.nprobe = nprobe
        tag = " (shipped)" if shipped and nprobe == vectors.NPROBE else ""
        measure(f"IVF{ivf.nlist},SQ8 nprobe={nprobe}{tag}", ivf, ivf_build, ivf_mb)
    ivf.nprobe = vectors.NPROBE
    if n <= 100_000:
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        t = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(DIM, 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 40
        hnsw.add(xb)
        hnsw_build = time.perf_counter() - t
        faiss.omp_set_num_threads(1)
        hnsw.hnsw.efSearch = 64
        exact_pos = flat.index.search(queries, 10)[1]  # HNSW holds positions, not ids
        found = hnsw.search(queries, 10)[1]
        p50, p95 = _timed(lambda q: hnsw.search(q, 10), queries)
        rows.append({"index": "HNSW32 efSearch=64", "build_s": hnsw_build, "p50": p50, "p95": p95,
                     "recall": float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact_pos)])),
                     "mb": (xb.nbytes + n * 32 * 2 * 4) / 2**20})
    return rows


def hybrid_with_exact(store, retriever, embedder, queries: list[tuple[np.ndarray, str]],
                      shipped_top: list[list[int]]) -> dict:
    """Hybrid latency with an exact index swapped in for the shipped IVF one, and top-5 agreement."""
    ids, xb = stored_vectors(store)
    shipped, store._index = store._index, exact_index(ids, xb)  # same generation: `_sync` keeps it
    del xb
    times, agree = [], []
    try:
        for j, (v, text) in enumerate(queries):
            embedder.next = v
            t = time.perf_counter()
            hits = retriever.search(text, 5)
            times.append((time.perf_counter() - t) * 1000)
            agree.append(len({h.chunk_id for h in hits} & set(shipped_top[j])) / 5)
    finally:
        store._index = shipped
    p50, p95 = percentiles(times[10:])
    return {"p50": p50, "p95": p95, "top5_agreement": float(np.mean(agree[10:]))}
