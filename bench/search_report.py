"""The Markdown report of `bench.search`."""

from __future__ import annotations

from bench.common import RunInfo, ratio, table

GOALS_MS = {100_000: 50.0, 1_000_000: 150.0}


def _pp(pair) -> str:
    return "{:.1f} / {:.1f}".format(*pair)


def report(results: dict[int, dict], q_ms: tuple[float, float] | None, skipped: list[str], info: RunInfo,
           quick: bool, queries: int) -> str:
    lines = ["*Smoke run (`--quick`): numbers are indicative only.*\n"] if quick else []
    lines += [(f"Hybrid = dense (FAISS) + keyword (SQLite FTS5 BM25), 50 candidates each, fused by weighted RRF, "
               f"top 5 with their texts and cosines, through `rag.retrieve.retriever.Retriever` on a KB built by "
               f"`rag.store.store.Store`. {queries} queries per size after 10 warm-up queries, one thread per query "
               "as the project searches. The baseline is the goal: p50 ≤ 50 ms at 100k and ≤ 150 ms at 1M."), "",
              table(["chunks", "vector index", "hybrid p50 / p95, ms", "goal p50, ms", "goal / p50",
                     "dense only p50 / p95", "keyword only p50 / p95", "build, s", "open, s", "disk, MB",
                     "RSS after open, MB", "peak RSS, MB"],
                    [[f"{n:,}", "IVF-SQ8 (approximate)" if r["approximate"] else "flat (exact)",
                      _pp(r["latency_ms"]["hybrid"]), f"{GOALS_MS[n]:.0f}" if n in GOALS_MS else "–",
                      ratio(GOALS_MS.get(n), r["latency_ms"]["hybrid"][0]) if n in GOALS_MS else "–",
                      _pp(r["latency_ms"]["dense"]), _pp(r["latency_ms"]["keyword"]), f"{r['build_s']:.0f}",
                      f"{r['open_s']:.1f}", f"{r['disk_mb']:.0f}", f"{r['rss_mb']:.0f}", f"{r['peak_rss_mb']:.0f}"]
                     for n, r in results.items()])]
    if q_ms:
        lines += ["", (f"Not included above: encoding the query with e5-small takes {q_ms[0]:.0f} ms (p50) / "
                       f"{q_ms[1]:.0f} ms (p95) on this machine. Build time covers writing SQLite, FTS5 and "
                       "index.faiss (and training IVF where it applies), not making the synthetic data.")]
    for n, r in results.items():
        parts = ", ".join(f"{k} {v:.0f} MB" for k, v in sorted(r["disk_parts_mb"].items()) if v >= 1)
        lines.append(f"- {n:,} chunks on disk: {parts}.")
    if skipped:
        lines += [f"- Not measured: {', '.join(skipped)}."]
    exact = [(n, r["hybrid_exact"], r["latency_ms"]["hybrid"]) for n, r in results.items() if r.get("hybrid_exact")]
    if exact:
        lines += ["", "**What the approximate index costs end to end** (the same hybrid queries with an exact flat "
                      "index swapped in)", "",
                  table(["chunks", "hybrid with IVF-SQ8 (shipped), p50 / p95 ms", "hybrid with flat, p50 / p95 ms",
                         "flat / shipped p50", "top-5 results the same"],
                        [[f"{n:,}", _pp(mine), _pp((e["p50"], e["p95"])), ratio(e["p50"], mine[0]),
                          f"{e['top5_agreement']:.1%}"] for n, e, mine in exact])]
    ann = [(n, r["ann"]) for n, r in results.items() if r.get("ann")]
    if ann:
        lines += ["", ("**Flat against approximate indexes** (same vectors; dense search alone, top 10; recall@10 "
                       "against the exact flat result)"), "",
                  table(["chunks", "index", "p50 / p95, ms", "speed-up vs flat", "recall@10", "build, s",
                         "memory, MB"],
                        [[f"{n:,}", a["index"], f"{a['p50']:.2f} / {a['p95']:.2f}", ratio(rows[0]["p50"], a["p50"]),
                          f"{a['recall']:.3f}", "with the KB" if a["build_s"] is None else f"{a['build_s']:.1f}",
                          f"{a['mb']:.0f}"]
                         for n, rows in ann for a in rows])]
    lines += ["", info.markdown()]
    return "\n".join(lines)
