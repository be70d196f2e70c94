"""The answer prompt: numbered passages with their locators, rules, and one worked example.

A 1.5B model follows an example (a real prior chat turn) and a one-line citation reminder after the question
far better than rules in the system prompt; the reminder does not repeat the refusal rule, which made the model
refuse answerable questions. Passages are numbered by rank but written best-last, so the one most likely to
hold the answer sits next to the question, where a small model reads most closely. They are fitted to the
context window by counting tokens with the model's own tokenizer.

Measurements: BENCHMARKS.md §7, Answer prompt.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ingest.types import CELL_SEPARATOR
from rag.errors import PromptTooLong
from rag.language import REFUSAL_EN, REFUSAL_ZH, Question, reminder
from rag.models import Message
from rag.types import Hit

SYSTEM = (
    "你是一个严谨的知识库问答助手。\n"
    "1. 只根据用户给出的编号资料回答，不要使用资料以外的知识。\n"
    "2. 在每句话的句号前用方括号写出依据的资料编号，例如 [1] 或 [2][3]；编号只能是资料中真实存在的数字。\n"
    "3. 用提问的语言回答：中文问题用中文回答，English questions are answered in English.\n"
    f"4. 如果资料中没有答案，只回答“{REFUSAL_ZH}”（英文问题回答 \"{REFUSAL_EN}\"）。\n"
    "5. 回答简洁准确，一般一到三句话。"
)

_EXAMPLE_PASSAGES = (
    "[1] 来源：地理手册.pdf，p. 3\n珠穆朗玛峰海拔 8848.86 米，位于中国与尼泊尔边境。\n\n"
    "[2] 来源：河流.docx，§ 长江\n长江全长约 6300 公里，是中国第一长河。"
)
EXAMPLE = [
    {"role": "user", "content": f"资料：\n{_EXAMPLE_PASSAGES}\n\n问题：珠穆朗玛峰有多高？长江有多长？"},
    {"role": "assistant", "content": "珠穆朗玛峰海拔 8848.86 米 [1]。长江全长约 6300 公里 [2]。"},
]


def passage_body(hit: Hit) -> str:
    """The passage as the model reads it. A table chunk's rows are written as "column：value" pairs, so a
    small model reading row 4 does not have to count cells back to the header to know which number is which."""
    lines = hit.text.split("\n")
    at = next((i for i, line in enumerate(lines) if CELL_SEPARATOR in line), None) if hit.rows else None
    if at is None:
        return hit.text
    columns, rows = lines[at].split(CELL_SEPARATOR), lines[at + 1:]
    # A table chunk is a header line (2+ named columns) and at most one line per row of its range (empty
    # rows are skipped); anything else, such as a one-row sheet, goes in as it is.
    if sum(1 for c in columns if c.strip()) < 2 or not rows or len(rows) > hit.rows[1] - hit.rows[0] + 1:
        return hit.text
    out = lines[:at]
    for line in rows:
        cells = line.split(CELL_SEPARATOR)  # trailing empty cells are not written, so a row may be shorter
        if len(cells) < 2 or len(cells) > len(columns):  # a note under the table, or a ragged row
            out.append(line)
        else:
            out.append("；".join(f"{column}：{cell}" for column, cell in zip(columns, cells) if cell.strip()))
    return "\n".join(out)


def passage_header(number: int, hit: Hit) -> str:
    locator = hit.locator
    return f"[{number}] 来源：{Path(hit.source).name}" + (f"，{locator}" if locator else "")


def user_message(question: Question, passages: list[str]) -> str:
    return "资料：\n" + "\n\n".join(passages) + f"\n\n问题：{question.text}\n{reminder(question)}"


def build_messages(question: Question, hits: list[Hit], *, count_tokens: Callable[[str], int], n_ctx: int,
                   max_tokens: int) -> tuple[list[Message], list[Hit]]:
    """The chat messages and the hits that made it into them, numbered 1..n in that order."""
    fixed = SYSTEM + "".join(m["content"] for m in EXAMPLE) + user_message(question, [])
    # Chat templates add a few tokens per message; 64 covers Qwen's and Llama's.
    budget = n_ctx - max_tokens - count_tokens(fixed) - 64
    if budget <= 0:
        raise PromptTooLong(f"the question leaves no room for passages in n_ctx={n_ctx}; "
                            f"raise n_ctx or lower max_tokens ({max_tokens})")
    passages: list[str] = []
    used: list[Hit] = []
    for hit in hits:
        block = f"{passage_header(len(used) + 1, hit)}\n{passage_body(hit)}"
        cost = count_tokens(block) + 2
        if cost > budget:
            if budget < 48:
                break
            # Keep the head of a passage that does not fit whole: it usually holds its topic sentence.
            keep = max(1, int(len(block) * budget / cost) - 8)
            block, cost = block[:keep], budget
        passages.append(block)
        used.append(hit)
        budget -= cost
    # The best passage goes last, next to the question, and keeps the number [1]: more right answers and more
    # precise citations than rank order (BENCHMARKS.md §7, Answer prompt).
    messages = [{"role": "system", "content": SYSTEM}, *EXAMPLE,
                {"role": "user", "content": user_message(question, passages[::-1])}]
    return messages, used
