"""Capture what the product does with every eval question, to show that a refactor changes nothing.

For each question of every set in data/eval/ (over data/samples, or ../shared/samples for shared_samples)
and of the CMRC2018 subset, it writes one JSON line: the top hits of `KnowledgeBase.search` (file, locator,
a digest of the text, fused score, cosine, keyword rank), the rank of the first hit holding the evidence, and
what `KnowledgeBase.ask` makes of a draft: the final text, the citations and whether it refused, with a
digest of the prompt the model was handed. Run it before and after a change and `diff` the two files.

The real embedder (e5) and the real tokenizer are used; passage vectors come from `bench.embcache`. The model
itself is replaced where it would write or score, so that a capture takes minutes and is exact:
- drafts: for the fixed list in data/capture/drafts.jsonl (every 16th question of each set, every 60th of
  CMRC2018), the model's real draft, captured once with `--capture-drafts`; for every other question a draft
  made from the prompt's first two passages, which exercises the same citation checks;
- re-ranking scores: a stand-in that hashes exactly what the scorer is handed, so the same passages and
  question give the same score, and any change to what is scored changes the recorded `scored` digest.

    python -m bench.capture --out /tmp/before.jsonl [--capture-drafts] [--quick]
    diff /tmp/before.jsonl /tmp/after.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

from bench.common import DEFAULT_WORK, ROOT, SHARED, require_offline_env

DRAFTS = ROOT / "data" / "capture" / "drafts.jsonl"
DRAFT_EVERY, CMRC_DRAFT_EVERY = 16, 60
_PASSAGE = re.compile(r"^\[(\d+)\] 来源：[^\n]*\n([^\n]+)", re.MULTILINE)


def digest(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class CaptureModel:
    """The generator handed to `KnowledgeBase`: the real model's tokenizer, a replayed or made-up draft, and a
    stand-in scorer. With `live`, drafts come from the real model and are kept in `captured`."""

    def __init__(self, real, drafts: dict[str, str], live: bool = False) -> None:
        self.real, self.drafts, self.live = real, drafts, live
        self.name = "capture"
        self.key = ""  # the question being asked, set by the caller
        self.prompt = ""  # digest of the last messages handed to `stream`
        self.scored: list[str] = []  # digests of what the scorer was handed since the last reset
        self.captured: dict[str, str] = {}

    def count_tokens(self, text: str) -> int:
        return self.real.count_tokens(text)

    def log_likelihood(self, messages, reply: str, *, lead: str = "") -> float:
        key = digest([messages, reply, lead])
        self.scored.append(key)
        return -3.0 * int(key[:8], 16) / 0xFFFFFFFF

    def stream(self, messages, **sampling):
        self.prompt = digest([messages, sampling])
        if self.live:
            pieces = []
            for piece in self.real.stream(messages, **sampling):
                pieces.append(piece)
                yield piece
            self.captured[self.key] = "".join(pieces)
            return
        yield self.drafts.get(self.key) or made_up_draft(messages[-1]["content"])


def made_up_draft(prompt: str) -> str:
    """The first line of the passages numbered 1 and 2, each cited: a draft the citation checks must sort out."""
    lines = {int(n): text.strip() for n, text in _PASSAGE.findall(prompt)}
    return "".join(f"{lines[n][:80]} [{n}]。" for n in (1, 2) if n in lines)


def question_sets(work: Path, quick: bool):
    """(set name, folder of documents, questions, take a draft every n questions)."""
    from bench.cmrc2018 import DEFAULT_DATA, prepare
    from rag.evaluate import load_questions

    sets = []
    for path in sorted((ROOT / "data" / "eval").glob("*.jsonl")):
        folder = SHARED / "samples" if path.stem == "shared_samples" else ROOT / "data" / "samples"
        sets.append((path.stem, folder, load_questions(path), DRAFT_EVERY))
    docs, cmrc = prepare(DEFAULT_DATA, work / "cmrc")
    if quick:
        cmrc = cmrc[:30]
        docs = work / "cmrc-quick"
        docs.mkdir(parents=True, exist_ok=True)
        for name in {s for q in cmrc for s in q.sources}:
            shutil.copyfile(work / "cmrc" / "docs" / name, docs / name)
    sets.append(("cmrc2018", docs, cmrc, CMRC_DRAFT_EVERY))
    return sets


def load_drafts() -> dict[str, str]:
    if not DRAFTS.exists():
        return {}
    rows = [json.loads(line) for line in DRAFTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {row["key"]: row["draft"] for row in rows}


def hit_row(hit) -> list:
    return [Path(hit.source).name, hit.locator, digest(hit.text), round(hit.score, 9),
            None if hit.dense is None else round(hit.dense, 6), hit.keyword_rank]


def capture_question(kb, model: CaptureModel, set_name: str, q) -> dict:
    from rag.evaluate import holds_evidence

    model.scored = []
    hits = kb.search(q.question)
    rank = next((i for i, h in enumerate(hits, 1) if holds_evidence(q, h.text, h.source)), None)
    searched = list(model.scored)
    model.prompt = ""
    answer = kb.ask(q.question)
    citations = [[c.number, Path(c.source).name, c.locator, digest(c.text), c.quote] for c in answer.citations]
    return {"set": set_name, "id": q.id, "rank": rank, "hits": [hit_row(h) for h in hits],
            "scored": digest(searched), "prompt": model.prompt, "drafted": model.key in model.drafts,
            "refused": answer.refused, "answer": answer.text, "citations": citations,
            "used": [digest(h.text) for h in answer.hits]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the JSON lines file to write")
    parser.add_argument("--capture-drafts", action="store_true",
                        help=f"write the real model's drafts for the fixed list to {DRAFTS.relative_to(ROOT)}")
    parser.add_argument("--quick", action="store_true", help="the first 30 CMRC2018 questions only")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    args = parser.parse_args()
    require_offline_env()

    from bench.embcache import EmbeddingCache
    from bench.quality_kb import CachedEmbedder
    from ingest.loaders import SUPPORTED_SUFFIXES
    from rag import KnowledgeBase, Settings

    work = args.work / "capture"
    # One parse worker: with several, files are stored in completion order, so chunk ids (which break ties
    # between equal scores) would differ from run to run.
    base = Settings.load().replace(workers=1)
    real = KnowledgeBase(settings=base)
    cache = EmbeddingCache(args.work / "embeddings.sqlite", f"{base.embedding_model}|rag")
    embedder = CachedEmbedder(real.embedder, cache)
    model = CaptureModel(real.generator, load_drafts(), live=args.capture_drafts)
    built: dict[Path, Path] = {}
    with open(args.out, "w", encoding="utf-8") as out:
        for set_name, folder, questions, every in question_sets(work, args.quick):
            if folder not in built:
                kb_dir = built[folder] = work / f"kb-{len(built)}"
                shutil.rmtree(kb_dir, ignore_errors=True)
                # Chunk ids hash the file's path, and ids break ties between equal scores: ingest copies at
                # one path, so that captures from two checkouts of the repo compare.
                docs = work / "docs" / f"kb-{len(built) - 1}"
                shutil.rmtree(docs, ignore_errors=True)
                shutil.copytree(folder, docs)
                files = [p for p in sorted(docs.rglob("*")) if p.suffix.lower() in SUPPORTED_SUFFIXES]
                with KnowledgeBase(kb_dir, base.replace(kb=str(kb_dir)), embedder=embedder) as kb:
                    kb.add(files)
                    documents = [[Path(d.source).name, d.kind, d.pages, d.rows, d.chunks, d.title]
                                 for d in sorted(kb.documents(), key=lambda d: Path(d.source).name)]
                out.write(json.dumps({"kb": folder.name, "documents": documents}, ensure_ascii=False) + "\n")
            with KnowledgeBase(built[folder], base.replace(kb=str(built[folder])), embedder=embedder,
                               generator=model) as kb:
                for i, q in enumerate(questions):
                    model.key = f"{set_name}/{q.id}"
                    if args.capture_drafts and i % every:
                        continue
                    row = capture_question(kb, model, set_name, q)
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
                    out.flush()
            print(f"{set_name}: {len(questions)} questions", file=sys.stderr, flush=True)
    if args.capture_drafts:
        DRAFTS.parent.mkdir(parents=True, exist_ok=True)
        with open(DRAFTS, "w", encoding="utf-8") as f:
            for key, draft in model.captured.items():
                f.write(json.dumps({"key": key, "draft": draft}, ensure_ascii=False) + "\n")
    cache.close()


if __name__ == "__main__":
    main()
