"""The Markdown report of `bench.quality`: retrieval by ranker and question set, then answers by ranker."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.common import RunInfo, ratio, table

RANKERS = ("hybrid", "dense", "keyword", "langchain")
LABELS = {"hybrid": "project hybrid (shipped)", "dense": "project dense only", "keyword": "project keyword only",
          "langchain": "LangChain FAISS retriever"}


@dataclass
class SetResult:
    name: str
    retrieval: dict  # ranker -> rag.evaluate.EvalResult over every question
    answers: dict = field(default_factory=dict)  # ranker -> EvalResult over the answered questions
    chunks: int = 0
    lc_chunks: int | None = None


def _f(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def retrieval_table(results: list[SetResult]) -> str:
    rankers = [r for r in RANKERS if r in results[0].retrieval]
    rows = []
    for res in results:
        h, lc = res.retrieval["hybrid"], res.retrieval.get("langchain")
        for label, attr in (("recall@1", "recall_at_1"), ("recall@5", "recall_at_5"), ("MRR", "mrr")):
            v = {m: getattr(r, attr) for m, r in res.retrieval.items()}
            rows.append([f"{res.name}, {h.answerable} answerable" if label == "recall@1" else "", label,
                         *(_f(v[m]) for m in rankers), ratio(v["hybrid"], v.get("langchain")) if lc else "–"])
    return table(["question set", "metric", *(LABELS[m] for m in rankers), "hybrid / LangChain"], rows)


def answer_table(res: SetResult) -> str:
    rankers = [r for r in RANKERS if r in res.answers]
    metrics = (("answer keyword accuracy", "answer_accuracy"), ("answers with a citation", "answers_cited"),
               ("citation precision", "citation_precision"),
               ("refusal rate, unanswerable questions (want 1)", "refusal_unanswerable"),
               ("refusal rate, answerable questions (want 0)", "false_refusal"))
    rows = []
    for label, attr in metrics:
        v = {m: getattr(res.answers[m], attr) for m in rankers}
        rows.append([label, *(_f(v[m]) for m in rankers),
                     ratio(v["hybrid"], v.get("langchain")) if "langchain" in v else "–"])
    return table(["metric", *(LABELS[m] for m in rankers), "hybrid / LangChain"], rows)


def report(results: list[SetResult], llm: dict, info: RunInfo, quick: bool) -> str:
    lines = ["*Smoke run (`--quick`): numbers are indicative only.*\n"] if quick else []
    lines += [("Recall@k: the share of answerable questions with a passage holding the evidence (or from the gold "
               "file) in the top k; MRR over the top 5. Project: 160-token chunks; hybrid = e5 dense + jieba BM25 "
               "fused by weighted RRF. LangChain: FAISS similarity search over RecursiveCharacterTextSplitter "
               "chunks (160 e5 tokens, Chinese separators), same e5 model with its 'query: '/'passage: ' prompts."),
              "", retrieval_table(results), "",
              "Chunks: " + "; ".join(f"{r.name}: project {r.chunks}" + (f", LangChain {r.lc_chunks}"
                                                                        if r.lc_chunks else "")
                                     for r in results if not r.name.startswith("test")) + "."]
    rows = []
    for r in results:
        h, lc = r.retrieval["hybrid"], r.retrieval.get("langchain")
        rows.append([r.name, _f(h.floor_keeps_answerable), _f(h.floor_refuses_unanswerable),
                     _f(lc.floor_keeps_answerable) if lc else "–", _f(lc.floor_refuses_unanswerable) if lc else "–"])
    lines += ["", "Relevance floor (dense cosine 0.75, the first refusal layer; applied to LangChain's cosines too):",
              "", table(["question set", "project: keeps answerable", "project: refuses unanswerable",
                         "LangChain: keeps answerable", "LangChain: refuses unanswerable"], rows)]
    for r in results:
        if not r.answers:
            continue
        some = next(iter(r.answers.values()))
        lines += ["", (f"**Answers, {r.name}**: the first {some.questions} questions of a fixed shuffled order "
                       f"({some.questions - some.answerable} of them unanswerable) that every ranker answered "
                       f"within the time budget, of {r.retrieval['hybrid'].questions}; {llm['model']}. Each "
                       "ranker's top 5 passages go through the project's prompt, citation checking and refusal "
                       "rules, so only retrieval differs."), "",
                  answer_table(r)]
    if any(r.answers for r in results):
        lines += ["", (f"The LLM answered {llm['calls']} distinct prompts in {llm['minutes']:.0f} min (a prompt "
                       "two rankers share, same passages in the same order, is answered once). Refusals by the "
                       "relevance floor or the unknown-name check cost no LLM call.")]
    lines += ["", info.markdown()]
    return "\n".join(lines)
