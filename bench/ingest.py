"""Ingest throughput: the project's `kb.add` against the embedding ceiling and a LangChain baseline.

Corpus: data/samples, the 848 CMRC2018 passages as .txt files, and a generated office corpus (210 PDF, DOCX
and XLSX files, `bench.make_corpus`).

The machine is shared, and its speed drifts by 2x within minutes as other work comes and goes; contenders
run one after the other would each see a different machine. So the corpus is cut into interleaved parts,
and the three contenders (`bench.ingest_sides`) take turns part by part, each in its own long-lived process
with its model loaded before the first part: project, ceiling, LangChain; then LangChain, project, ceiling;
and so on. A contender's time is the sum over its parts; the parent samples each process tree's RSS (parse
workers included) over its whole life.

- project: `KnowledgeBase.add(part)`, all parts into one KB; then `kb.add` of the whole unchanged corpus
  again in the same process.
- ceiling: `SentenceTransformer.encode` on the texts the project embedded in that part, in one call, so
  sentence-transformers sorts them by length (the least padding). On 2 cores a full extra pass costs ~10
  minutes, so by default it encodes every 2nd text: a uniform sample of the same texts (`--ceiling-every 1`:
  all of them). Then, on a sample, one sorted call against batches of 32 in document order.
- LangChain: loaders → RecursiveCharacterTextSplitter → HuggingFaceEmbeddings → FAISS (`bench.baseline`). It
  has no incremental mode: re-ingesting is the same full run.
- re-ingest in a new process: the `rag ingest` command itself on the unchanged corpus, timed from the
  parent (interpreter start, imports, model load, hashing every file).

    python -m bench.ingest [--quick] [--work /tmp/rag-bench] [--cmrc 848] [--office 210] [--parts 6]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import (
    DEFAULT_WORK,
    ROOT,
    PeakRSS,
    RunInfo,
    publish,
    require_offline_env,
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


class Child:
    """A contender's process (`bench.ingest_sides.serve`): send it a command, read back its answer."""

    def __init__(self, name: str, args: argparse.Namespace) -> None:
        print(f"-- starting {name} …", flush=True)
        self.name = name
        cmd = [sys.executable, "-m", "bench.ingest", "--child", name, "--work", str(args.work),
               "--ceiling-every", str(args.ceiling_every)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     encoding="utf-8")
        self.peak = PeakRSS(self.proc.pid).__enter__()
        self._read()  # {"ready": true} once the model is loaded

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the {self.name} process died (exit {self.proc.wait()})")
        return json.loads(line)

    def call(self, command: dict) -> dict:
        self.proc.stdin.write(json.dumps(command, ensure_ascii=False) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> float:
        """Ends the process; its peak RSS in MB."""
        self.proc.stdin.close()
        self.proc.wait()
        self.peak.__exit__(None, None, None)
        return self.peak.mb


def take_turns(args: argparse.Namespace, files: list[str]) -> dict:
    """Every contender ingests every part; the order rotates per part, the ceiling always after the project."""
    names = ["project", "ceiling"] + ([] if args.no_langchain else ["langchain"])
    children = {name: Child(name, args) for name in names}
    parts = [files[i::args.parts] for i in range(args.parts)]
    rounds = []
    for i, part in enumerate(parts):
        order = names if i % 2 == 0 else names[2:] + names[:2]
        row: dict = {}
        for name in order:
            payload = row["project"].pop("texts") if name == "ceiling" else part
            row[name] = children[name].call({"run": payload})
        rounds.append(row)
        print(f"   part {i + 1}/{len(parts)}: " + ", ".join(f"{n} {row[n]['seconds']:.1f} s" for n in names),
              flush=True)
    finals = {"project": children["project"].call({"finish": files}),
              "ceiling": children["ceiling"].call({"finish": args.sample})}
    if "langchain" in children:
        finals["langchain"] = children["langchain"].call({"finish": files})
    results = {}
    for name, child in children.items():
        total = {k: sum(r[name][k] for r in rounds) for k in ("seconds", "chunks")}
        results[name] = {**total, **finals[name], "peak_rss_mb": child.close(),
                         "rounds": [r[name]["seconds"] for r in rounds]}
        if name != "ceiling":
            results[name]["docs"] = sum(r[name]["docs"] for r in rounds)
            results[name]["chars"] = sum(r[name]["chars"] for r in rounds)
    results["ceiling"]["every"] = args.ceiling_every
    return results


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
    parser.add_argument("--parts", type=int, default=6, help="parts the contenders take turns on")
    parser.add_argument("--no-langchain", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    require_offline_env()
    if args.child:
        from bench.ingest_sides import serve

        return serve(args.child, args.work, args.ceiling_every)
    if args.quick:
        args.cmrc, args.office, args.sample, args.parts = 20, 12, 32, 2
        args.work = args.work / "quick"
    info = RunInfo()
    args.work.mkdir(parents=True, exist_ok=True)
    files = build_corpus(args.work, args.cmrc, args.office)
    print(f"corpus: {len(files)} files in {args.parts} parts", flush=True)
    results = take_turns(args, files)
    results["cli"] = reingest_cli(args, files)
    (args.work / "ingest-results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    markdown = "## 1. Ingest throughput\n\n" + report(files, results, info, args.quick)
    publish("ingest", markdown, write=not args.no_write)


if __name__ == "__main__":
    main()
