"""Retrieval and answer quality: the shipped hybrid against dense-only, keyword-only and a LangChain retriever.

Question sets (each over its own KB, as `rag eval` runs them):
- data/eval/dev.jsonl, test.jsonl and the blind test2.jsonl … test8.jsonl over data/samples;
- data/eval/shared_samples.jsonl over ../shared/samples;
- the CMRC2018 subset (300 questions over 848 passages, `bench.cmrc2018`).

Every number comes from `rag.evaluate.evaluate` (the code behind `rag eval`), with the same definitions for
every ranker: a hit holds one of the question's evidence strings, or is from its gold file. The rankers are
the project's hybrid (shipped), dense-only and keyword-only, and LangChain's FAISS retriever over its own
chunks of the same files with the same e5 model (`bench.quality_kb`).

Answers (answer accuracy, citation precision, refusals) cost 10-40 s each with the real LLM on a shared
2-core machine, so they run on a time budget: dev questions in a fixed shuffled order, each answered by
every ranker before the next, until `--answer-minutes` are spent. Every ranker is then scored by `evaluate`
on the same questions (their answers replayed from `MemoGenerator`, so the metrics are `rag eval`'s own).
`--cmrc-answer-minutes` does the same on CMRC.

Passage vectors come from a cache (`bench.embcache`) that `bench.ingest` fills; run alone, this embeds what
is missing once (~20 minutes for CMRC on 2 cores) and caches it.

    python -m bench.quality [--quick] [--answer-minutes 15] [--cmrc-answer-minutes 8]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.common import (
    DEFAULT_WORK,
    ROOT,
    SHARED,
    RunInfo,
    publish,
    require_offline_env,
)
from bench.embcache import EmbeddingCache
from bench.quality_report import RANKERS, SetResult, report


@dataclass
class QuestionSet:
    name: str
    files: list[str]
    questions: list  # rag.evaluate.Question
    answer_minutes: float  # budget for answering them with the LLM; 0: retrieval only


def question_sets(work: Path, quick: bool, dev_minutes: float, cmrc_minutes: float) -> list[QuestionSet]:
    from bench.cmrc2018 import DEFAULT_DATA, prepare
    from ingest.loaders import SUPPORTED_SUFFIXES
    from rag.evaluate import load_questions

    def files(folder: Path) -> list[str]:
        return [str(p.resolve()) for p in sorted(folder.rglob("*")) if p.suffix.lower() in SUPPORTED_SUFFIXES]

    samples, shared = files(ROOT / "data" / "samples"), files(SHARED / "samples")
    docs, cmrc = prepare(DEFAULT_DATA, work / "cmrc")
    cmrc_files = [str(p.resolve()) for p in sorted(docs.glob("*.txt"))]
    if quick:  # the passages of the first 30 CMRC questions only
        cmrc = cmrc[:30]
        gold = {s for q in cmrc for s in q.sources}
        cmrc_files = [f for f in cmrc_files if Path(f).name in gold]
    ev = ROOT / "data" / "eval"
    return [QuestionSet("dev (data/samples)", samples, load_questions(ev / "dev.jsonl"), dev_minutes),
            QuestionSet("test (data/samples)", samples, load_questions(ev / "test.jsonl"), 0),
            QuestionSet("test2, written blind (data/samples)", samples, load_questions(ev / "test2.jsonl"), 0),
            QuestionSet("test3, written blind (data/samples)", samples, load_questions(ev / "test3.jsonl"), 0),
            QuestionSet("test4, written blind (data/samples)", samples, load_questions(ev / "test4.jsonl"), 0),
            QuestionSet("test5, written blind (data/samples)", samples, load_questions(ev / "test5.jsonl"), 0),
            QuestionSet("test6, written blind (data/samples)", samples, load_questions(ev / "test6.jsonl"), 0),
            QuestionSet("test7, written blind (data/samples)", samples, load_questions(ev / "test7.jsonl"), 0),
            QuestionSet("test8, written blind (data/samples)", samples, load_questions(ev / "test8.jsonl"), 0),
            QuestionSet("shared_samples (../shared/samples)", shared, load_questions(ev / "shared_samples.jsonl"), 0),
            QuestionSet("CMRC2018 subset" + (" (first 30)" if quick else ""), cmrc_files, cmrc, cmrc_minutes)]


def answer_within(kbs: dict, questions: list, minutes: float) -> dict:
    """Answer questions in a fixed shuffled order, every ranker on each, until the budget is spent; then
    score every ranker with `evaluate` on the questions all of them answered (the LLM's answers replayed)."""
    from rag.evaluate import evaluate

    order = random.Random(0).sample(questions, len(questions))
    deadline, done = time.perf_counter() + minutes * 60, []
    for q in order:
        if time.perf_counter() > deadline:
            break
        for kb in kbs.values():
            evaluate(kb, [q], answers=True)
        done.append(q)
        print(f"   answered {len(done)}: {q.question[:30]}", flush=True)
    return {ranker: evaluate(kb, done, answers=True) for ranker, kb in kbs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 30 CMRC questions, 3 minutes of answers")
    parser.add_argument("--answer-minutes", type=float, default=15, help="LLM budget for dev answers (0: none)")
    parser.add_argument("--cmrc-answer-minutes", type=float, default=8, help="LLM budget for CMRC answers")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--no-langchain", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    require_offline_env()
    if args.quick:
        args.answer_minutes, args.cmrc_answer_minutes = min(args.answer_minutes, 3), min(args.cmrc_answer_minutes, 1)
    info = RunInfo()

    from bench.baseline import e5_path
    from bench.quality_kb import (
        CachedEmbedder,
        LangChainRetriever,
        MemoGenerator,
        RankerKB,
    )
    from rag.api import KnowledgeBase
    from rag.evaluate import evaluate
    from rag.settings import Settings

    work = args.work / ("quality-quick" if args.quick else "quality")
    base = Settings.load()
    model_path = e5_path(base)
    cache_file = args.work / "embeddings.sqlite"  # shared with bench.ingest, which fills it
    rag_cache, lc_cache = (EmbeddingCache(cache_file, f"{model_path}|rag"),
                           EmbeddingCache(cache_file, f"{model_path}|langchain"))
    embedder = CachedEmbedder(KnowledgeBase(settings=base).embedder, rag_cache)
    generator = MemoGenerator(KnowledgeBase(settings=base).generator)
    built: dict[tuple[str, ...], tuple[Path, LangChainRetriever | None, int]] = {}
    results: list[SetResult] = []
    details = {}
    rankers = [r for r in RANKERS if not (args.no_langchain and r == "langchain")]
    llm_minutes = 0.0
    for qs in question_sets(work, args.quick, args.answer_minutes, args.cmrc_answer_minutes):
        key = tuple(qs.files)
        if key not in built:
            kb_dir = work / f"kb-{len(built)}"
            # A KB left by an earlier run would skip its unchanged files and keep what that run's code indexed;
            # the vectors come from the cache, so building afresh costs little.
            shutil.rmtree(kb_dir, ignore_errors=True)
            with KnowledgeBase(kb_dir, base.replace(kb=str(kb_dir)), embedder=embedder) as kb:
                kb.add(qs.files)
                chunks = sum(d.chunks for d in kb.documents())
            lc = None if args.no_langchain else LangChainRetriever(qs.files, model_path, lc_cache)
            built[key] = (kb_dir, lc, chunks)
        kb_dir, lc, chunks = built[key]
        kbs = {r: RankerKB(kb_dir, base.replace(kb=str(kb_dir)), ranker=r, embedder=embedder, generator=generator,
                           langchain=lc if r == "langchain" else None) for r in rankers}
        by = {r: evaluate(kb, qs.questions, mode=r if r != "langchain" else "dense") for r, kb in kbs.items()}
        for r, res in by.items():
            print(f"{qs.name} / {r}: R@1 {res.recall_at_1:.3f} R@5 {res.recall_at_5:.3f} MRR {res.mrr:.3f}", flush=True)
        answered = {}
        if qs.answer_minutes:
            t = time.perf_counter()
            answered = answer_within(kbs, qs.questions, qs.answer_minutes)
            llm_minutes += (time.perf_counter() - t) / 60
        for r, kb in kbs.items():
            details[f"{qs.name} / {r}"] = [asdict(d) for d in (answered.get(r) or by[r]).details]
            kb.close()
        results.append(SetResult(qs.name, by, answered, chunks, lc.chunks if lc else None))
    rag_cache.close()
    lc_cache.close()
    (work / "quality-details.json").write_text(json.dumps(details, ensure_ascii=False, indent=1), encoding="utf-8")
    llm = {"calls": generator.calls, "model": generator.name, "minutes": llm_minutes}
    markdown = "## 4. Retrieval and answer quality\n\n" + report(results, llm, info, args.quick)
    publish("quality", markdown, write=not args.no_write)


if __name__ == "__main__":
    main()
