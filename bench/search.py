"""Search latency and scale: hybrid `Retriever.search` over synthetic knowledge bases of 10k, 100k and 1M chunks.

Each size runs in its own process, so its RSS is its own. The KB is built through the real `Store` from
synthetic data (`bench.search_data`), so it gets the index the project would give it: exact (flat) below
`KBConfig.ann_min_chunks` (200k), IVF-SQ8 from there on. The query embedding itself is not included (a fake
embedder returns the prepared vector); the e5 query encoding time is measured once, separately.

`bench.search_ann` compares the flat and approximate indexes on the same vectors (latency, recall@10,
memory) and, where the KB ships IVF, reruns hybrid search with an exact index swapped in.

The KBs live in the work directory (default /tmp/rag-bench; ~3.8 GB at 1M chunks) and are deleted after
each size.

    python -m bench.search [--quick] [--sizes 10000,100000,1000000] [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import (
    DEFAULT_WORK,
    ROOT,
    PeakRSS,
    RunInfo,
    dir_size_mb,
    publish,
    require_offline_env,
    rss_mb,
)
from bench.search_data import DIM, FixedEmbedder, Synth, build, percentiles
from bench.search_report import report

WARM_UP = 10  # queries not timed: the first few fault pages and caches in


def make_queries(store, n: int, count: int) -> list[tuple[np.ndarray, str]]:
    """Query i: a stored chunk's vector plus noise, and 4 of that chunk's words."""
    rng = np.random.default_rng(n + 1)
    ids = [int(i) for i in rng.integers(1, n + 1, count)]
    chunk_rows, stored = store.chunks(ids), store.known_vectors(ids)
    out = []
    for i in ids:
        v = stored[i] + rng.standard_normal(DIM).astype(np.float32) * (0.3 / np.sqrt(DIM))
        words = list(rng.choice(chunk_rows[i].text.split(), 4, replace=False))
        out.append((v / np.linalg.norm(v), " ".join(words)))
    return out


def run_size(n: int, work: Path, queries: int, ann: bool) -> dict:
    from bench.search_ann import ann_compare, hybrid_with_exact
    from rag.retrieve.retriever import Retriever
    from rag.store import vectors
    from rag.store.store import Store

    kb = work / f"search-{n}"
    out = build(kb, n, Synth(seed=n))
    out["disk_mb"] = dir_size_mb(kb)
    out["disk_parts_mb"] = {p.name: p.stat().st_size / 2**20 for p in kb.iterdir() if p.is_file()}
    base_rss = rss_mb()
    t = time.perf_counter()
    store = Store.open(kb)
    out["open_s"] = time.perf_counter() - t
    out["index"] = type(store._index).__name__
    out["approximate"] = vectors.is_approximate(store._index)
    embedder = FixedEmbedder()
    qs = make_queries(store, n, queries + WARM_UP)
    out["latency_ms"], hybrid_top = {}, []
    for mode in ("hybrid", "dense", "keyword"):
        retriever = Retriever(store, embedder, mode=mode)
        times = []
        for v, text in qs:
            embedder.next = v
            t = time.perf_counter()
            hits = retriever.search(text, 5)
            times.append((time.perf_counter() - t) * 1000)
            if mode == "hybrid":
                hybrid_top.append([h.chunk_id for h in hits])
        out["latency_ms"][mode] = percentiles(times[WARM_UP:])
    out["rss_mb"] = rss_mb()
    out["rss_added_mb"] = out["rss_mb"] - base_rss
    if ann:
        out["ann"] = ann_compare(store, np.stack([v for v, _ in qs[WARM_UP:WARM_UP + 100]]), n)
        if out["approximate"]:
            out["hybrid_exact"] = hybrid_with_exact(store, Retriever(store, embedder, mode="hybrid"), embedder, qs,
                                                    hybrid_top)
    store.close()
    shutil.rmtree(kb, ignore_errors=True)  # 1M chunks take ~3.8 GB
    return out


def query_embedding_ms(n: int = 30) -> tuple[float, float]:
    """The e5 query encoding that a real search adds on top of the numbers above."""
    from rag.api import KnowledgeBase
    from rag.settings import Settings

    emb = KnowledgeBase(settings=Settings.load()).embedder
    emb.embed(["预热"], query=True)
    times = []
    for i in range(n):
        t = time.perf_counter()
        emb.embed([f"温度参数有什么作用？第{i}个问题"], query=True)
        times.append((time.perf_counter() - t) * 1000)
    return percentiles(times)


def spawn(n: int, args: argparse.Namespace) -> dict:
    out = args.work / f"search-result-{n}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "bench.search", "--child", str(n), "--work", str(args.work),
           "--queries", str(args.queries), "--out", str(out)] + (["--no-ann"] if args.no_ann else [])
    print(f"-- {n:,} chunks …", flush=True)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT)
    with PeakRSS(proc.pid) as peak:
        code = proc.wait()
    if code:
        raise SystemExit(f"the {n} run failed (exit {code})")
    result = json.loads(out.read_text(encoding="utf-8"))
    result["peak_rss_mb"], result["process_s"] = peak.mb, time.perf_counter() - started
    print("   " + json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 10k and 100k chunks, 50 queries")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--no-ann", action="store_true", help="skip the approximate-index comparison")
    parser.add_argument("--min-free-gb", type=float, default=8.0, help="skip sizes that would leave less free disk")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    require_offline_env()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.child:
        result = run_size(args.child, args.work, args.queries, not args.no_ann)
        Path(args.out).write_text(json.dumps(result), encoding="utf-8")
        return
    if args.quick:
        args.sizes, args.queries = "10000,100000", 50
    info = RunInfo()
    results, skipped = {}, []
    for n in (int(x) for x in args.sizes.split(",")):
        need_gb = n * 4.2e-6  # ~3.8 KB a chunk: vector blob, FTS5 rows, index.faiss, and the atomic-write copy
        free_gb = shutil.disk_usage(args.work).free / 2**30
        if free_gb - need_gb < args.min_free_gb:
            skipped.append(f"{n:,} chunks (needs ~{need_gb:.1f} GB, {free_gb:.1f} GB free)")
            continue
        results[n] = spawn(n, args)
    q_ms = query_embedding_ms()
    markdown = "## 2. Search latency and scale\n\n" + report(results, q_ms, skipped, info, args.quick, args.queries)
    publish("search", markdown, write=not args.no_write)


if __name__ == "__main__":
    main()
