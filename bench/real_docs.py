"""Answers on documents we did not write: the blind sets in data/eval/real/ over Chinese files of other people.

The knowledge base is the files of ../shared/corpus listed in data/eval/real/FILES.txt (PDFs, Word, Excel, CSV,
markdown by third parties). Each question is asked through `KnowledgeBase.ask` with the shipped defaults and
the bundled models, and scored: retrieval rank, right answer, refused, cited, citations that hold the evidence,
and numbers or names stated that no cited passage holds ("unsupported"). Kinds are reported apart: Chinese questions,
English questions over the Chinese text, table questions (the gold source is a sheet, a CSV, or a table), and
out-of-KB questions.

The model's drafts and re-ranking scores are kept by their exact input in the work directory, so a second run
after a change that leaves the prompt alone replays them and takes a minute; a changed prompt is answered
afresh (`--fresh` ignores the cache).

The same measures are taken on the CMRC2018 subset (`--set cmrc2018`, its first 40 questions; no out-of-KB ones).

    python -m bench.real_docs [--set dev|test|cmrc2018] [--no-write] [--fresh] [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from bench.common import DEFAULT_WORK, ROOT, SHARED, RunInfo, publish, require_offline_env

REAL = ROOT / "data" / "eval" / "real"
TABLE_SUFFIXES = (".xlsx", ".csv")
CMRC_QUESTIONS = 40  # of 300: each is a model call, about 15 s on two cores


class Recorded:
    """The real model behind a cache of drafts and scores keyed by their exact input."""

    def __init__(self, real, path: Path, fresh: bool) -> None:
        self.real, self.path = real, path
        self.memo: dict[str, object] = {} if fresh or not path.exists() else json.loads(path.read_text("utf-8"))
        self.name = real.name
        self.generated = self.replayed = 0

    def _key(self, *parts) -> str:
        return hashlib.sha256(json.dumps(parts, ensure_ascii=False, sort_keys=True).encode()).hexdigest()

    def count_tokens(self, text: str) -> int:
        return self.real.count_tokens(text)

    def log_likelihood(self, messages, reply: str, *, lead: str = ""):
        key = self._key("score", messages, reply, lead)
        if key not in self.memo:
            self.memo[key] = self.real.log_likelihood(messages, reply, lead=lead)
        return self.memo[key]

    def stream(self, messages, **sampling):
        key = self._key("draft", messages, sampling)
        if key in self.memo:
            self.replayed += 1
            yield self.memo[key]
            return
        self.generated += 1
        pieces = []
        for piece in self.real.stream(messages, **sampling):
            pieces.append(piece)
            yield piece
        self.memo[key] = "".join(pieces)

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.memo, ensure_ascii=False), encoding="utf-8")
        tmp.replace(self.path)


@dataclass
class Row:
    id: str
    kind: str  # "zh", "en" or "out"
    table: bool
    rank: int | None
    refused: bool
    correct: bool
    cited: bool
    precise: list[bool]
    unsupported: list[str]
    answer: str
    draft: str  # the model's text before the checks


def kind_of(q) -> str:
    from rag.language import asks_in_chinese

    return "out" if not q.answerable else ("zh" if asks_in_chinese(q.question) else "en")


def tables(path: Path) -> set[str]:
    """The ids of the questions whose gold answer sits in a table: a sheet, a CSV, or a table of a page."""
    raw = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return {r["id"] for r in raw if r.get("source", "").endswith(TABLE_SUFFIXES)
            or any(w in r.get("locator", "").lower() for w in ("表", "table", "row", "行"))}


def ask_all(kb, questions, model: Recorded, table_ids: set[str]) -> list[Row]:
    from rag.answer.citations import without_markers
    from rag.answer.facts import invented_names, invented_numbers
    from rag.evaluate import answer_correct, holds_evidence

    rows = []
    for n, q in enumerate(questions, 1):
        hits = kb.search(q.question, 5)
        rank = next((i for i, h in enumerate(hits, 1) if holds_evidence(q, h.text, h.source)), None)
        answer = kb.ask(q.question)
        stated = without_markers(answer.text)
        unsupported = sorted(invented_numbers(stated, answer.citations, q.question)
                             | invented_names(stated, answer.citations, q.question)) if answer.citations else []
        rows.append(Row(q.id, kind_of(q), q.id in table_ids, rank, answer.refused,
                        q.answerable and not answer.refused and answer_correct(q, answer.text),
                        bool(answer.citations), [holds_evidence(q, c.text, c.source) for c in answer.citations],
                        unsupported, answer.text, answer.draft))
        model.save()
        print(f"  {n}/{len(questions)} {q.id} {'refused' if answer.refused else 'answered'}: {answer.text[:60]!r}",
              flush=True)
    return rows


def _share(rows: list[Row], test) -> str:
    return f"{sum(1 for r in rows if test(r))}/{len(rows)}" if rows else "–"


def summary(rows: list[Row]) -> list[tuple[str, str]]:
    zh = [r for r in rows if r.kind == "zh"]
    en = [r for r in rows if r.kind == "en"]
    table = [r for r in rows if r.table and r.kind != "out"]
    out = [r for r in rows if r.kind == "out"]
    answerable = zh + en
    answered = [r for r in rows if not r.refused]
    precise = [p for r in answered if r.kind != "out" for p in r.precise]
    return [
        ("retrieval recall@5, answerable", _share(answerable, lambda r: r.rank is not None)),
        ("answer accuracy, Chinese questions", _share(zh, lambda r: r.correct)),
        ("answer accuracy, English questions", _share(en, lambda r: r.correct)),
        ("answer accuracy, table questions", _share(table, lambda r: r.correct)),
        ("out-of-KB questions refused", _share(out, lambda r: r.refused)),
        ("answerable questions refused", _share(answerable, lambda r: r.refused)),
        ("answers with a citation", _share(answered, lambda r: r.cited)),
        ("citations holding the evidence", f"{sum(precise)}/{len(precise)}"),
        ("answers stating a number or name no cited passage holds", _share(answered, lambda r: bool(r.unsupported))),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="dev", help="which data/eval/real/SET.jsonl (default dev), or cmrc2018")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--fresh", action="store_true", help="ignore the cached drafts and scores")
    parser.add_argument("--quick", action="store_true", help="smoke run: the first 12 questions")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    require_offline_env()
    info = RunInfo()

    from bench.cmrc2018 import prepare
    from bench.embcache import EmbeddingCache
    from bench.quality_kb import CachedEmbedder
    from rag import KnowledgeBase, Settings
    from rag.evaluate import load_questions

    work = args.work / "real-docs"
    work.mkdir(parents=True, exist_ok=True)
    if args.set == "cmrc2018":
        docs, questions = prepare(SHARED / "benchmarks" / "cmrc2018", work / "cmrc2018")
        files, questions, table_ids = [docs], questions[:CMRC_QUESTIONS], set()
        about = (f"The CMRC2018 subset's 848 Wikipedia passages (../shared/benchmarks/cmrc2018), its first "
                 f"{len(questions)} questions")
    else:
        listed = (REAL / "FILES.txt").read_text("utf-8").splitlines()
        # Resolved, since chunk ids hash the path: from another checkout the same files must be the same chunks.
        files = [(SHARED / "corpus" / line.strip()).resolve() for line in listed if line.strip() and line[0] != "#"]
        questions, table_ids = load_questions(REAL / f"{args.set}.jsonl"), tables(REAL / f"{args.set}.jsonl")
        about = (f"{len(files)} third-party Chinese files of ../shared/corpus (data/eval/real/FILES.txt), "
                 f"{len(questions)} questions written blind (data/eval/real/{args.set}.jsonl)")
    questions = questions[:12 if args.quick else None]
    base = Settings.load().replace(workers=1)
    real = KnowledgeBase(settings=base)
    cache = EmbeddingCache(args.work / "embeddings.sqlite", f"{base.embedding_model}|rag")
    embedder = CachedEmbedder(real.embedder, cache)
    model = Recorded(real.generator, work / "model-memo.json", args.fresh)
    kb_dir = work / f"kb-{args.set}"  # one per set, so that two sets can run at once
    shutil.rmtree(kb_dir, ignore_errors=True)
    with KnowledgeBase(kb_dir, base.replace(kb=str(kb_dir)), embedder=embedder, generator=model) as kb:
        report = kb.add(files)
        failed = ", ".join(Path(p).name for p, _ in report.failed)
        print(f"{len(report.added)} files, {sum(d.chunks for d in kb.documents())} chunks"
              + (f"; failed: {failed}" if failed else ""), flush=True)
        rows = ask_all(kb, questions, model, table_ids)
    cache.close()
    (work / f"{args.set}-answers.json").write_text(
        json.dumps([r.__dict__ for r in rows], ensure_ascii=False, indent=1), encoding="utf-8")
    table = "\n".join(f"| {label} | {value} |" for label, value in summary(rows))
    markdown = (f"## 8. Answers on documents we did not write (`{args.set}` set)\n\n"
                f"{info.markdown()}\n\n{about}. Model calls: {model.generated} drafts generated, "
                f"{model.replayed} replayed from the cache.\n\n| | |\n|---|---|\n{table}\n")
    publish(f"real_docs_{args.set}", markdown, write=not (args.no_write or args.quick))


if __name__ == "__main__":
    main()
