"""Answer latency: `kb.stream_ask` against a bare `llama_cpp.Llama` call on the identical prompt.

KB: data/samples. Questions: answerable dev-set questions that the KB answers with the LLM (not refused
before it). Two `Llama` objects with the same file and settings: `kb.generator`'s own and a bare one. The
bare call gets exactly the messages kb's generator received (recorded, and checked on every run).

Both sides start every run with an empty KV cache, so each evaluates its whole prompt, and each question
runs `--repeats` times per side in ABBA order; the best run per side counts, because other work on a shared
machine only ever adds time.

- time to first token: for `kb`, from the call (retrieval, prompt building and the prompt's evaluation all
  included); for the bare call, from `create_chat_completion` (prompt evaluation only);
- decode speed: answer tokens after the first, over the time after the first.

The prefix experiment uses the bare `Llama`: each question once after `reset()` (nothing cached) and once
right after another question's prompt (the system prompt and the worked example are then already in the KV
cache), to show what the fixed prefix is worth.

    python -m bench.answer [--quick] [--questions 6] [--repeats 2]
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
    publish,
    ratio,
    require_offline_env,
    table,
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


def best(runs: list[dict]) -> dict:
    """The best of a side's repeats: other work on the machine only ever adds time, never removes it."""
    decodes = [r["decode"] for r in runs if r["decode"]]
    return {"ttft": min(r["ttft"] for r in runs), "total": min(r["total"] for r in runs),
            "decode": max(decodes) if decodes else None, "tokens": runs[0]["tokens"],
            "retrieval": min(r.get("retrieval", 0.0) for r in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 questions")
    parser.add_argument("--questions", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=2, help="runs per question and side; the best counts")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    require_offline_env()
    if args.quick:
        args.questions, args.repeats = 2, 1
    info = RunInfo()

    from llama_cpp import Llama

    from rag.api import KnowledgeBase
    from rag.evaluate import load_questions
    from rag.models.llm.llama import extra_buffer_types
    from rag.settings import Settings

    settings = Settings.load(kb=str(args.work / "answer-kb"))
    kb = KnowledgeBase(settings.kb, settings)
    kb.add([ROOT / "data" / "samples"])
    s = settings
    options = {"temperature": s.temperature, "top_p": s.top_p, "max_tokens": s.max_tokens}
    gen = kb.generator
    count = gen.count_tokens  # loads kb's Llama
    threads = s.n_threads or os.cpu_count() or 1
    layout = gen.runtime().trial  # the bare call loads the same way: the CPU path the health check chose
    with extra_buffer_types(layout.repack):
        bare = Llama(model_path=str(gen.model_path), n_ctx=s.n_ctx, n_threads=threads, n_threads_batch=threads,
                     n_gpu_layers=layout.gpu_layers, verbose=False)

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

    # Warm both models (page the weights in) on the last question's prompt: the first one measured then finds
    # only the shared prefix in the KV cache, like every other, not its whole prompt.
    for run in (lambda: real_stream(cases[-1][1], **{**options, "max_tokens": 4}),
                lambda: bare_stream(bare, cases[-1][1], {**options, "max_tokens": 4})):
        for _ in run():
            pass

    kb_llama = gen._model()  # kb's own Llama: its KV cache is emptied before each run, like the bare one's
    rows = []
    for i, (question, messages) in enumerate(cases):
        prompt_tokens = sum(count(m["content"]) for m in messages)

        def run_kb(question=question, messages=messages):
            kb_llama.reset()
            sent.clear()
            t = time.perf_counter()
            stream = kb.stream_ask(question)
            r = timed(t, stream, count)
            if sent != [messages]:
                raise SystemExit(f"kb.stream_ask sent another prompt than the bare call got for {question!r}")
            r["retrieval"] = stream.answer.timings.get("retrieval", 0.0)
            return "kb", r

        def run_bare(messages=messages):
            bare.reset()
            return "bare", timed(time.perf_counter(), bare_stream(bare, messages, options), count)

        runs: dict[str, list[dict]] = {"kb": [], "bare": []}
        for j in range(args.repeats):  # ABBA...: neither side always goes first
            for run in ((run_kb, run_bare) if (i + j) % 2 == 0 else (run_bare, run_kb)):
                side, r = run()
                runs[side].append(r)
        k, b = best(runs["kb"]), best(runs["bare"])
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
    # The ratios pair each question's two sides, then take the median over questions.
    r_ttft = med(r["kb"]["ttft"] / r["bare"]["ttft"] for r in rows)
    r_dec = med(r["kb"]["decode"] / r["bare"]["decode"] for r in rows if r["kb"]["decode"] and r["bare"]["decode"])
    r_tot = med(r["kb"]["total"] / r["bare"]["total"] for r in rows)
    retrieval = med(r["kb"]["retrieval"] for r in rows)
    cold, warm = med(c for c, _ in prefix), med(w for _, w in prefix)
    lines = ["*Smoke run (`--quick`): numbers are indicative only.*\n"] if args.quick else []
    lines += [(f"Model {gen.name}, n_ctx {s.n_ctx}, {threads} threads, temperature {s.temperature}, "
              f"{len(rows)} questions from data/eval/dev.jsonl over data/samples; prompts of "
              f"{min(r['prompt_tokens'] for r in rows)}–{max(r['prompt_tokens'] for r in rows)} tokens "
              "(message contents, without the chat template). Both sides start every run with an empty KV cache "
              f"and run each question {args.repeats}× in alternating order; the best run of each side counts. "
              "Values are medians over the questions; project / bare is the median of the per-question ratios. "
              "Goal: overhead ≤ 10 %."),
              "",
              table(["metric", "project `kb.stream_ask`", "bare `Llama.create_chat_completion`", "project / bare",
                     "overhead"], [
                  ["time to first token, s", f"{k_ttft:.2f}", f"{b_ttft:.2f}", f"{r_ttft:.2f}×", f"{r_ttft - 1:+.0%}"],
                  ["decode speed, tokens/s", f"{k_dec:.1f}", f"{b_dec:.1f}", f"{r_dec:.2f}×", f"{1 / r_dec - 1:+.0%}"],
                  ["whole answer, s", f"{k_tot:.2f}", f"{b_tot:.2f}", f"{r_tot:.2f}×", f"{r_tot - 1:+.0%}"],
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
    markdown = "## 3. Answer latency\n\n" + "\n".join(lines)
    publish("answer", markdown, write=not args.no_write)


if __name__ == "__main__":
    main()
