"""Retrieval (and optionally answer) quality on the CMRC2018 subset in ../shared/benchmarks/cmrc2018.

Each of the 848 Wikipedia passages becomes one .txt file (title line, then text) in a work directory, which is
ingested into a KB there; the 300 questions become a `rag eval` file whose gold `sources` are the passage files.

    python -m bench.cmrc2018 [--work /tmp/cmrc] [--answers 40]
"""

from __future__ import annotations

import argparse
import json
import os
import random
from dataclasses import asdict
from pathlib import Path

from rag.api import KnowledgeBase
from rag.evaluate import Question, evaluate, format_report
from rag.settings import Settings

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "cmrc2018"


def prepare(data: Path, work: Path) -> tuple[Path, list[Question]]:
    docs = work / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for line in (data / "cmrc2018_dev_sub300.corpus.jsonl").read_text(encoding="utf-8").splitlines():
        passage = json.loads(line)
        target = docs / passage["doc"]
        if not target.exists():
            target.write_text(f"{passage['title']}\n{passage['text']}\n", encoding="utf-8")
    questions = []
    for line in (data / "cmrc2018_dev_sub300.questions.jsonl").read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        questions.append(Question(question=q["question"], answerable=q["answerable"], sources=q["gold_docs"],
                                  answers=q["answers"], id=q["qid"]))
    with open(work / "questions.jsonl", "w", encoding="utf-8") as f:
        for q in questions:
            f.write(json.dumps(asdict(q), ensure_ascii=False) + "\n")
    return docs, questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "rag-cmrc2018")
    parser.add_argument("--answers", type=int, default=0, help="also answer this many random questions")
    args = parser.parse_args()
    docs, questions = prepare(args.data, args.work)
    settings = Settings.load(kb=str(args.work / "kb"))
    with KnowledgeBase(settings.kb, settings) as kb:
        report = kb.add([docs])
        print(f"ingest: {len(report.added)} added, {len(report.unchanged)} unchanged, "
              f"{report.chunks_embedded} chunks embedded in {report.seconds:.1f} s")
        for mode in ("dense", "keyword", "hybrid"):
            print(f"\n== {mode}\n{format_report(evaluate(kb, questions, mode=mode))}")
        if args.answers:
            sample = random.Random(0).sample(questions, min(args.answers, len(questions)))
            print(f"\n== answers on {len(sample)} questions\n{format_report(evaluate(kb, sample, answers=True))}")


if __name__ == "__main__":
    main()
