"""The LLM on this machine: its CPU paths, and the in-process backend against the server backend.

1. CPU paths. `rag.models.llm.probe` runs the bundled GGUF in child processes with llama.cpp's repacked weight
   layouts on and off (what the health check chooses between), and with each `--python` given (another
   llama-cpp-python build, such as one compiled with GGML_NATIVE=OFF by `make llama-portable`). Each path
   runs `--repeats` times, in turns; the median prompt and decode speeds count.
2. Backends. One KB (data/samples), the same answerable dev questions, the same GGUF, greedy decoding
   (temperature 0) and re-ranking off on both sides, so both see the same passages. The server is
   `python -m rag.models.llm.serve` (llama-cpp-python's OpenAI server, with the same n_ctx and threads, and
   logits_all off, as in-process generation runs). Each question is asked on both sides in ABBA order,
   after both have answered a warm-up question, so both KV caches hold the same shared prefix.
   Time to first token is from `stream_ask` to the first piece, minus retrieval (which runs in this process
   for both); it includes the server's HTTP, token counting and streaming. The answer texts are compared.

    python -m bench.llm_backends [--quick] [--questions 8] [--repeats 3] [--python /path/to/python ...]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.common import DEFAULT_WORK, ROOT, RunInfo, publish, ratio, require_offline_env, table


def probe_paths(model: Path, pythons: list[str], repeats: int) -> list[dict]:
    paths = [(py, layout) for py in pythons for layout in ("on", "off")]
    runs: dict[tuple[str, str], list[dict]] = {p: [] for p in paths}
    for _ in range(repeats):
        for py, layout in paths:
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            done = subprocess.run([py, "-m", "rag.models.llm.probe", str(model), "--repack", layout], env=env,
                                  capture_output=True, text=True)
            if done.returncode:
                runs[(py, layout)].append({"error": f"exit {done.returncode}: {done.stderr.strip()[-200:]}"})
                continue
            report = json.loads(done.stdout.strip().splitlines()[-1])
            runs[(py, layout)].append({"prompt": report["prompt_tokens"] / report["prompt_s"],
                                       "decode": report["decode_tokens"] / report["decode_s"],
                                       "load": report["load_s"], "build": report["system_info"]})
    rows = []
    for (py, layout), results in runs.items():
        ok = [r for r in results if "error" not in r]
        if not ok:
            rows.append({"python": py, "layout": layout, "error": results[0]["error"]})
            continue
        rows.append({"python": py, "layout": layout, "build": ok[0]["build"],
                     "prompt": statistics.median(r["prompt"] for r in ok),
                     "decode": statistics.median(r["decode"] for r in ok),
                     "load": statistics.median(r["load"] for r in ok), "runs": len(ok)})
    return rows


def echo_scoring(model: Path, repack: bool) -> dict:
    """What llama-cpp-python's server computes for `/v1/completions` with echo and logprobs (its
    `create_completion`), against the prompt tokens' true log-probabilities, on the scorer's calibration text."""
    import numpy as np
    from llama_cpp import Llama

    from rag.models.llm.llama import extra_buffer_types
    from rag.models.llm.scoring import CALIBRATION

    with extra_buffer_types(repack):
        llama = Llama(model_path=str(model), n_ctx=512, logits_all=True, verbose=False)
    tokens = llama.tokenize(CALIBRATION.encode(), add_bos=False, special=True)
    llama.eval(tokens)
    logits = np.asarray(llama.scores[:len(tokens)], dtype=np.float64)
    logprobs = logits - logits.max(1, keepdims=True)
    logprobs -= np.log(np.exp(logprobs).sum(1, keepdims=True))
    tail = range(len(tokens) * 2 // 3, len(tokens))
    started = time.perf_counter()
    echoed = llama.create_completion(CALIBRATION, max_tokens=1, echo=True, logprobs=1, temperature=0)
    seconds = time.perf_counter() - started
    served = echoed["choices"][0]["logprobs"]["token_logprobs"]
    llama.close()
    return {"tokens": len(tokens), "true": float(np.mean([logprobs[i - 1, tokens[i]] for i in tail])),
            "shifted": float(np.mean([logprobs[i, tokens[i]] for i in tail])),
            "served": float(np.mean([served[i] for i in tail])), "seconds": seconds}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, n_ctx: int, threads: int, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "rag.models.llm.serve", "--host", "127.0.0.1", "--port", str(port), "--n_ctx",
               str(n_ctx), "--n_threads", str(threads), "--n_threads_batch", str(threads), "--logits_all", "false"]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server died:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=5):
                return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"the server did not come up:\n{log.read_text(errors='replace')[-3000:]}")


def ask(kb, question: str) -> dict:
    stream = kb.stream_ask(question)
    for _ in stream:
        pass
    answer = stream.answer
    t = answer.timings
    return {"ttft": t.get("first_token", t["total"]) - t["retrieval"], "total": t["total"] - t["retrieval"],
            "text": answer.draft}


def compare_backends(args, settings, questions: list[str]) -> tuple[list[dict], int]:
    from rag.api import KnowledgeBase

    threads = settings.n_threads or os.cpu_count() or 1
    port = free_port()
    server = start_server(port, settings.n_ctx, threads, args.work / "server.log")
    try:
        local = KnowledgeBase(settings.kb, settings)
        remote = KnowledgeBase(settings.kb, settings.replace(
            llm_backend="openai", llm_base_url=f"http://127.0.0.1:{port}/v1"), embedder=local.embedder)
        for kb in (local, remote):  # warm-up: page the weights in, and cache the shared prompt prefix
            ask(kb, questions[-1])
        rows = []
        for i, question in enumerate(questions):
            order = [("in-process", local), ("server", remote)]
            results = dict((name, ask(kb, question)) for name, kb in (order if i % 2 == 0 else order[::-1]))
            rows.append({"question": question, **{f"{k}_{m}": v[m] for k, v in results.items()
                                                   for m in ("ttft", "total", "text")}})
        token_counting = remote.generator.token_counting
    finally:
        server.terminate()
        server.wait(timeout=30)
    return rows, token_counting


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 questions, 1 repeat")
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each CPU path; the median counts")
    parser.add_argument("--python", action="append", default=[],
                        help="another Python whose llama-cpp-python build is measured too")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    require_offline_env()
    if args.quick:
        args.questions, args.repeats = 2, 1
    info = RunInfo()
    args.work.mkdir(parents=True, exist_ok=True)

    from rag.api import KnowledgeBase
    from rag.evaluate import load_questions
    from rag.models.bundled import resolve_llm_model
    from rag.settings import Settings

    settings = Settings.load(kb=str(args.work / "answer-kb"), temperature=0.0, rerank_depth=0)
    with KnowledgeBase(settings.kb, settings) as kb:
        kb.add([ROOT / "data" / "samples"])
    model = resolve_llm_model(settings.llm_model, Path(settings.cache_dir))

    paths = probe_paths(model, [sys.executable, *args.python], args.repeats)
    from rag.models.llm import make_backend

    echo = echo_scoring(model, make_backend(settings).runtime().trial.repack)
    questions = [q.question for q in load_questions(ROOT / "data" / "eval" / "dev.jsonl") if q.answerable]
    rows, counting = compare_backends(args, settings, questions[:args.questions])

    same = sum(r["in-process_text"] == r["server_text"] for r in rows)
    med = {k: statistics.median(r[k] for r in rows) for k in ("in-process_ttft", "server_ttft", "in-process_total",
                                                                "server_total")}
    ratios = [r["server_ttft"] / r["in-process_ttft"] for r in rows]
    path_rows = []
    for p in paths:
        build = "this venv" if p["python"] == sys.executable else p["python"]
        if "error" in p:
            path_rows.append([build, p["layout"], "–", "–", "–", p["error"]])
            continue
        path_rows.append([build, p["layout"], f"{p['prompt']:.1f}", f"{p['decode']:.1f}", f"{p['load']:.2f}",
                          p["build"].replace("|", "/")[:90]])
    markdown = "\n\n".join([
        "## 6. The LLM's CPU paths and backends",
        f"Model {model.name}. **CPU paths**: `rag.models.llm.probe` in a child process (a 140-token prompt read twice, "
        f"the faster read counts; 24 decoded tokens), {args.repeats} runs a path in turns, medians. "
        "\"repacked on\" is llama.cpp's default (its extra buffer types: AMX, AVX2/AVX-512 repack); the health "
        "check keeps it unless the other layout is faster by 10 %, or it crashes.",
        table(["llama-cpp-python build", "repacked weights", "prompt tokens/s", "decode tokens/s", "load, s",
               "build flags"], path_rows),
        f"**Backends**: {len(rows)} answerable dev questions over data/samples, greedy decoding, re-ranking off "
        "on both sides; the server is `python -m rag.models.llm.serve` (llama-cpp-python's OpenAI server, logits_all "
        f"off) on 127.0.0.1; its token counts come from {counting}. Time to first token excludes retrieval, "
        "which runs in this process for both. Goal: the same answers, and the server within 10 % of "
        "in-process.",
        table(["metric", "in-process", "server", "server / in-process"], [
            ["time to first token, s (median)", f"{med['in-process_ttft']:.2f}", f"{med['server_ttft']:.2f}",
             f"{statistics.median(ratios):.3f}× (per-question median)"],
            ["whole answer, s (median)", f"{med['in-process_total']:.2f}", f"{med['server_total']:.2f}",
             ratio(med["server_total"], med["in-process_total"], 3)],
            ["same answer text", "", "", f"{same} of {len(rows)}"],
        ]),
        "Per question:",
        table(["question", "in-process TTFT, s", "server TTFT, s", "same text"], [
            [r["question"][:28], f"{r['in-process_ttft']:.2f}", f"{r['server_ttft']:.2f}",
             "yes" if r["in-process_text"] == r["server_text"] else "NO"] for r in rows]),
        "**Scoring through llama-cpp-python's server** (its `create_completion` with `echo` and `logprobs`, "
        "which its `/v1/completions` calls), on the re-ranker's calibration text, whose last third repeats "
        f"the rest ({echo['tokens']} tokens). Mean log-probability of that third's tokens:",
        table(["computed as", "mean log-probability"], [
            ["each token by the prediction before it (the OpenAI definition)", f"{echo['true']:.2f}"],
            ["each token by the prediction after it", f"{echo['shifted']:.2f}"],
            ["as the server returns it", f"{echo['served']:.2f}"],
        ]),
        ("The server returns the shifted numbers, so the scorer's check turns re-ranking through it off."
         if abs(echo["served"] - echo["shifted"]) < 0.01 else
         "The server no longer returns the shifted numbers: the scorer's check decides on what it returns.")
        + f" The call took "
        f"{echo['seconds']:.1f} s for {echo['tokens']} tokens (it sorts the whole vocabulary for every token).",
        info.markdown(),
    ])
    publish("llm_backends", markdown, not args.no_write)


if __name__ == "__main__":
    main()
