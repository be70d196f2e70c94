"""The commands that put questions to a knowledge base: search, ask (one question or interactively), eval."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from rag.cli.common import errors_to_exit, kb_option, open_kb
from rag.errors import RagError


@click.command()
@click.argument("query")
@click.option("-k", "k", default=5, show_default=True, help="How many passages.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "keyword"]), default="hybrid", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@kb_option
@errors_to_exit
def search(query, k, mode, as_json, kb_dir):
    """Show the passages that best match QUERY.

    Example: rag search "温度参数有什么作用？" -k 3
    """
    with open_kb(kb_dir) as kb:
        hits = kb.search(query, k, mode=mode)
    if as_json:
        click.echo(json.dumps([asdict(h) for h in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        click.echo("No passages found.")
    for i, hit in enumerate(hits, 1):
        click.echo(click.style(f"[{i}] {Path(hit.source).name}  {hit.locator}  (score {hit.score:.4f}, "
                               f"cosine {hit.dense:.3f})" if hit.dense is not None else
                               f"[{i}] {Path(hit.source).name}  {hit.locator}", bold=True))
        click.echo("    " + hit.text.replace("\n", "\n    ")[:600])


@click.command()
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the answer and citations as JSON (no streaming).")
@kb_option
@errors_to_exit
def ask(question, as_json, kb_dir):
    """Answer QUESTION from the KB, citing sources as [n]. Without QUESTION, ask interactively.

    Example: rag ask "什么是RAG？"
    """
    with open_kb(kb_dir) as kb:
        if question:
            _ask_one(kb, question, as_json)
            return
        click.echo(f"Knowledge base {kb.path}: {len(kb.documents())} documents. Empty line or Ctrl-D to quit.")
        while True:
            try:
                question = input("\n问题 / question> ").strip()
            except (EOFError, KeyboardInterrupt):
                break
            if not question:
                break
            try:
                _ask_one(kb, question, False)
            except RagError as exc:
                click.echo(f"Error: {exc}", err=True)


def _ask_one(kb, question: str, as_json: bool) -> None:
    if as_json:
        answer = kb.ask(question)
        payload = asdict(answer)
        payload.pop("hits")
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    stream = kb.stream_ask(question)
    streamed = []
    for piece in stream:
        streamed.append(piece)
        click.echo(piece, nl=False)
    answer = stream.answer
    click.echo()
    if answer.refused and answer.draft and answer.text != answer.draft:
        click.echo(click.style("\nNot supported by the documents; the answer is:\n", fg="yellow") + answer.text)
    elif answer.text != "".join(streamed).strip():
        # Attribution moved or added [n] markers; show the checked version too.
        click.echo(click.style("\nWith checked citations:\n", dim=True) + answer.text)
    if answer.citations:
        click.echo(click.style("Sources:", bold=True))
        for c in answer.citations:
            click.echo(f"  [{c.number}] {Path(c.source).name}  {c.locator}")
            if c.quote:
                click.echo(f"      “{c.quote[:200]}”")
    t = answer.timings
    click.echo(click.style(f"({t.get('retrieval', 0):.2f} s retrieval, "
                           f"{t.get('first_token', 0):.2f} s first token, {t.get('total', 0):.2f} s total)", dim=True))


@click.command(name="eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--answers/--no-answers", default=False, help="Also generate answers and check them (slow).")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "keyword"]), default="hybrid", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@kb_option
@errors_to_exit
def eval_(file, answers, mode, as_json, kb_dir):
    """Measure retrieval (recall@1/5, MRR) and, with --answers, answer quality over a JSONL file.

    Each line: {"question": ..., "answerable": true, "evidence": ["exact text"], "keywords": ["term"]}.
    Example: rag eval data/eval/dev.jsonl --answers
    """
    from rag.evaluate import evaluate, format_report, load_questions

    with open_kb(kb_dir) as kb:
        result = evaluate(kb, load_questions(Path(file)), answers=answers, mode=mode)
    click.echo(json.dumps(asdict(result), ensure_ascii=False, indent=2) if as_json else format_report(result))
