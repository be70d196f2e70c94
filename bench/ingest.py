"""Ingest throughput: the project's `kb.add` against the embedding ceiling and a LangChain baseline.

Corpus: data/samples, the 848 CMRC2018 passages as .txt files, and a generated office corpus (210 PDF, DOCX
and XLSX files, `bench.make_corpus`). Each contender runs in its own process, one after the other, with its
model loaded and warmed up before the clock starts; the parent samples each process tree's RSS (parse
workers included).

- project: `KnowledgeBase.add(files)` into an empty KB, then again on the unchanged corpus in the same
  process. The run is instrumented from the outside to show where the time goes: waiting for parse workers,
  embedding, keyword tokens, SQLite writes.
- re-ingest in a new process: the `rag ingest` command itself on the unchanged corpus, timed from the
  parent (interpreter start, imports, model load, hashing every file).
- ceiling: `SentenceTransformer.encode` on the texts the project embedded, in one call, so
  sentence-transformers sorts them all by length (the least padding possible). On 2 cores a full extra pass
  costs ~10 minutes, so by default it encodes every 2nd chunk in document order: a uniform sample of the
  same texts; `--ceiling-every 1` encodes all of them.
- LangChain: loaders → RecursiveCharacterTextSplitter → HuggingFaceEmbeddings → FAISS.from_documents
  (`bench.baseline`). It has no incremental mode: re-ingesting is the same full run.
- drift probe: before its clock starts, every contender times `encode` on the same 48 fixed texts. The
  machine is shared, so this is its speed at the time each contender ran; the report shows it.
- batches: on a sample of the project's texts, one globally sorted `encode` against batches of 32 in
  document order, to show what length-sorting is worth.

    python -m bench.ingest [--quick] [--work /tmp/rag-bench] [--cmrc 848] [--office 210]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bench.common import (
    DEFAULT_WORK,
    ROOT,
    Clock,
    PeakRSS,
    RunInfo,
    require_offline_env,
    write_section,
)
from bench.ingest_report import report

SAMPLE_DOCS = ROOT / "data" / "samples"
PROBE_TEXTS = 48


# -- the corpus ---------------------------------------------------------------------------------------
def build_corpus(work: Path, cmrc: int, office: int) -> list[str]:
    from bench.cmrc2018 import DEFAULT_DATA, prepare
    from bench.make_corpus import make_corpus
    from ingest.loaders import SUPPORTED_SUFFIXES

    docs, _ = prepare(DEFAULT_DATA, work / "cmrc")
    cmrc_files = sorted(docs.glob("*.txt"))[:cmrc]
    office_files = make_corpus(work / "office", office) if office else []
    samples = sorted(p for p in SAMPLE_DOCS.iterdir() if p.suffix.lower() in SUPPORTED_SUFFIXES)
    return [str(p.resolve()) for p in (*samples, *cmrc_files, *office_files)]


def probe(encode) -> float:
    """Chunks/s of `encode` on 48 fixed CMRC texts of ~150 tokens: the machine's speed right now."""
    from bench.cmrc2018 import DEFAULT_DATA

    lines = (DEFAULT_DATA / "cmrc2018_dev_sub300.corpus.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"][:180] for line in lines[-PROBE_TEXTS:]]
    t = time.perf_counter()
    encode(texts)
    return len(texts) / (time.perf_counter() - t)


