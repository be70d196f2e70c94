"""Answer latency: `kb.stream_ask` against a bare `llama_cpp.Llama` call on the identical prompt.

KB: data/samples. Questions: answerable dev-set questions that retrieval does not refuse, so the LLM runs.
Two `Llama` objects with the same file and settings: `kb.generator`'s own and a bare one. Both see the same
prompts in the same order, so llama-cpp-python's prompt-prefix reuse helps both equally; the order within
each question alternates so a drift in machine load does not favour either side.

- time to first token: for `kb`, from the call (retrieval, prompt building and the prompt's evaluation all
  included); for the bare call, from `create_chat_completion` (prompt evaluation only);
- decode speed: answer tokens after the first, over the time after the first.

The prefix experiment uses the bare `Llama`: each question once after `reset()` (nothing cached) and once
right after another question's prompt (the system prompt and the worked example are then already in the KV
cache), to show what the fixed prefix is worth.

    python -m bench.answer [--quick] [--questions 6]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from bench.common import (
    DEFAULT_WORK,
    ROOT,
    RunInfo,
    ratio,
    require_offline_env,
    table,
    write_section,
)


def bare_stream(llama, messages, options):
    for part in llama.create_chat_completion(messages=messages, stream=True, **options):
        piece = part["choices"][0]["delta"].get("content")
        if piece:
            yield piece


def timed(start: float, pieces, count_tokens) -> dict:
    """Consume a stream of text pieces; TTFT from `start`, decode speed after the first piece."""
    first, text = None, []
    for piece in pieces:
        first = first or time.perf_counter()
        text.append(piece)
    end = time.perf_counter()
    tokens = count_tokens("".join(text)) if text else 0
    decode = (tokens - 1) / (end - first) if first and tokens > 1 and end > first else None
    return {"ttft": (first or end) - start, "total": end - start, "tokens": tokens, "decode": decode,
            "text": "".join(text)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 questions")
    parser.add_argument("--questions", type=int, default=6)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    require_offline_env()
    if args.quick:
        args.questions = 2
    info = RunInfo()

    from llama_cpp import Llama

    from rag.api import KnowledgeBase
    from rag.evaluate import load_questions
    from rag.settings import Settings

    settings = Settings.load(kb=str(args.work / "answer-kb"))
    kb = KnowledgeBase(settings.kb, settings)
    kb.add([ROOT / "data" / "samples"])
    s = settings
    options = {"temperature": s.temperature, "top_p": s.top_p, "max_tokens": s.max_tokens}
    gen = kb.generator
    count = gen.count_tokens  # loads kb's Llama
    threads = s.n_threads or os.cpu_count() or 1
    bare = Llama(model_path=str(gen.model_path), n_ctx=s.n_ctx, n_threads=threads, n_threads_batch=threads,
                 verbose=False)

    sent = []  # the prompts kb's generator receives: the bare call gets exactly these
    real_stream = gen.stream

    def recording_stream(messages, **sampling):
        sent.append(messages)
        return real_stream(messages, **sampling)

    gen.stream = recording_stream
    cases = []
    for q in load_questions(ROOT / "data" / "eval" / "dev.jsonl"):
        if len(cases) == args.questions:
            break
        if not q.answerable:
            continue
        # stream_ask builds its prompt when called and generates only when iterated: calling it and dropping
        # the stream records kb's exact prompt, or nothing when it refuses without the LLM.
        sent.clear()
        kb.stream_ask(q.question)
        if sent:
            cases.append((q.question, sent[0]))
    # Everything before the question's own turn (system prompt, worked example) is the same for every question.
    prefix_tokens = sum(count(m["content"]) for m in cases[0][1][:-1])

    # Warm both models (page the weights in) on the same throw-away prompt.
    for run in (lambda: real_stream(cases[0][1], **{**options, "max_tokens": 4}),
                lambda: bare_stream(bare, cases[0][1], {**options, "max_tokens": 4})):
        for _ in run():
            pass

    rows = []
    for i, (question, messages) in enumerate(cases):
        prompt_tokens = sum(count(m["content"]) for m in messages)

        def run_kb(question=question):
            sent.clear()
            t = time.perf_counter()
            stream = kb.stream_ask(question)
            r = timed(t, stream, count)
            r["retrieval"] = stream.answer.timings.get("retrieval", 0.0)
            return r

        def run_bare(messages=messages):
            return timed(time.perf_counter(), bare_stream(bare, messages, options), count)

        if i % 2 == 0:
            k, b = run_kb(), run_bare()
        else:
            b, k = run_bare(), run_kb()
        if sent != [messages]:
            raise SystemExit(f"kb.stream_ask sent another prompt than the bare call got for {question!r}")
        rows.append({"question": question, "prompt_tokens": prompt_tokens, "kb": k, "bare": b})
        print(f"{question[:30]}: kb ttft {k['ttft']:.2f} s, {k['decode'] or 0:.1f} tok/s; "
              f"bare ttft {b['ttft']:.2f} s, {b['decode'] or 0:.1f} tok/s", flush=True)

    prefix = []
    for i, (question, messages) in enumerate(cases):
        bare.reset()
        cold = timed(time.perf_counter(), bare_stream(bare, messages, {**options, "max_tokens": 8}), count)
        bare.reset()
        for _ in bare_stream(bare, cases[i - 1][1], {**options, "max_tokens": 1}):  # another question's prompt
            pass
        warm = timed(time.perf_counter(), bare_stream(bare, messages, {**options, "max_tokens": 8}), count)
        prefix.append((cold["ttft"], warm["ttft"]))
        print(f"prefix: cold {cold['ttft']:.2f} s, warm {warm['ttft']:.2f} s", flush=True)
    kb.close()

    med = statistics.median
    k_ttft, b_ttft = med(r["kb"]["ttft"] for r in rows), med(r["bare"]["ttft"] for r in rows)
    k_dec = med(r["kb"]["decode"] for r in rows if r["kb"]["decode"])
    b_dec = med(r["bare"]["decode"] for r in rows if r["bare"]["decode"])
    k_tot, b_tot = med(r["kb"]["total"] for r in rows), med(r["bare"]["total"] for r in rows)
    retrieval = med(r["kb"]["retrieval"] for r in rows)
    cold, warm = med(c for c, _ in prefix), med(w for _, w in prefix)
    lines = ["*Smoke run (`--quick`): numbers are indicative only.*\n"] if args.quick else []
    lines += [(f"Model {gen.name}, n_ctx {s.n_ctx}, {threads} threads, temperature {s.temperature}, "
              f"{len(rows)} questions from data/eval/dev.jsonl over data/samples; prompts of "
              f"{min(r['prompt_tokens'] for r in rows)}–{max(r['prompt_tokens'] for r in rows)} tokens "
              "(message contents, without the chat template). Medians over the questions. Goal: overhead ≤ 10 %."),
              "",
              table(["metric", "project `kb.stream_ask`", "bare `Llama.create_chat_completion`", "project / bare",
                     "overhead"], [
                  ["time to first token, s", f"{k_ttft:.2f}", f"{b_ttft:.2f}", ratio(k_ttft, b_ttft),
                   f"{k_ttft / b_ttft - 1:+.0%}"],
                  ["decode speed, tokens/s", f"{k_dec:.1f}", f"{b_dec:.1f}", ratio(k_dec, b_dec),
                   f"{b_dec / k_dec - 1:+.0%}"],
                  ["whole answer, s", f"{k_tot:.2f}", f"{b_tot:.2f}", ratio(k_tot, b_tot), f"{k_tot / b_tot - 1:+.0%}"],
              ]),
              "",
              (f"Of the project's time to first token, retrieval (e5 query embedding, FAISS, FTS5, fusion) took "
              f"{retrieval:.2f} s (median); the rest is prompt building and the model evaluating the prompt."),
              "",
              "**Reusing the fixed prompt prefix** (bare `Llama`, time to first token, median)", "",
              table(["KV cache before the question", "time to first token, s", "vs nothing cached"], [
                  ["nothing (`reset()`)", f"{cold:.2f}", "1×"],
                  [f"another question's prompt (shares the ~{prefix_tokens}-token system prompt and example)",
                   f"{warm:.2f}", ratio(cold, warm) + " faster"],
              ]),
              "",
              "Per question:", "",
              table(["question", "prompt tokens", "kb TTFT, s", "bare TTFT, s", "kb tok/s", "bare tok/s",
                     "answer tokens kb / bare"],
                    [[r["question"][:28], r["prompt_tokens"], f"{r['kb']['ttft']:.2f}", f"{r['bare']['ttft']:.2f}",
                      f"{r['kb']['decode'] or 0:.1f}", f"{r['bare']['decode'] or 0:.1f}",
                      f"{r['kb']['tokens']} / {r['bare']['tokens']}"] for r in rows]),
              "", info.markdown()]
    markdown = "## Answer latency\n\n" + "\n".join(lines)
    print("\n" + markdown)
    if not args.no_write:
        write_section("answer", markdown)


if __name__ == "__main__":
    main()
