"""The child side of the health check: load a GGUF the way `LlamaGenerator` would, run it, and time it.

`python -m rag.models.llm.probe MODEL --repack on|off --gpu-layers N --threads N` prints one JSON line. It is run in
a child process because a CPU path that faults (an AMX tile instruction in a VM, a build for another CPU)
kills the process that runs it; here that is the child, and `health` names the signal. It runs both ways the
product uses the model: answering (the last position's logits, a prompt then token-by-token decoding) and
scoring for re-ranking (every position's logits).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

# About 140 tokens of the product's own kind of text, Chinese and English, so the batched prompt path runs.
PROMPT = ("资料：\n[1] 来源：手册.docx，§ 2.3 采样参数\n温度参数控制输出的随机程度：温度越低，回答越确定；"
          "温度越高，回答越多样。Top-p 只从累计概率达到 p 的候选词中采样。\n\n"
          "[2] 来源：guide.pdf, p. 4\nRetrieval-augmented generation first retrieves passages from a "
          "knowledge base, then asks the model to answer from them and to cite each passage it used as [n]. "
          "Quantized weights such as Q4_K_M keep a 1.5B model near 1.1 GB.\n\n问题：温度参数有什么作用？\n回答：")
DECODE_TOKENS = 24
SCORE_TOKENS = 64


def run(model: str, *, repack: bool, gpu_layers: int, threads: int) -> dict:
    import llama_cpp

    from rag.models.llm.llama import extra_buffer_types

    threads = threads or os.cpu_count() or 1
    layers = gpu_layers if llama_cpp.llama_supports_gpu_offload() else 0
    options = dict(n_threads=threads, n_threads_batch=threads, n_gpu_layers=layers, verbose=False)
    with extra_buffer_types(repack):
        started = time.perf_counter()
        llama = llama_cpp.Llama(model_path=model, n_ctx=1024, **options)
        loaded = time.perf_counter()
        tokens = llama.tokenize(PROMPT.encode("utf-8"), add_bos=True, special=False)
        # The prompt is read twice and the faster read counts: a shared machine's noise only ever slows.
        prompt_s = []
        for _ in range(2):
            llama.reset()
            began = time.perf_counter()
            llama.eval(tokens)
            prompt_s.append(time.perf_counter() - began)
        produced, began = 0, time.perf_counter()
        for _token in llama.generate(tokens, temp=0.0):
            produced += 1
            if produced >= DECODE_TOKENS:
                break
        done = time.perf_counter()
        llama.close()
        # The re-ranker's instance keeps every position's logits: a batched output layer, another code path.
        scorer = llama_cpp.Llama(model_path=model, n_ctx=512, logits_all=True, **options)
        scorer.eval(tokens[:SCORE_TOKENS])
        scorer.close()
    return {
        "load_s": loaded - started,
        "prompt_tokens": len(tokens),
        "prompt_s": min(prompt_s),
        "decode_tokens": produced,
        "decode_s": done - began,
        "gpu_layers": layers,
        "system_info": llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--repack", choices=("on", "off"), default="on")
    parser.add_argument("--gpu-layers", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args(argv)
    result = run(args.model, repack=args.repack == "on", gpu_layers=args.gpu_layers, threads=args.threads)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