# -- contenders, each run in a child process -------------------------------------------------------------
def run_project(files: list[str], kb_dir: Path) -> dict:
    from rag import indexer
    from rag.api import KnowledgeBase
    from rag.settings import Settings
    from rag.store import Store

    shutil.rmtree(kb_dir, ignore_errors=True)
    settings = Settings.load(kb=str(kb_dir))
    kb = KnowledgeBase(kb_dir, settings)
    kb.embedder.warm_up()
    machine = probe(kb.embedder.embed)
    clock = Clock()
    # Instrumented from the outside: the names the indexer looks up at call time are replaced by timed ones.
    kb.embedder.embed = clock.wrap("embed", kb.embedder.embed)
    indexer.parse_files = clock.wrap_iter("wait for parse workers", indexer.parse_files)
    indexer.tokenize = clock.wrap("keyword tokens (jieba)", indexer.tokenize)
    Store.put_document = clock.wrap("SQLite + FTS5 writes", Store.put_document)
    Store.flush = clock.wrap("write index.faiss", Store.flush)
    t = time.perf_counter()
    first = kb.add(files)
    first_s = time.perf_counter() - t
    t = time.perf_counter()
    again = kb.add(files)
    again_s = time.perf_counter() - t
    kb.close()
    return {"probe": machine, "seconds": first_s, "added": len(first.added), "failed": len(first.failed),
            "embedded": first.chunks_embedded, "parts": clock.totals,
            "again": {"seconds": again_s, "unchanged": len(again.unchanged), "embedded": again.chunks_embedded},
            "workers": settings.workers or os.cpu_count(), "batch": settings.embed_batch_size}


def project_texts(kb_dir: Path) -> list[str]:
    """The exact texts the project embedded (`rag.indexer.embed_text`), in document order."""
    db = sqlite3.connect(kb_dir / "kb.sqlite")
    rows = db.execute("SELECT heading, text FROM chunks ORDER BY source, page, sheet, row_start, start").fetchall()
    db.close()
    return [f"{h}\n{t}" if h else t for h, t in rows]


def run_ceiling(kb_dir: Path, every: int, sample: int) -> dict:
    from sentence_transformers import SentenceTransformer

    from bench.baseline import e5_path
    from rag.settings import Settings

    settings = Settings.load()
    batch = settings.embed_batch_size
    texts = project_texts(kb_dir)[::every]
    model = SentenceTransformer(e5_path(settings), device="cpu")

    def encode(batch_texts: list[str]):
        return model.encode(batch_texts, prompt_name="passage", batch_size=batch, normalize_embeddings=True,
                            show_progress_bar=False)

    machine = probe(encode)
    t = time.perf_counter()
    encode(texts)
    out = {"probe": machine, "chunks": len(texts), "every": every, "seconds": time.perf_counter() - t}
    if sample:
        part = texts[len(texts) // 3:len(texts) // 3 + sample]
        t = time.perf_counter()
        encode(part)
        sorted_s = time.perf_counter() - t
        t = time.perf_counter()
        for i in range(0, len(part), batch):  # each call sorts only its own batch
            encode(part[i:i + batch])
        out["sample"] = {"chunks": len(part), "sorted": sorted_s, "document_order": time.perf_counter() - t}
    return out


def run_langchain(files: list[str], cache: Path) -> dict:
    from langchain_community.vectorstores import FAISS

    from bench import baseline
    from bench.embcache import EmbeddingCache
    from rag.settings import Settings

    path = baseline.e5_path(Settings.load())
    emb = baseline.embeddings(path)
    machine = probe(emb.embed_documents)
    split = baseline.splitter(path)
    t0 = time.perf_counter()
    docs = baseline.load_all(files)
    t1 = time.perf_counter()
    chunks = split.split_documents(docs)
    t2 = time.perf_counter()
    store = FAISS.from_documents(chunks, emb)
    t3 = time.perf_counter()
    # Outside the clock: hand the vectors to bench.quality, which needs the same ones.
    c = EmbeddingCache(cache, f"{path}|langchain")
    vectors = store.index.reconstruct_n(0, store.index.ntotal)
    c.put((store.docstore.search(store.index_to_docstore_id[i]).page_content, vectors[i])
          for i in range(store.index.ntotal))
    c.close()
    return {"probe": machine, "seconds": t3 - t0, "docs": len(files), "chunks": len(chunks),
            "parts": {"loaders": t1 - t0, "splitter": t2 - t1, "embed + FAISS": t3 - t2}}


def child(args: argparse.Namespace) -> None:
    files = Path(args.files_list).read_text(encoding="utf-8").splitlines()
    kb_dir = Path(args.work) / "kb-project"
    cache = Path(args.work) / "embeddings.sqlite"
    if args.child == "project":
        result = run_project(files, kb_dir)
        from bench.baseline import e5_path
        from bench.embcache import export_project_vectors
        from rag.settings import Settings

        export_project_vectors(kb_dir, cache, e5_path(Settings.load()))
    elif args.child == "ceiling":
        result = run_ceiling(kb_dir, args.ceiling_every, args.sample)
    else:
        result = run_langchain(files, cache)
    Path(args.out).write_text(json.dumps(result), encoding="utf-8")


def watch(name: str, cmd: list[str], log: Path | None = None) -> tuple[float, float]:
    """Run `cmd` from the repository root; (wall seconds, peak RSS of its process tree in MB)."""
    print(f"-- {name} …", flush=True)
    started = time.perf_counter()
    with open(log or os.devnull, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out if log else None, stderr=out if log else None)
        with PeakRSS(proc.pid) as peak:
            code = proc.wait()
    if code:
        raise SystemExit(f"the {name} run failed (exit {code})" + (f"; see {log}" if log else ""))
    return time.perf_counter() - started, peak.mb


def spawn(name: str, args: argparse.Namespace, files_list: Path) -> dict:
    out = Path(args.work) / f"result-{name}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "bench.ingest", "--child", name, "--work", str(args.work),
           "--files-list", str(files_list), "--out", str(out), "--sample", str(args.sample),
           "--ceiling-every", str(args.ceiling_every)]
    wall, peak = watch(name, cmd)
    result = json.loads(out.read_text(encoding="utf-8"))
    result["peak_rss_mb"], result["process_seconds"] = peak, wall
    print(f"   {name}: {json.dumps(result, ensure_ascii=False)}", flush=True)
    return result


