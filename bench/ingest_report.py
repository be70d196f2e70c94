"""The Markdown report of `bench.ingest`: tables from the contenders' results, and what they say."""

from __future__ import annotations

from pathlib import Path

from bench.common import RunInfo, ratio, table

CEILING_GOAL, LANGCHAIN_GOAL, REINGEST_GOAL = 0.90, 1.5, 50.0


def _corpus(files: list[str]) -> str:
    kinds: dict[str, int] = {}
    for f in files:
        kinds[Path(f).suffix.lower()] = kinds.get(Path(f).suffix.lower(), 0) + 1
    return ", ".join(f"{n} {k[1:]}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))


def report(files: list[str], r: dict, info: RunInfo, quick: bool) -> str:
    p, ceil, lc, cli = r["project"], r["ceiling"], r.get("langchain"), r["cli"]
    docs = len(files)
    p_cps, c_cps = p["chunks"] / p["seconds"], ceil["chunks"] / ceil["seconds"]
    sampled = (f"1 chunk in {ceil['every']} in document order, {ceil['chunks']} of {p['chunks']}"
               if ceil["every"] > 1 else f"all {ceil['chunks']} chunks")
    lines = ["*Smoke run (`--quick`): small corpus, numbers are indicative only.*\n"] if quick else []
    lines += [f"Corpus: {docs} files ({_corpus(files)}); {p['chunks']} project chunks"
              + (f", {lc['chunks']} LangChain chunks" if lc else "") + ". "
              f"Project settings: {p['workers']} parse workers, embedding batch {p['batch']}, 160-token chunks. "
              "Peak RSS covers each contender's whole process tree (parse workers included).",
              "",
              f"**Against the embedding ceiling** (`model.encode` alone on the project's own texts: {sampled}, "
              "one call so all are length-sorted; goal: the pipeline reaches ≥ 90 % of it)", "",
              table(["metric", "project `kb.add`", "ceiling: `model.encode` only", "project / ceiling"], [
                  ["chunks/s", f"{p_cps:.2f}", f"{c_cps:.2f}", f"{p_cps / c_cps:.0%}"],
                  ["peak RSS, MB", f"{p['peak_rss_mb']:.0f}", f"{ceil['peak_rss_mb']:.0f}",
                   ratio(p["peak_rss_mb"], ceil["peak_rss_mb"])],
              ])]
    if lc:
        l_dps, p_dps = lc["docs"] / lc["seconds"], docs / p["seconds"]
        l_cps = lc["chunks"] / lc["seconds"]
        lines += ["", "**Against LangChain** (loaders → RecursiveCharacterTextSplitter → HuggingFaceEmbeddings → "
                  "FAISS.from_documents, same e5 model; goal: ≥ 1.5× faster)", "",
                  table(["metric", "project", "LangChain", "project vs LangChain"], [
                      ["docs/s", f"{p_dps:.2f}", f"{l_dps:.2f}", ratio(p_dps, l_dps)],
                      ["chunks/s", f"{p_cps:.2f}", f"{l_cps:.2f}", ratio(p_cps, l_cps)],
                      ["chunks", p["chunks"], lc["chunks"], ratio(p["chunks"], lc["chunks"])],
                      ["characters embedded", f"{p['chars']:,}", f"{lc['chars']:,}", ratio(p["chars"], lc["chars"])],
                      ["wall time, s", f"{p['seconds']:.1f}", f"{lc['seconds']:.1f}",
                       ratio(lc["seconds"], p["seconds"]) + " faster"],
                      ["peak RSS, MB", f"{p['peak_rss_mb']:.0f}", f"{lc['peak_rss_mb']:.0f}",
                       ratio(p["peak_rss_mb"], lc["peak_rss_mb"])],
                  ])]
    again = p["again"]
    lc_again = f"{lc['seconds']:.1f} (no incremental mode: a full rebuild)" if lc else "–"
    lines += ["", "**Re-ingesting the unchanged corpus** (goal: ≥ 50× faster than the first ingest)", "",
              table(["run", "project, s", "speed-up over first ingest", "LangChain, s"], [
                  ["first ingest", f"{p['seconds']:.1f}", "1×", f"{lc['seconds']:.1f}" if lc else "–"],
                  [f"`kb.add` again, same process ({again['unchanged']} unchanged, {again['embedded']} embedded)",
                   f"{again['seconds']:.2f}", ratio(p["seconds"], again["seconds"], 0), lc_again],
                  ["`rag ingest` again, new process (interpreter start, imports and model load included)",
                   f"{cli['seconds']:.1f}", ratio(p["seconds"], cli["seconds"], 0), lc_again],
              ])]
    lines += ["", *stages(r), "", *turns(r), "", *explain(r), "", info.markdown()]
    return "\n".join(lines)


def stages(r: dict) -> list[str]:
    p, lc, s = r["project"], r.get("langchain"), r["ceiling"].get("sample")
    parts = p["parts"]
    other = p["seconds"] - sum(parts.values())
    rows = [[k, f"{v:.1f}", f"{v / p['seconds']:.0%}"] for k, v in parts.items()]
    rows.append(["other (hashing, vector look-ups, pool start-up)", f"{other:.1f}", f"{other / p['seconds']:.0%}"])
    out = ["**Where the time goes**", "", table(["project stage (main process)", "s", "share"], rows)]
    if lc:
        out += ["", table(["LangChain stage", "s", "share"],
                          [[k, f"{v:.1f}", f"{v / lc['seconds']:.0%}"] for k, v in lc["parts"].items()])]
    if s:
        out += ["", table([f"batching, {s['chunks']} of the project's chunks", "s", "chunks/s", "vs sorted"], [
            ["one `encode` call: all sorted by length", f"{s['sorted']:.1f}", f"{s['chunks'] / s['sorted']:.2f}",
             "1×"],
            ["batches of 32 in document order", f"{s['document_order']:.1f}",
             f"{s['chunks'] / s['document_order']:.2f}", ratio(s["document_order"], s["sorted"]) + " the time"],
        ])]
    return out


def turns(r: dict) -> list[str]:
    """Each part's seconds per contender: how much the machine's speed moved during the run."""
    names = [n for n in ("project", "ceiling", "langchain") if n in r]
    rows = [[i + 1, *(f"{r[n]['rounds'][i]:.1f}" for n in names)] for i in range(len(r["project"]["rounds"]))]
    return ["**Taking turns**: seconds per part (the contenders alternate part by part, so a change in the "
            "shared machine's load hits all of them alike)", "",
            table(["part", *names], rows)]


def explain(r: dict) -> list[str]:
    p, ceil, lc, cli = r["project"], r["ceiling"], r.get("langchain"), r["cli"]
    parts = p["parts"]
    embed, wait = parts.get("embed", 0.0), parts.get("wait for parse workers", 0.0)
    share = (p["chunks"] / p["seconds"]) / (ceil["chunks"] / ceil["seconds"])
    out = ["What the numbers say:",
           f"- The project reached {share:.0%} of the ceiling (goal {CEILING_GOAL:.0%}). Embedding took "
           f"{embed:.1f} s of its {p['seconds']:.1f} s. Files are parsed in worker processes while the main "
           f"process embeds the previous batch; it waited {wait:.1f} s for them in all."]
    if lc:
        speed = lc["seconds"] / p["seconds"]
        verdict = "meets" if speed >= LANGCHAIN_GOAL else "misses"
        lc_embed = lc["parts"]["embed + FAISS"]
        out.append(f"- Against LangChain the project is {speed:.2f}× as fast, which {verdict} the "
                   f"{LANGCHAIN_GOAL}× goal. Embedding is {embed / p['seconds']:.0%} of the project's time and "
                   f"{lc_embed / lc['seconds']:.0%} of LangChain's (loaders {lc['parts']['loaders']:.1f} s, "
                   f"splitter {lc['parts']['splitter']:.1f} s): with the same model on the same cores, the "
                   "stages around embedding are all either side can win, and they are a few percent. What "
                   f"else differs is how much text each embeds: {p['chars']:,} characters in {p['chunks']} "
                   f"chunks for the project, {lc['chars']:,} in {lc['chunks']} for LangChain (both overlap "
                   "32 tokens).")
    again = p["again"]
    out.append(f"- Re-ingest: unchanged files are recognised by their sha256 and neither parsed nor embedded. In "
               f"the same process that takes {again['seconds']:.2f} s; as a new `rag ingest` command "
               f"{cli['seconds']:.1f} s including Python's start and imports; the embedding model is not loaded "
               f"when nothing needs embedding ({p['seconds'] / cli['seconds']:.0f}× faster than the first ingest).")
    return out