def reingest_cli(args: argparse.Namespace, files: list[str]) -> dict:
    """`rag ingest FILES --kb DIR` on the unchanged corpus, as a user would type it again."""
    # `python -c` rather than the `rag` script: the script's sys.path starts at .venv/bin, so it would import
    # the editable install's tree; this way the code under test is the checkout the benchmark runs from.
    cmd = [sys.executable, "-c", "import sys; from rag.cli import main; sys.exit(main())", "ingest", *files,
           "--kb", str(Path(args.work) / "kb-project")]
    wall, peak = watch("rag ingest (unchanged corpus, new process)", cmd, Path(args.work) / "reingest.log")
    return {"seconds": wall, "peak_rss_mb": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: samples, 20 CMRC passages, 12 office files")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--cmrc", type=int, default=848, help="CMRC2018 passages to include (all: 848)")
    parser.add_argument("--office", type=int, default=210, help="generated PDF/DOCX/XLSX files")
    parser.add_argument("--ceiling-every", type=int, default=2, help="the ceiling encodes every Nth chunk (1: all)")
    parser.add_argument("--sample", type=int, default=256, help="chunks for the batching comparison (0: skip)")
    parser.add_argument("--no-langchain", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--files-list", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    require_offline_env()
    if args.child:
        return child(args)
    if args.quick:
        args.cmrc, args.office, args.sample = 20, 12, 32
        args.work = args.work / "quick"
    info = RunInfo()
    args.work.mkdir(parents=True, exist_ok=True)
    files = build_corpus(args.work, args.cmrc, args.office)
    files_list = args.work / "ingest-files.txt"
    files_list.write_text("\n".join(files) + "\n", encoding="utf-8")
    print(f"corpus: {len(files)} files", flush=True)
    results = {"project": spawn("project", args, files_list)}
    results["ceiling"] = spawn("ceiling", args, files_list)
    if not args.no_langchain:
        results["langchain"] = spawn("langchain", args, files_list)
    results["cli"] = reingest_cli(args, files)
    (args.work / "ingest-results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    markdown = "## 1. Ingest throughput\n\n" + report(files, results, info, args.quick)
    print("\n" + markdown)
    if not args.no_write:
        write_section("ingest", markdown)


if __name__ == "__main__":
    main()
